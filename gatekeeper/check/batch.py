"""Many rows, one campaign, one moment: `Checker.decide_at_hand`'s decision without its objects.

Theory of operation: a scrub asks the same question a million times with everything fixed but the
dialled string: the settings, the campaign, the clock, the pinned list snapshot, the preloaded
acts. `BatchDecider` resolves the campaign, reads the snapshot and judges what does not depend on
the number (unknown or informational campaign, licence, list missing or stale) once, by asking
the real `policy.decide`. A row then costs the normaliser, its share of one list query per block
of rows, and one dict lookup of its acts. The common answers, a Belgian number without acts
either not listed or listed, are given as `NOT_LISTED` or `LISTED` without building `Facts` or a
`Decision` (their rule texts name the number or the listing day, and a scrub writes no rule). A
number with acts is decided by `policy.decide` on the same `Facts` the checker builds. An invalid
or foreign number's decision depends only on its refusal (or on being foreign): it is asked of
the checker once per kind and reused. Anything else, and any row whose facts fail to read, goes
through `Checker.decide_at_hand` itself, so that every failure is the checker's (the same
`internal_error` block and log line). The tests hold every row's answer equal to
`decide_at_hand`'s and `decide_only`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Protocol

from gatekeeper.audit import DecisionEntry
from gatekeeper.check.campaign_ids import resolve
from gatekeeper.check.checker import (
    ActsAtHand,
    CallRequest,
    Checker,
    CheckResult,
    ListLookup,
)
from gatekeeper.common import GatekeeperError
from gatekeeper.config import Settings
from gatekeeper.dncm import ListAnswer
from gatekeeper.rules import (
    Act,
    ActKind,
    BelgianNumber,
    Decision,
    Facts,
    ForeignNumber,
    InvalidNumber,
    NumberClass,
    Purpose,
    Reason,
    Refusal,
    SnapshotInfo,
    decide,
    normalise,
)

RowDecision = tuple[Reason, str | None, Decision | None]
"""A row's reason, its E.164 number (None when invalid), and its decision. The decision is None
for the two answers a fresh list gives a number without acts, built only on demand since a scrub
writes neither's rule: `NOT_LISTED` with nothing weighed, and `LISTED` with the listing alone
weighed and decisive."""

_NO_ACTS: tuple[tuple[Act, ...], tuple[Act, ...]] = ((), ())
_PROBE = BelgianNumber("+3225000000", NumberClass.GEOGRAPHIC)
"""Any Belgian number: what is judged once (licence, list freshness) does not look at it."""


BLOCK_ROWS = 500
"""Rows a scrub hands `decide_all` at once: their list lookups are one query."""


class BlockLookup(ListLookup, Protocol):
    """A pinned list snapshot that also answers many numbers in one query."""

    def lookup_many(self, keys: Sequence[int]) -> Mapping[int, ListAnswer]:
        """The answers of the listed numbers among `keys`; an unlisted key is absent."""


class _ActsOnHand:
    """`ActLookup` over acts at hand, for the checker that answers the rows not taken here."""

    def __init__(self, acts: ActsAtHand) -> None:
        self._acts = acts

    async def acts_for(self, advertiser: str, e164: str) -> tuple[tuple[Act, ...], tuple[Act, ...]]:
        """The acts at hand for this advertiser and number."""
        return self._acts.acts_at_hand(advertiser, e164)


class _NeverRecorded:
    """A batch decides and never records: its caller keeps one proof for all of its rows."""

    async def record(self, entry: DecisionEntry) -> str:
        """Refused: never called, since the batch only decides."""
        del entry
        raise GatekeeperError("a batch decision is not recorded one by one")

    def record_late(self, entry: DecisionEntry, why: str) -> bool:
        """Refused, as `record`."""
        del entry, why
        return False


class BatchDecider:
    """Decides dialled strings for one campaign as of one moment, with facts at hand."""

    def __init__(  # noqa: PLR0913 - the checker's collaborators, then what the batch fixes
        self,
        settings: Settings,
        index: BlockLookup,
        acts: ActsAtHand,
        campaign: str,
        *,
        at: datetime,
        source: str,
    ) -> None:
        """`index` must be pinned: its snapshot is read once and taken for every row."""
        self._checker = Checker(
            lambda: settings, index, _ActsOnHand(acts), _NeverRecorded(), clock=lambda: at
        )
        self._acts = acts
        self._campaign_id = campaign
        self._source = source
        self._settings = settings
        resolved = resolve(settings, campaign)
        self._name = resolved.name
        self._campaign = resolved.campaign
        self._prefix = resolved.campaign.strip_prefix if resolved.campaign else ""
        self._advertiser = resolved.campaign.advertiser if resolved.campaign else ""
        self._today: date = at.date()
        self._lookup: Callable[[int], ListAnswer] = index.lookup
        self._lookup_many: Callable[[list[int]], Mapping[int, ListAnswer]] = index.lookup_many
        self._snapshot: SnapshotInfo | None = None
        self._unlisted: ListAnswer | None = None
        self._by_kind: dict[Refusal | str, Decision] = {}
        self._fast = self._judge_once(index)

    def _judge_once(self, index: BlockLookup) -> bool:
        """Whether rows may take the fast path: a commercial campaign, its list fresh, licensed."""
        campaign = self._campaign
        if campaign is None or campaign.purpose is not Purpose.COMMERCIAL:
            return False
        try:
            self._snapshot = index.snapshot()
        except Exception:  # noqa: BLE001 - every row then fails as the checker fails it
            return False
        if self._snapshot is None:
            return False
        self._unlisted = ListAnswer(self._snapshot, None)
        probe = self._facts(_PROBE, self._snapshot, None, ((), ()))
        return decide(probe).reason is Reason.NOT_LISTED

    def decide(self, dialled: str) -> RowDecision:
        """The decision `Checker.decide_at_hand` gives this dialled string for the campaign."""
        if not self._fast:
            return self._by_checker(dialled)
        number = normalise(dialled, strip_prefix=self._prefix)
        if not isinstance(number, BelgianNumber):
            return self._not_belgian(dialled, number)
        e164 = number.e164
        try:
            answer = self._lookup(number.key)
            acts = self._acts.acts_at_hand(self._advertiser, e164)
        except Exception:  # noqa: BLE001 - the checker fails the row as it does live
            return self._by_checker(dialled)
        if acts == _NO_ACTS and answer.snapshot is self._snapshot:
            return Reason.NOT_LISTED if answer.listing_date is None else Reason.LISTED, e164, None
        return self._weigh(dialled, number, answer, acts)

    def decide_all(self, dialled: Sequence[str]) -> list[RowDecision]:
        """`decide` of each string, the list asked for all of them in one query.

        At most `BLOCK_ROWS` strings (one SQL variable each). When that query fails, each row is
        decided alone, so that its failure is the checker's.
        """
        if not self._fast:
            return [self._by_checker(row) for row in dialled]
        prefix, unlisted, snapshot = self._prefix, self._unlisted, self._snapshot
        assert unlisted is not None
        numbers = [normalise(row, strip_prefix=prefix) for row in dialled]
        try:
            found = self._lookup_many([n.key for n in numbers if isinstance(n, BelgianNumber)])
        except Exception:  # noqa: BLE001 - decided row by row, failing as the checker fails
            return [self.decide(row) for row in dialled]
        listed = {f"+{key}": answer for key, answer in found.items()}
        acts_at_hand, advertiser = self._acts.acts_at_hand, self._advertiser
        decided: list[RowDecision] = []
        append = decided.append
        for row, number in zip(dialled, numbers, strict=True):
            if not isinstance(number, BelgianNumber):
                append(self._not_belgian(row, number))
                continue
            e164 = number.e164
            try:
                acts = acts_at_hand(advertiser, e164)
            except Exception:  # noqa: BLE001 - the checker fails the row as it does live
                append(self._by_checker(row))
                continue
            answer = listed.get(e164)
            if acts == _NO_ACTS:
                if answer is None:
                    append((Reason.NOT_LISTED, e164, None))
                    continue
                if answer.snapshot is snapshot and answer.listing_date is not None:
                    append((Reason.LISTED, e164, None))
                    continue
            append(self._weigh(row, number, answer or unlisted, acts))
        return decided

    def _weigh(
        self,
        dialled: str,
        number: BelgianNumber,
        answer: ListAnswer,
        acts: tuple[tuple[Act, ...], tuple[Act, ...]],
    ) -> RowDecision:
        """A Belgian number with a listing or acts: `policy.decide` on the checker's facts."""
        try:
            decision = decide(self._facts(number, answer.snapshot, answer.listing_date, acts))
        except Exception:  # noqa: BLE001 - the checker fails the row as it does live
            return self._by_checker(dialled)
        return decision.reason, number.e164, decision

    def _not_belgian(self, dialled: str, number: ForeignNumber | InvalidNumber) -> RowDecision:
        """Asked of the checker once per refusal (or once for foreign numbers), then reused."""
        kind: Refusal | str = number.refusal if isinstance(number, InvalidNumber) else "foreign"
        known = self._by_kind.get(kind)
        if known is None:
            return self._by_checker(dialled, kind)
        return known.reason, number.e164 if isinstance(number, ForeignNumber) else None, known

    def _by_checker(self, dialled: str, kind: Refusal | str | None = None) -> RowDecision:
        result: CheckResult = self._checker.decide_at_hand(
            CallRequest(dialled, self._campaign_id, self._source), self._acts
        )
        decision = result.decision
        if kind is not None and decision.reason is not Reason.INTERNAL_ERROR:
            self._by_kind[kind] = decision
        return decision.reason, result.e164, decision

    def _facts(
        self,
        number: BelgianNumber,
        snapshot: SnapshotInfo | None,
        listed_on: date | None,
        acts: tuple[tuple[Act, ...], tuple[Act, ...]],
    ) -> Facts:
        settings = self._settings
        objections, consents = acts
        return Facts(
            campaign_name=self._name,
            campaign=self._campaign,
            number=number,
            today=self._today,
            licence_valid_until=settings.licensee.licence_valid_until,
            max_age_days=settings.dncm.max_age_days,
            snapshot=snapshot,
            listing=Act(ActKind.LISTING, listed_on) if listed_on else None,
            objections=objections,
            consents=consents,
        )
