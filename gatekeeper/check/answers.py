"""How a checked call is told: to Asterisk (channel variables), to scripts (JSON), to people."""

from __future__ import annotations

from gatekeeper.check.checker import CheckResult
from gatekeeper.common import shown


def agi_variables(result: CheckResult) -> dict[str, str]:
    """The contract's channel variables, in the order they are set.

    GK_DECISION comes last: an answer cut short leaves it unset, and the subroutine blocks.
    """
    return {
        "GK_REASON": result.decision.reason.value,
        "GK_DECISION_ID": result.decision_id or "",
        "GK_NUMBER": result.e164 or "",
        "GK_DECISION": result.decision.verdict.value.upper(),
    }


def json_answer(result: CheckResult) -> dict[str, object]:
    """The `check --json` object."""
    snapshot = result.snapshot
    return {
        "decision": result.decision.verdict.value,
        "reason": result.decision.reason.value,
        "rule": result.decision.rule,
        "number": result.e164,
        "dialled": result.request.dialled,
        "campaign": result.request.campaign,
        "purpose": result.campaign.purpose.value if result.campaign else None,
        "advertiser": result.campaign.advertiser if result.campaign else None,
        "decision_id": result.decision_id,
        "decided_at": result.at.isoformat(),
        "snapshot": None
        if snapshot is None
        else {
            "id": snapshot.snapshot_id,
            "list_date": snapshot.list_date.isoformat(),
            "sha256": snapshot.sha256,
            "rows": snapshot.rows,
        },
        "evidence": [
            {
                "kind": act.kind.value,
                "date": act.day.isoformat(),
                "time": act.at.isoformat() if act.at else None,
                "record_id": act.record_id or None,
            }
            for act in result.decision.weighed
        ],
    }


def human_answer(result: CheckResult) -> str:
    """One line a compliance officer reads, with any control character in it escaped."""
    snapshot = result.snapshot
    on_list = (
        f"list of {snapshot.list_date.isoformat()} (sha256 {snapshot.sha256[:12]})"
        if snapshot
        else "no list consulted"
    )
    number = result.e164 or repr(result.request.dialled)
    return shown(
        f"{result.decision.verdict.value.upper():5} {number} campaign={result.request.campaign} "
        f"reason={result.decision.reason.value} id={result.decision_id or '-'} "
        f"({result.decision.rule}; {on_list})"
    )
