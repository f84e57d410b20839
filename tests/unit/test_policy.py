"""policy.decide: the rule order, the latest-act rule's edge cases, and the evidence it carries."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time, timedelta
from typing import Any

import pytest
from gatekeeper.rules.numbers import normalise
from gatekeeper.rules.policy import (
    LIST_DATE_TOLERANCE_DAYS,
    Act,
    ActKind,
    Campaign,
    Decision,
    Facts,
    ForeignPolicy,
    Purpose,
    Reason,
    SnapshotInfo,
    Verdict,
    decide,
    describe,
)

TODAY = date(2026, 6, 15)
PROMO = Campaign("spring-promo", Purpose.COMMERCIAL, "acme")
SNAPSHOT = SnapshotInfo(7, TODAY - timedelta(days=1), "ab" * 32, 2_000_000)
BASE = Facts(
    campaign_name="spring-promo",
    campaign=PROMO,
    number=normalise("0470 12 34 56"),
    today=TODAY,
    licence_valid_until=date(2027, 6, 30),
    max_age_days=5,
    snapshot=SNAPSHOT,
)


def days_ago(days: int) -> date:
    """A date `days` before TODAY."""
    return TODAY - timedelta(days=days)


def listing(days: int) -> Act:
    """A list registration `days` before TODAY."""
    return Act(ActKind.LISTING, days_ago(days))


def consent(days: int, at: time | None = None, record_id: str = "c1") -> Act:
    """A consent record `days` before TODAY."""
    return Act(ActKind.CONSENT, days_ago(days), at, record_id)


def objection(days: int, at: time | None = None, record_id: str = "o1") -> Act:
    """An objection record `days` before TODAY."""
    return Act(ActKind.OBJECTION, days_ago(days), at, record_id)


def decide_with(**changes: Any) -> Decision:
    """Decide BASE with some facts replaced."""
    return decide(replace(BASE, **changes))


ALLOW_REASONS = {
    Reason.INFORMATIONAL_CAMPAIGN,
    Reason.NOT_LISTED,
    Reason.CONSENT_AFTER_LISTING,
    Reason.CONSENT_AFTER_OBJECTION,
    Reason.FOREIGN_NUMBER_ALLOWED,
}


@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_reason_fixes_verdict(reason: Reason) -> None:
    """Exactly the allow reasons of docs/rules.md allow; every other reason blocks."""
    expected = Verdict.ALLOW if reason in ALLOW_REASONS else Verdict.BLOCK
    assert reason.verdict is expected


def test_reason_codes_are_the_contracts() -> None:
    """The reason codes are spelled as docs/rules.md spells them."""
    assert {r.value for r in Reason} == {
        "informational_campaign",
        "not_listed",
        "consent_after_listing",
        "consent_after_objection",
        "foreign_number_allowed",
        "listed",
        "listing_after_consent",
        "objection",
        "unknown_campaign",
        "invalid_number",
        "foreign_number_blocked",
        "list_missing",
        "list_stale",
        "licence_expired",
        "internal_error",
        "acts_unavailable",
    }


@pytest.mark.parametrize(
    ("first", "second", "later"),
    [
        (consent(1), listing(2), True),
        (consent(2), listing(1), False),
        (consent(1), listing(1), False),
        (consent(1, time(10)), objection(1, time(9)), True),
        (consent(1, time(9)), objection(1, time(10)), False),
        (consent(1, time(10)), objection(1, time(10)), False),
        (consent(1, time(23, 59)), objection(1), False),
        (consent(1), objection(1, time(0, 1)), False),
    ],
)
def test_is_later_than(first: Act, second: Act, *, later: bool) -> None:
    """An act is later only by a later day, or a later time when both carry one."""
    assert first.is_later_than(second) is later


def test_future_consent_does_not_allow() -> None:
    """A consent dated after the decision day has not been given yet and allows nothing."""
    future = Act(ActKind.CONSENT, TODAY + timedelta(days=1), None, "c9")
    decision = decide_with(listing=listing(30), consents=(future,))
    assert decision.reason is Reason.LISTED
    assert "not given yet" in decision.rule
    assert future in decision.weighed


def test_future_consent_beside_past_one_is_ignored() -> None:
    """A future consent does not hide an older consent the listing cancelled."""
    future = Act(ActKind.CONSENT, TODAY + timedelta(days=3), None, "c9")
    decision = decide_with(listing=listing(30), consents=(consent(40), future))
    assert decision.reason is Reason.LISTING_AFTER_CONSENT


def test_consent_of_today_counts() -> None:
    """A consent given today, after a listing of yesterday, allows the call."""
    decision = decide_with(listing=listing(1), consents=(consent(0),))
    assert decision.reason is Reason.CONSENT_AFTER_LISTING


def test_list_dated_tomorrow_is_tolerated() -> None:
    """A list file carrying tomorrow's date (made just before midnight) is still fresh."""
    snapshot = replace(SNAPSHOT, list_date=TODAY + timedelta(LIST_DATE_TOLERANCE_DAYS))
    assert decide_with(snapshot=snapshot).reason is Reason.NOT_LISTED


