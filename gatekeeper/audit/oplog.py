"""The operations log: one canonical structlog line per decision, for journald and dashboards."""

from __future__ import annotations

import structlog

from gatekeeper.audit.records import DecisionEntry, utc_text

_logger = structlog.get_logger("gatekeeper.decision")


def decision_fields(entry: DecisionEntry, decision_id: str) -> dict[str, object]:
    """The fields of the canonical `decision` line (flat, so log tools can index them)."""
    snapshot = entry.snapshot
    return {
        "decision_id": decision_id,
        "at": utc_text(entry.at),
        "source": entry.source,
        "campaign": entry.campaign,
        "purpose": entry.purpose,
        "advertiser": entry.advertiser,
        "dialled": entry.dialled,
        "number": entry.e164,
        "verdict": entry.verdict,
        "reason": entry.reason,
        "rule": entry.rule,
        "list_date": snapshot.list_date.isoformat() if snapshot is not None else None,
        "list_sha256": snapshot.sha256 if snapshot is not None else None,
        "evidence": [f"{act.kind}:{act.day.isoformat()}:{act.record_id}" for act in entry.evidence],
        "channel": entry.channel,
        "uniqueid": entry.uniqueid,
        "linkedid": entry.linkedid,
        "host": entry.host,
    }


def log_decision(
    entry: DecisionEntry,
    decision_id: str,
    *,
    logger: structlog.typing.FilteringBoundLogger | None = None,
) -> None:
    """Emit the one `decision` line for a decision (after it was recorded, with its id)."""
    (logger or _logger).info("decision", **decision_fields(entry, decision_id))
