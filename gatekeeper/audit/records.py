"""What one decision record holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gatekeeper.policy import Act, SnapshotInfo


@dataclass(frozen=True, slots=True)
class DecisionEntry:
    """One decision with everything it was based on."""

    at: datetime
    source: str
    campaign: str
    purpose: str | None
    advertiser: str | None
    dialled: str
    e164: str | None
    verdict: str
    reason: str
    rule: str
    snapshot: SnapshotInfo | None
    evidence: tuple[Act, ...]
    channel: str = ""
    uniqueid: str = ""
    linkedid: str = ""
    host: str = ""