def test_list_dated_further_ahead_blocks() -> None:
    """A list dated well after today means a wrong clock or file, and blocks like a stale one."""
    ahead = TODAY + timedelta(days=30)
    decision = decide_with(snapshot=replace(SNAPSHOT, list_date=ahead))
    assert (decision.reason, decision.rule) == (
        Reason.LIST_STALE,
        f"list of {ahead.isoformat()} is dated after {TODAY.isoformat()}: wrong clock or file",
    )


def test_stale_list_names_its_age() -> None:
    """A stale list's rule says its date, age and the maximum."""
    snapshot = replace(SNAPSHOT, list_date=days_ago(9))
    decision = decide_with(snapshot=snapshot)
    assert decision.reason is Reason.LIST_STALE
    assert "9 days old (max 5)" in decision.rule


def test_consent_evidence_names_the_winning_record() -> None:
    """An allowing consent is the decisive act, and its record id and date are in the rule."""
    old, new = consent(60, record_id="17"), consent(5, time(14, 30), record_id="42")
    decision = decide_with(listing=listing(30), consents=(old, new))
    assert decision.reason is Reason.CONSENT_AFTER_LISTING
    assert decision.decisive == new
    assert describe(new) in decision.rule
    assert "consent #42 of" in decision.rule
    assert "14:30" in decision.rule


def test_weighed_holds_every_act() -> None:
    """The evidence lists the listing, every objection and every consent weighed."""
    acts = (listing(30), objection(20, record_id="5"), consent(10, record_id="6"))
    decision = decide_with(listing=acts[0], objections=(acts[1],), consents=(acts[2],))
    assert set(decision.weighed) == set(acts)


def test_blocking_objection_is_decisive() -> None:
    """When an objection blocks, it is the decisive act."""
    block = objection(5, record_id="9")
    decision = decide_with(objections=(objection(50, record_id="8"), block))
    assert decision.reason is Reason.OBJECTION
    assert decision.decisive == block


def test_listing_is_decisive_when_it_blocks() -> None:
    """When the listing blocks, it is the decisive act and the rule names the consent it beat."""
    decision = decide_with(listing=listing(5), consents=(consent(50, record_id="3"),))
    assert decision.reason is Reason.LISTING_AFTER_CONSENT
    assert decision.decisive == listing(5)
    assert "consent #3" in decision.rule


def test_not_listed_has_no_decisive_act() -> None:
    """A call with nothing against it has no decisive act; a lone consent is still weighed."""
    lone = consent(5)
    decision = decide_with(consents=(lone,))
    assert decision.reason is Reason.NOT_LISTED
    assert decision.decisive is None
    assert decision.weighed == (lone,)


def test_timed_consent_beats_untimed_consent_of_same_day() -> None:
    """Of two consents on one day, the timed one is weighed, since it beats more."""
    decision = decide_with(
        objections=(objection(3, time(9)),),
        consents=(consent(3, record_id="a"), consent(3, time(10), record_id="b")),
    )
    assert decision.reason is Reason.CONSENT_AFTER_OBJECTION
    assert decision.decisive is not None
    assert decision.decisive.record_id == "b"


