"""One call request in, one recorded decision out: the spine every entry point goes through.

Theory of operation: the checker takes the settings in force when the call arrives (a reload
never changes a call in flight), normalises the dialled string with the campaign's own prefix
rule, gathers only the facts the rules need (list snapshot and listing, consent and objection
records for this advertiser), lets the pure `policy.decide` rule, and records the decision before
anyone sees it. Every step that can fail or stall has a deadline; any failure while gathering
facts for a commercial call is an `internal_error` block, and an ALLOW whose record cannot be
committed in time becomes a BLOCK: no call goes out without its proof. A decision answered
without a committed record (always a BLOCK, answered without a decision id) is handed back to
the log as a late record, so that every answer given reaches the chain (docs/audit.md).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import NamedTuple, Protocol

import structlog

from gatekeeper.audit import DecisionEntry, log_decision
from gatekeeper.check.campaign_ids import resolve
from gatekeeper.common import ActsUnavailableError, GatekeeperError, Pseudonyms, now
from gatekeeper.config import Settings
from gatekeeper.dncm import ListAnswer
from gatekeeper.rules import (
    Act,
    ActKind,
    BelgianNumber,
    Campaign,
    Decision,
    Facts,
    ForeignNumber,
    Normalised,
    Purpose,
    Reason,
    SnapshotInfo,
    Verdict,
    decide,
    normalise,
    recorded_dialled,
)

FACTS_DEADLINE_S = 0.5
"""How long the list and the acts may take to answer before a commercial call is blocked."""
RECORD_DEADLINE_S = 1.0
"""How long the decision log may take to commit before an ALLOW becomes a BLOCK."""
CHECK_DEADLINE_S = FACTS_DEADLINE_S + RECORD_DEADLINE_S
"""The longest a check takes with the default deadlines; the AGI server's handler deadline must
be longer, so that the checker's own fail-closed answer (recorded when it can be) is the one
Asterisk gets."""

log = structlog.get_logger()


class ListLookup(Protocol):
    """The read side of the local DNCM index."""

    def snapshot(self) -> SnapshotInfo | None:
        """The snapshot lookups are answered from, or None when no list was imported."""

    def lookup(self, key: int) -> ListAnswer:
        """The registration date of a number (or None) with the snapshot that answered."""


class ActLookup(Protocol):
    """The consent and objection records of one advertiser."""

    async def acts_for(self, advertiser: str, e164: str) -> tuple[tuple[Act, ...], tuple[Act, ...]]:
        """The (objections, consents) in force for this advertiser and number."""


class ActsAtHand(Protocol):
    """Consent and objection records already in memory (a scrub's preloaded acts)."""

    def acts_at_hand(self, advertiser: str, e164: str) -> tuple[tuple[Act, ...], tuple[Act, ...]]:
        """The (objections, consents) in force for this advertiser and number."""


class DecisionRecorder(Protocol):
    """The decision log's write side."""

    async def record(self, entry: DecisionEntry) -> str:
        """Commit one decision; returns its id once durable."""

    def record_late(self, entry: DecisionEntry, why: str) -> bool:
        """Queue the record of a decision answered before it could be committed; False if lost."""


@dataclass(frozen=True, slots=True)
class CallRequest:
    """A question: may this dialled string be called for this campaign."""

    dialled: str
    campaign: str
    source: str
    channel: str = ""
    uniqueid: str = ""
    linkedid: str = ""
    attempt: int = 0
    """The how-manieth check of the same call (its linked id), from 1; 0 when not counted."""
    pbx: str = ""
    """The PBX that asked, when its AGI URL names one (`check?pbx=${SYSTEMNAME}`)."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """A decision as answered, with what it was based on and its record id."""

    at: datetime
    request: CallRequest
    campaign: Campaign | None
    number: Normalised
    decision: Decision
    snapshot: SnapshotInfo | None
    decision_id: str | None

    @property
    def e164(self) -> str | None:
        """The canonical number, when the dialled string had one."""
        if isinstance(self.number, BelgianNumber | ForeignNumber):
            return self.number.e164
        return None


class Checker:
    """Decides and records calls against the settings in force."""

    def __init__(  # noqa: PLR0913 - its collaborators, then its keyword-only options
        self,
        settings: Callable[[], Settings],
        index: ListLookup,
        acts: ActLookup,
        recorder: DecisionRecorder,
        *,
        clock: Callable[[], datetime] = now,
        pseudonyms: Pseudonyms | None = None,
        facts_deadline_s: float = FACTS_DEADLINE_S,
        record_deadline_s: float = RECORD_DEADLINE_S,
    ) -> None:
        """`pseudonyms` name numbers in the `decision` log line; without them it names none."""
        self._settings = settings
        self._index = index
        self._acts = acts
        self._recorder = recorder
        self._clock = clock
        self._pseudonyms = pseudonyms
        self._facts_deadline_s = facts_deadline_s
        self._record_deadline_s = record_deadline_s
        self._host = socket.gethostname()
        self.record_failure: str | None = None

    async def check(self, request: CallRequest) -> CheckResult:
        """Decide one call and record it; the result is safe to answer."""
        return await self._record(await self.decide_only(request))

    async def decide_only(self, request: CallRequest) -> CheckResult:
        """Decide one call exactly as `check` does, without recording it (`decision_id` None).

        For callers that keep their own proof of many decisions at once, such as a list scrub;
        a call is only ever placed on a recorded `check`.
        """
        settings = self._settings()
        now = self._clock()
        resolved = resolve(settings, request.campaign)
        campaign = resolved.campaign
        number = normalise(request.dialled, strip_prefix=campaign.strip_prefix if campaign else "")
        snapshot: SnapshotInfo | None = None
        try:
            async with asyncio.timeout(self._facts_deadline_s):
                today = now.date()
                facts = self._list_facts(settings, resolved.name, campaign, number, today)
                if isinstance(facts, _ActsWanted):
                    wanted = facts
                    acts = await self._acts.acts_for(wanted.campaign.advertiser, wanted.number.e164)
                    facts = _facts(settings, resolved.name, today, wanted, acts)
            snapshot = facts.snapshot
            decision = decide(facts)
        except ActsUnavailableError as err:
            log.error("acts_unavailable", error=str(err), campaign=request.campaign)
            decision = Decision(Reason.ACTS_UNAVAILABLE, str(err))
        except Exception as err:  # noqa: BLE001 - any failure to gather facts blocks, recorded
            log.error("facts_unavailable", error=repr(err), campaign=request.campaign)
            decision = Decision(Reason.INTERNAL_ERROR, f"facts unavailable: {err!r}")
        return CheckResult(now, request, campaign, number, decision, snapshot, None)

    def decide_at_hand(self, request: CallRequest, acts: ActsAtHand) -> CheckResult:
        """`decide_only` for facts already in memory: a pinned list and preloaded acts.

        The same steps in the same order (normaliser, list facts, acts, `policy.decide`, any
        failure an `internal_error` block), without an await: nothing here can wait, so there
        is nothing for a deadline to cut short, and a batch of rows never hands the event
        loop a timer per row.
        """
        settings = self._settings()
        now = self._clock()
        resolved = resolve(settings, request.campaign)
        campaign = resolved.campaign
        number = normalise(request.dialled, strip_prefix=campaign.strip_prefix if campaign else "")
        snapshot: SnapshotInfo | None = None
        try:
            today = now.date()
            facts = self._list_facts(settings, resolved.name, campaign, number, today)
            if isinstance(facts, _ActsWanted):
                wanted = facts
                acts_now = acts.acts_at_hand(wanted.campaign.advertiser, wanted.number.e164)
                facts = _facts(settings, resolved.name, today, wanted, acts_now)
            snapshot = facts.snapshot
            decision = decide(facts)
        except Exception as err:  # noqa: BLE001 - any failure to gather facts blocks
            log.error("facts_unavailable", error=repr(err), campaign=request.campaign)
            decision = Decision(Reason.INTERNAL_ERROR, f"facts unavailable: {err!r}")
        return CheckResult(now, request, campaign, number, decision, snapshot, None)

    def _list_facts(
        self,
        settings: Settings,
        campaign_name: str,
        campaign: Campaign | None,
        number: Normalised,
        today: date,
    ) -> Facts | _ActsWanted:
        """The facts, or what the list said of a number whose acts are still to be read.

        The acts are read only for a Belgian number on a commercial call, with a list.
        """
        if campaign is None or campaign.purpose is Purpose.INFORMATIONAL:
            return _facts(settings, campaign_name, today, _NothingListed(campaign, number, None))
        snapshot = self._index.snapshot()
        if not isinstance(number, BelgianNumber) or snapshot is None:
            listed = _NothingListed(campaign, number, snapshot)
            return _facts(settings, campaign_name, today, listed)
        return _ActsWanted(campaign, number, self._index.lookup(number.key))

    async def _record(self, result: CheckResult) -> CheckResult:
        entry = _entry_of(result, self._host)
        try:
            async with asyncio.timeout(self._record_deadline_s):
                decision_id = await self._recorder.record(entry)
        except (GatekeeperError, TimeoutError, OSError) as err:
            why = _failure_text(err, self._record_deadline_s)
            self.record_failure = why
            answered = result
            if result.decision.verdict is Verdict.ALLOW:
                blocked = Decision(Reason.INTERNAL_ERROR, f"decision log unavailable: {why}")
                answered = replace(result, decision=blocked)
            queued = self._recorder.record_late(_entry_of(answered, self._host), why)
            log.error(
                "decision_log_unavailable",
                error=why,
                campaign=result.request.campaign,
                uniqueid=result.request.uniqueid,
                late_record="queued" if queued else "refused",
            )
            return answered
        self.record_failure = None
        log_decision(entry, decision_id, self._pseudonyms)
        return CheckResult(
            result.at,
            result.request,
            result.campaign,
            result.number,
            result.decision,
            result.snapshot,
            decision_id,
        )


class _NothingListed(NamedTuple):
    """Facts that need no acts: no campaign, an informational one, no number or no list."""

    campaign: Campaign | None
    number: Normalised
    snapshot: SnapshotInfo | None


class _ActsWanted(NamedTuple):
    """A Belgian number on a commercial call, looked up: its acts are still to be read."""

    campaign: Campaign
    number: BelgianNumber
    answer: ListAnswer


def _facts(
    settings: Settings,
    campaign_name: str,
    today: date,
    found: _NothingListed | _ActsWanted,
    acts: tuple[tuple[Act, ...], tuple[Act, ...]] = ((), ()),
) -> Facts:
    """The facts, built once: what the list and the acts say, with the settings in force."""
    if isinstance(found, _NothingListed):
        snapshot, listing = found.snapshot, None
    else:
        listed_on = found.answer.listing_date
        snapshot = found.answer.snapshot
        listing = Act(ActKind.LISTING, listed_on) if listed_on else None
    objections, consents = acts
    return Facts(
        campaign_name=campaign_name,
        campaign=found.campaign,
        number=found.number,
        today=today,
        licence_valid_until=settings.licensee.licence_valid_until,
        max_age_days=settings.dncm.max_age_days,
        snapshot=snapshot,
        listing=listing,
        objections=objections,
        consents=consents,
    )


def _failure_text(err: BaseException, deadline_s: float) -> str:
    """Why a decision could not be recorded in time, never empty."""
    if isinstance(err, TimeoutError):
        return f"no commit within {deadline_s:g} s (decision log locked or slow)"
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else repr(err)


def _entry_of(result: CheckResult, host: str) -> DecisionEntry:
    request = result.request
    resolved = result.campaign.name if result.campaign else request.campaign
    return DecisionEntry(
        at=result.at,
        source=request.source,
        campaign=resolved,
        purpose=result.campaign.purpose.value if result.campaign else None,
        advertiser=result.campaign.advertiser if result.campaign else None,
        dialled=recorded_dialled(request.dialled),
        e164=result.e164,
        verdict=result.decision.verdict.value,
        reason=result.decision.reason.value,
        rule=result.decision.rule,
        snapshot=result.snapshot,
        evidence=result.decision.weighed,
        channel=request.channel,
        uniqueid=request.uniqueid,
        linkedid=request.linkedid,
        host=host,
        dialler_campaign=request.campaign if request.campaign != resolved else None,
        attempt=request.attempt,
        pbx=request.pbx,
    )
