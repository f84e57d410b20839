"""The operations log: one canonical structlog line per decision, for journald and dashboards.

The journal is readable by more people than the decision log, so the line names the number only
by its pseudonym (gatekeeper/common/pseudonyms.py) and carries no date of the number's own acts (its
listing, consents, objections) nor the rule text that quotes them; the decision id leads to the
full record.
"""

from __future__ import annotations

import structlog

from gatekeeper.audit.records import DecisionEntry, utc_text
from gatekeeper.common import CallLogger, Pseudonyms

_logger = CallLogger("gatekeeper.decision")


def decision_fields(
    entry: DecisionEntry, decision_id: str, pseudonyms: Pseudonyms | None
) -> dict[str, object]:
    """The fields of the canonical `decision` line (flat, so log tools can index them).

    Without `pseudonyms` the line names no number at all.
    """
    snapshot = entry.snapshot
    pseudonym = pseudonyms.of_call(entry.e164, entry.dialled) if pseudonyms is not None else None
    channel = pseudonyms.channel(entry.channel) if pseudonyms is not None else ""
    return {
        "decision_id": decision_id,
        "at": utc_text(entry.at),
        "source": entry.source,
        "campaign": entry.campaign,
        "purpose": entry.purpose,
        "advertiser": entry.advertiser,
        "pseudonym": pseudonym,
        "verdict": entry.verdict,
        "reason": entry.reason,
        "list_date": snapshot.list_date.isoformat() if snapshot is not None else None,
        "list_sha256": snapshot.sha256 if snapshot is not None else None,
        "evidence": [f"{act.kind}:{act.record_id}" for act in entry.evidence],
        "channel": channel,
        "uniqueid": entry.uniqueid,
        "linkedid": entry.linkedid,
        "host": entry.host,
    }


def log_decision(
    entry: DecisionEntry,
    decision_id: str,
    pseudonyms: Pseudonyms | None,
    *,
    logger: structlog.typing.FilteringBoundLogger | None = None,
) -> None:
    """Emit the one `decision` line for a decision (after it was recorded, with its id)."""
    (logger or _logger.get()).info("decision", **decision_fields(entry, decision_id, pseudonyms))
