"""The decision: pure, no IO. Facts in, a verdict with its reason and evidence out.

Theory of operation: the rules are checked in the order docs/rules.md gives, first match wins:
unknown campaign, informational campaign, licence, invalid number, foreign number, list missing
or stale, then the subscriber's latest act for this advertiser among listing, objection and
consent. The list gives a registration as a date without a time, so acts are compared by day,
and by time only when both carry one; a tie always goes against consent.

The last step in detail. The best consent is the latest one (on its day, a timed consent beats
an untimed one, since it beats strictly more). It allows the call only if it is known to come
after every act against the call. Otherwise the acts it does not beat are the ones that block,
and the latest of those names the reason; on a same-day tie between the listing and an
objection the objection names it, because it is the advertiser's own record. A consent dated
after the decision day has not been given yet: it is weighed but never allows a call. A list
snapshot dated more than a day after the decision day means a wrong clock or a wrong file, and
blocks like a stale list.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, time

from gatekeeper.common.clock import BRUSSELS
from gatekeeper.rules.numbers import BelgianNumber, ForeignNumber, InvalidNumber, Normalised


class Purpose(enum.StrEnum):
    """Why a campaign calls: only commercial calls are governed by the list."""

    COMMERCIAL = "commercial"
    INFORMATIONAL = "informational"


class ForeignPolicy(enum.StrEnum):
    """What a campaign does with numbers outside Belgium."""

    ALLOW = "allow"
    BLOCK = "block"


class Verdict(enum.StrEnum):
    """May the call be placed."""

    ALLOW = "allow"
    BLOCK = "block"


class Reason(enum.StrEnum):
    """The contract's reason codes."""

    INFORMATIONAL_CAMPAIGN = "informational_campaign"
    NOT_LISTED = "not_listed"
    CONSENT_AFTER_LISTING = "consent_after_listing"
    CONSENT_AFTER_OBJECTION = "consent_after_objection"
    FOREIGN_NUMBER_ALLOWED = "foreign_number_allowed"
    LISTED = "listed"
    LISTING_AFTER_CONSENT = "listing_after_consent"
    OBJECTION = "objection"
    UNKNOWN_CAMPAIGN = "unknown_campaign"
    INVALID_NUMBER = "invalid_number"
    FOREIGN_NUMBER_BLOCKED = "foreign_number_blocked"
    LIST_MISSING = "list_missing"
    LIST_STALE = "list_stale"
    LICENCE_EXPIRED = "licence_expired"
    INTERNAL_ERROR = "internal_error"
    ACTS_UNAVAILABLE = "acts_unavailable"

    @property
    def verdict(self) -> Verdict:
        """The verdict this reason always carries."""
        return Verdict.ALLOW if self in _ALLOW_REASONS else Verdict.BLOCK


_ALLOW_REASONS = frozenset(
    {
        Reason.INFORMATIONAL_CAMPAIGN,
        Reason.NOT_LISTED,
        Reason.CONSENT_AFTER_LISTING,
        Reason.CONSENT_AFTER_OBJECTION,
        Reason.FOREIGN_NUMBER_ALLOWED,
    }
)


@dataclass(frozen=True, slots=True)
class Campaign:
    """A configured campaign, as the policy needs it."""

    name: str
    purpose: Purpose
    advertiser: str
    foreign_numbers: ForeignPolicy = ForeignPolicy.BLOCK
    strip_prefix: str = ""


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """The list snapshot a decision was based on."""

    snapshot_id: int
    list_date: date
    sha256: str
    rows: int


class ActKind(enum.StrEnum):
    """The subscriber's acts that weigh on a commercial call."""

    LISTING = "listing"
    OBJECTION = "objection"
    CONSENT = "consent"


@dataclass(frozen=True, slots=True)
class Act:
    """One dated act: a list registration, a company-level objection or a consent."""

    kind: ActKind
    day: date
    at: time | None = None
    record_id: str = ""

    def is_later_than(self, other: Act) -> bool:
        """Whether this act is known to come after `other` (same day without both times: no).

        Times are Belgian wall-clock times; in the hour that repeats when summer time ends,
        a time does not say which of the two it was, so such a time orders like no time.
        """
        if self.day != other.day:
            return self.day > other.day
        if self.at is None or other.at is None:
            return False
        if _in_repeated_hour(self.day, self.at) or _in_repeated_hour(other.day, other.at):
            return False
        return self.at > other.at


