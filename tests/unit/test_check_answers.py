"""How a checked call is answered: AGI variables to Asterisk, the JSON object, the human line."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from gatekeeper.check import CallRequest, CheckResult, agi_variables, human_answer, json_answer
from gatekeeper.rules import (
    Act,
    ActKind,
    BelgianNumber,
    Campaign,
    Decision,
    InvalidNumber,
    Purpose,
    Reason,
    SnapshotInfo,
)
from gatekeeper.rules.numbers import NumberClass, Refusal

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CAMPAIGN = Campaign("spring-promo", Purpose.COMMERCIAL, "acme")
SNAPSHOT = SnapshotInfo(7, date(2026, 3, 1), "ab" * 32, 4_200_000)
LISTING = Act(ActKind.LISTING, date(2025, 11, 3))
CONSENT = Act(ActKind.CONSENT, date(2026, 2, 14), time(16, 5), "C-17")


def _allowed() -> CheckResult:
    """A consent after listing: ALLOW, recorded, with a snapshot and two acts weighed."""
    return CheckResult(
        AT,
        CallRequest("0470 12 34 56", "VICI123", "agi"),
        CAMPAIGN,
        BelgianNumber("+32470123456", NumberClass.MOBILE),
        Decision(Reason.CONSENT_AFTER_LISTING, "consent after listing", (LISTING, CONSENT)),
        SNAPSHOT,
        "1M84TWYNA0004",
    )


def _refused(dialled: str = "12\x1b[2J") -> CheckResult:
    """An unknown campaign and an invalid number, unrecorded: BLOCK with no id and no list."""
    return CheckResult(
        AT,
        CallRequest(dialled, "nope", "cli"),
        None,
        InvalidNumber(Refusal.TOO_SHORT, "2 digits"),
        Decision(Reason.UNKNOWN_CAMPAIGN, "campaign 'nope' is not configured"),
        None,
        None,
    )


def test_agi_variables_in_contract_order_decision_last() -> None:
    """Reason, decision id and number are set before GK_DECISION, in capitals as the contract."""
    assert list(agi_variables(_allowed()).items()) == [
        ("GK_REASON", "consent_after_listing"),
        ("GK_DECISION_ID", "1M84TWYNA0004"),
        ("GK_NUMBER", "+32470123456"),
        ("GK_DECISION", "ALLOW"),
    ]


def test_agi_variables_of_an_unrecorded_block_are_set_empty() -> None:
    """No decision id and no number: both variables are set, empty, never left over or made up."""
    assert agi_variables(_refused()) == {
        "GK_REASON": "unknown_campaign",
        "GK_DECISION_ID": "",
        "GK_NUMBER": "",
        "GK_DECISION": "BLOCK",
    }


def test_json_answer_holds_the_decision_and_its_evidence() -> None:
    """The object names the decision, the request, the campaign, the snapshot and every act."""
    assert json_answer(_allowed()) == {
        "decision": "allow",
        "reason": "consent_after_listing",
        "rule": "consent after listing",
        "number": "+32470123456",
        "dialled": "0470 12 34 56",
        "campaign": "VICI123",
        "purpose": "commercial",
        "advertiser": "acme",
        "decision_id": "1M84TWYNA0004",
        "decided_at": "2026-03-02T09:30:00+00:00",
        "snapshot": {"id": 7, "list_date": "2026-03-01", "sha256": "ab" * 32, "rows": 4_200_000},
        "evidence": [
            {"kind": "listing", "date": "2025-11-03", "time": None, "record_id": None},
            {"kind": "consent", "date": "2026-02-14", "time": "16:05:00", "record_id": "C-17"},
        ],
    }


def test_json_answer_without_campaign_or_list_has_nulls() -> None:
    """An unknown campaign and no list consulted: purpose, advertiser, number, snapshot are null."""
    answer = json_answer(_refused())
    assert {key: answer[key] for key in ("purpose", "advertiser", "number", "snapshot")} == {
        "purpose": None,
        "advertiser": None,
        "number": None,
        "snapshot": None,
    }


def test_human_answer_names_the_list_it_used() -> None:
    """One line: verdict, number, campaign, reason, id, rule, list date and short hash."""
    assert human_answer(_allowed()) == (
        "ALLOW +32470123456 campaign=VICI123 reason=consent_after_listing id=1M84TWYNA0004 "
        "(consent after listing; list of 2026-03-01 (sha256 abababababab))"
    )


def test_human_answer_shows_an_invalid_dialled_string_escaped() -> None:
    """Without a number the dialled text is quoted, its control characters escaped, id is `-`."""
    assert human_answer(_refused()) == (
        "BLOCK '12\\x1b[2J' campaign=nope reason=unknown_campaign id=- "
        "(campaign 'nope' is not configured; no list consulted)"
    )