def test_order_of_acts_in_facts_does_not_matter() -> None:
    """The decision does not depend on the order records come from the store."""
    acts = (consent(30, record_id="a"), consent(10, record_id="b"), consent(20, record_id="c"))
    forward = decide_with(listing=listing(15), consents=acts)
    backward = decide_with(listing=listing(15), consents=acts[::-1])
    assert forward.reason is backward.reason is Reason.CONSENT_AFTER_LISTING
    assert forward.decisive == backward.decisive == acts[1]


def test_early_rules_weigh_no_acts() -> None:
    """Rules before the latest-act step decide without weighing consents or objections."""
    decision = decide_with(snapshot=None, consents=(consent(3),), listing=listing(30))
    assert decision.reason is Reason.LIST_MISSING
    assert decision.weighed == ()


def test_unknown_campaign_rule_names_it() -> None:
    """An unknown campaign's rule names the campaign asked for."""
    decision = decide_with(campaign=None, campaign_name="ghost")
    assert decision.reason is Reason.UNKNOWN_CAMPAIGN
    assert "'ghost'" in decision.rule


def test_invalid_number_rule_names_refusal() -> None:
    """An invalid number's rule says why it was refused."""
    decision = decide_with(number=normalise("0470 12"))
    assert decision.reason is Reason.INVALID_NUMBER
    assert "too_short" in decision.rule


def test_describe_without_record_id_or_time() -> None:
    """A listing is described by kind and date alone."""
    assert describe(listing(0)) == f"listing of {TODAY.isoformat()}"


AUTUMN_CHANGE = date(2026, 10, 25)
"""Summer time ends in Brussels: 02:00-02:59 happens twice that night."""


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (AUTUMN_CHANGE, Reason.OBJECTION),
        (AUTUMN_CHANGE - timedelta(days=7), Reason.CONSENT_AFTER_OBJECTION),
    ],
    ids=["repeated-hour", "ordinary-night"],
)
def test_times_in_the_repeated_autumn_hour_do_not_order_acts(day: date, expected: Reason) -> None:
    """02:45 may be before 02:15 on the night clocks go back: that tie goes against consent."""
    decision = decide(
        replace(
            BASE,
            today=day + timedelta(days=1),
            snapshot=replace(SNAPSHOT, list_date=day),
            objections=(Act(ActKind.OBJECTION, day, time(2, 15), "o1"),),
            consents=(Act(ActKind.CONSENT, day, time(2, 45), "c1"),),
        )
    )
    assert decision.reason is expected


@pytest.mark.parametrize(
    "order",
    [(0, 1), (1, 0)],
    ids=["earlier-first", "later-first"],
)
def test_the_later_of_two_timed_consents_of_one_day_is_weighed(order: tuple[int, int]) -> None:
    """Two timed consents on one day, an objection between them: the later consent allows."""
    day = days_ago(3)
    both = (
        Act(ActKind.CONSENT, day, time(9), "early"),
        Act(ActKind.CONSENT, day, time(11), "late"),
    )
    decision = decide_with(
        listing=listing(30),
        objections=(Act(ActKind.OBJECTION, day, time(10), "o1"),),
        consents=tuple(both[i] for i in order),
    )
    assert decision.reason is Reason.CONSENT_AFTER_LISTING
    assert decision.decisive == both[1]


@pytest.mark.parametrize(
    ("consent_at", "objection_at"),
    [(time(2, 30), time(1, 30)), (time(3, 30), time(2, 30))],
    ids=["consent-in-repeated-hour", "objection-in-repeated-hour"],
)
def test_one_time_in_the_repeated_autumn_hour_is_enough_to_tie(
    consent_at: time, objection_at: time
) -> None:
    """On the night clocks go back, a time in 02:00-02:59 on either side makes a tie."""
    decision = decide(
        replace(
            BASE,
            today=AUTUMN_CHANGE + timedelta(days=1),
            snapshot=replace(SNAPSHOT, list_date=AUTUMN_CHANGE),
            objections=(Act(ActKind.OBJECTION, AUTUMN_CHANGE, objection_at, "o1"),),
            consents=(Act(ActKind.CONSENT, AUTUMN_CHANGE, consent_at, "c1"),),
        )
    )
    assert decision.reason is Reason.OBJECTION