def _in_repeated_hour(day: date, at: time) -> bool:
    """Whether `at` on `day` happened twice in Brussels (the autumn clock change)."""
    first = datetime.combine(day, at, BRUSSELS)
    second = datetime.combine(day, at, BRUSSELS).replace(fold=1)
    return first.utcoffset() != second.utcoffset()


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything a decision is based on, gathered before `decide` is called."""

    campaign_name: str
    campaign: Campaign | None
    number: Normalised
    today: date
    licence_valid_until: date
    max_age_days: int
    snapshot: SnapshotInfo | None
    listing: Act | None = None
    objections: tuple[Act, ...] = ()
    consents: tuple[Act, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    """A verdict, its reason code, the rule applied, the acts weighed and the one that decided."""

    reason: Reason
    rule: str
    weighed: tuple[Act, ...] = field(default=())
    decisive: Act | None = None

    @property
    def verdict(self) -> Verdict:
        """ALLOW or BLOCK, fixed by the reason."""
        return self.reason.verdict


def decide(facts: Facts) -> Decision:
    """Apply the rules in order (docs/rules.md); the first that matches decides."""
    campaign = facts.campaign
    if campaign is None:
        return Decision(
            Reason.UNKNOWN_CAMPAIGN, f"campaign {facts.campaign_name!r} is not configured"
        )
    if campaign.purpose is Purpose.INFORMATIONAL:
        return Decision(Reason.INFORMATIONAL_CAMPAIGN, "informational calls are outside the list")
    if facts.today > facts.licence_valid_until:
        return Decision(
            Reason.LICENCE_EXPIRED, f"licence ended on {facts.licence_valid_until.isoformat()}"
        )
    number = facts.number
    if isinstance(number, InvalidNumber):
        return Decision(Reason.INVALID_NUMBER, f"not a callable number: {number.refusal.value}")
    if isinstance(number, ForeignNumber):
        if campaign.foreign_numbers is ForeignPolicy.ALLOW:
            return Decision(Reason.FOREIGN_NUMBER_ALLOWED, "campaign allows foreign numbers")
        return Decision(Reason.FOREIGN_NUMBER_BLOCKED, "campaign blocks foreign numbers")
    freshness = _freshness(facts)
    if freshness is not None:
        return freshness
    return _latest_act(facts, number)


LIST_DATE_TOLERANCE_DAYS = 1
"""How far a snapshot's list date may lie after the decision day (a file made just before
midnight may carry the next day's date); beyond that the clock or the file is wrong."""


def _freshness(facts: Facts) -> Decision | None:
    if facts.snapshot is None:
        return Decision(Reason.LIST_MISSING, "no DNCM list snapshot has been imported")
    list_date = facts.snapshot.list_date
    age = (facts.today - list_date).days
    if age > facts.max_age_days:
        return Decision(
            Reason.LIST_STALE,
            f"list of {list_date.isoformat()} is {age} days old (max {facts.max_age_days})",
        )
    if -age > LIST_DATE_TOLERANCE_DAYS:
        return Decision(
            Reason.LIST_STALE,
            f"list of {list_date.isoformat()} is dated after {facts.today.isoformat()}:"
            " wrong clock or file",
        )
    return None


def _latest_act(facts: Facts, number: BelgianNumber) -> Decision:
    against = ((facts.listing,) if facts.listing else ()) + facts.objections
    weighed = against + facts.consents
    if not against:
        return Decision(
            Reason.NOT_LISTED, f"{number.e164} is not listed and has no objection", weighed
        )
    given = tuple(c for c in facts.consents if c.day <= facts.today)
    not_yet = (
        "" if len(given) == len(facts.consents) else "; a consent dated later is not given yet"
    )
    best = _best_consent(given)
    if best is not None and all(best.is_later_than(act) for act in against):
        reason = (
            Reason.CONSENT_AFTER_LISTING
            if facts.listing is not None
            else Reason.CONSENT_AFTER_OBJECTION
        )
        rule = f"{describe(best)} is later than {_describe_all(against)}"
        return Decision(reason, rule, weighed, best)
    unbeaten = tuple(act for act in against if best is None or not best.is_later_than(act))
    blocking = max(unbeaten, key=_blocking_order)
    if best is not None:
        rule = f"{describe(blocking)} is not earlier than {describe(best)}{not_yet}"
    else:
        rule = f"{describe(blocking)} is the latest act, no consent{not_yet}"
    if blocking.kind is ActKind.OBJECTION:
        return Decision(Reason.OBJECTION, rule, weighed, blocking)
    if best is not None:
        return Decision(Reason.LISTING_AFTER_CONSENT, rule, weighed, blocking)
    return Decision(Reason.LISTED, rule, weighed, blocking)


def _best_consent(consents: tuple[Act, ...]) -> Act | None:
    """The consent that beats every act any other consent beats, if there is a consent."""
    return max(consents, key=lambda c: (c.day, c.at is not None, c.at or time.min), default=None)


def _blocking_order(act: Act) -> tuple[date, bool, bool, time]:
    return (act.day, act.kind is ActKind.OBJECTION, act.at is not None, act.at or time.min)


def describe(act: Act) -> str:
    """An act as evidence reads it: kind, record id if any, date and time if known."""
    record = f" #{act.record_id}" if act.record_id else ""
    when = act.day.isoformat() + (f" {act.at.isoformat()}" if act.at else "")
    return f"{act.kind.value}{record} of {when}"


def _describe_all(acts: tuple[Act, ...]) -> str:
    return ", ".join(describe(act) for act in acts)