@pytest.mark.parametrize(
    "order",
    [(0, 1), (1, 0)],
    ids=["earlier-first", "later-first"],
)
def test_the_latest_of_two_timed_objections_of_one_day_is_decisive(
    order: tuple[int, int],
) -> None:
    """Of two blocking objections on one day, the one with the later time is named."""
    day = days_ago(3)
    both = (objection(3, time(9), "early"), objection(3, time(11), "late"))
    decision = decide_with(
        objections=tuple(both[i] for i in order),
        consents=(Act(ActKind.CONSENT, day, time(8), "c1"),),
    )
    assert decision.reason is Reason.OBJECTION
    assert decision.decisive == both[1]


FOREIGN = normalise("+33 6 12 34 56 78")
LATE = Act(ActKind.CONSENT, TODAY + timedelta(days=2), None, "c9")


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        (
            {"campaign": replace(PROMO, purpose=Purpose.INFORMATIONAL)},
            "informational calls are outside the list",
        ),
        ({"licence_valid_until": days_ago(1)}, "licence ended on 2026-06-14"),
        (
            {"number": FOREIGN, "campaign": replace(PROMO, foreign_numbers=ForeignPolicy.ALLOW)},
            "campaign allows foreign numbers",
        ),
        ({"number": FOREIGN}, "campaign blocks foreign numbers"),
        ({"snapshot": None}, "no DNCM list snapshot has been imported"),
        (
            {"snapshot": replace(SNAPSHOT, list_date=days_ago(9))},
            "list of 2026-06-06 is 9 days old (max 5)",
        ),
        ({}, "+32470123456 is not listed and has no objection"),
        (
            {"listing": listing(30), "objections": (objection(20),), "consents": (consent(10),)},
            (
                "consent #c1 of 2026-06-05 is later than listing of 2026-05-16, "
                "objection #o1 of 2026-05-26"
            ),
        ),
        ({"listing": listing(30)}, "listing of 2026-05-16 is the latest act, no consent"),
        (
            {"listing": listing(30), "consents": (LATE,)},
            (
                "listing of 2026-05-16 is the latest act, no consent; "
                "a consent dated later is not given yet"
            ),
        ),
        (
            {"objections": (objection(5),), "consents": (consent(20),)},
            "objection #o1 of 2026-06-10 is not earlier than consent #c1 of 2026-05-26",
        ),
    ],
    ids=[
        "informational",
        "licence-expired",
        "foreign-allowed",
        "foreign-blocked",
        "list-missing",
        "list-stale",
        "not-listed",
        "consent-later",
        "listed",
        "consent-not-given-yet",
        "objection",
    ],
)
def test_each_rule_records_its_sentence(changes: dict[str, Any], rule: str) -> None:
    """The rule sentence kept as evidence names the rule and the facts it compared."""
    assert decide_with(**changes).rule == rule


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"objections": (objection(5),), "consents": (consent(20),)}, Reason.OBJECTION),
        ({"listing": listing(5), "consents": (consent(20),)}, Reason.LISTING_AFTER_CONSENT),
        ({"listing": listing(5), "consents": (consent(1),)}, Reason.CONSENT_AFTER_LISTING),
        ({"listing": listing(5), "consents": (LATE,)}, Reason.LISTED),
    ],
)
def test_every_latest_act_decision_weighs_every_act(
    changes: dict[str, Any], reason: Reason
) -> None:
    """Whatever the latest act decides, the evidence holds every act it weighed."""
    decision = decide_with(**changes)
    assert decision.reason is reason
    listed = changes.get("listing")
    acts = {listed} if listed else set()
    assert set(decision.weighed) == acts | set(changes.get("objections", ())) | set(
        changes.get("consents", ())
    )


def test_a_listing_that_blocks_alone_is_decisive() -> None:
    """A listed number without consent names the listing as the decisive act."""
    decision = decide_with(listing=listing(5))
    assert decision.reason is Reason.LISTED
    assert decision.decisive == listing(5)
