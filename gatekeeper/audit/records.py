"""What goes into the decision log, and its canonical serialisation (pure, no IO)."""

from __future__ import annotations

import enum
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import PurePath

from gatekeeper.common import AuditError
from gatekeeper.rules import Act, SnapshotInfo


class RecordType(enum.StrEnum):
    """The kinds of record in the chain."""

    DECISION = "decision"
    EVENT = "event"
    OUTCOME = "outcome"
    CHECKPOINT = "checkpoint"


class EventKind(enum.StrEnum):
    """The kinds of event the gatekeeper records; `record_event` accepts any short name."""

    LIST_SYNC = "list_sync"
    CONFIG_RELOAD = "config_reload"
    SERVICE_START = "service_start"
    SERVICE_STOP = "service_stop"
    BYPASS = "bypass"
    OUTCOME = "outcome"
    SCRUB = "scrub"
    PURGE = "purge"
    CONSOLE_ACCESS = "console_access"
    CONSOLE_ACT = "console_act"
    CONSOLE_LOCKOUT = "console_lockout"


def _default_host() -> str:
    return socket.gethostname()


@dataclass(frozen=True, slots=True)
class DecisionEntry:
    """One decision as the caller made it, before it gets its id and place in the chain."""

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
    host: str = field(default_factory=_default_host)
    dialler_campaign: str | None = None
    """The campaign id the dialler sent when it differs from `campaign` (an alias; "" when it
    sent none and the default campaign answered); None when the dialler named `campaign`."""
    attempt: int = 0
    """The how-manieth check of the same call (linked id), from 1; 0 when not counted."""
    pbx: str = ""
    """The PBX that asked (docs/scaling.md); recorded only when known."""


def utc_text(moment: datetime) -> str:
    """A timezone-aware moment as fixed-width UTC ISO text, so text order is time order."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise AuditError(f"time {moment.isoformat()} has no timezone; the log needs aware times")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def snapshot_body(snapshot: SnapshotInfo | None) -> dict[str, object] | None:
    """The list snapshot as a plain mapping."""
    if snapshot is None:
        return None
    return {
        "snapshot_id": snapshot.snapshot_id,
        "list_date": snapshot.list_date.isoformat(),
        "sha256": snapshot.sha256,
        "rows": snapshot.rows,
    }


def act_body(act: Act) -> dict[str, object]:
    """One weighed act as a plain mapping."""
    return {
        "kind": str(act.kind),
        "day": act.day.isoformat(),
        "at": act.at.isoformat() if act.at is not None else None,
        "record_id": act.record_id,
    }


def decision_body(entry: DecisionEntry) -> dict[str, object]:
    """Everything a decision carries besides its place in the chain."""
    return {
        "source": entry.source,
        "campaign": entry.campaign,
        "purpose": entry.purpose,
        "advertiser": entry.advertiser,
        "dialled": entry.dialled,
        "e164": entry.e164,
        "verdict": entry.verdict,
        "reason": entry.reason,
        "rule": entry.rule,
        "snapshot": snapshot_body(entry.snapshot),
        "evidence": [act_body(act) for act in entry.evidence],
        "channel": entry.channel,
        "uniqueid": entry.uniqueid,
        "linkedid": entry.linkedid,
        "host": entry.host,
    } | _call_fields(entry)


def _call_fields(entry: DecisionEntry) -> dict[str, object]:
    """The dialler's own campaign id, the attempt number and the PBX, present only when known."""
    fields: dict[str, object] = {}
    if entry.dialler_campaign is not None:
        fields["dialler_campaign"] = entry.dialler_campaign
    if entry.attempt:
        fields["attempt"] = entry.attempt
    if entry.pbx:
        fields["pbx"] = entry.pbx
    return fields


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return utc_text(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(str(v) for v in value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot record a value of type {type(value).__name__}")


_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain
)
"""Built once: `json.dumps` with these arguments builds the same encoder on every call."""


def canonical_json(value: object) -> str:
    """Sorted keys, no spaces, UTF-8 text: the same data always gives the same bytes."""
    try:
        return _CANONICAL.encode(value)
    except (TypeError, ValueError) as err:
        raise AuditError(f"record cannot be serialised: {err}") from err


def details_body(details: Mapping[str, object]) -> dict[str, object]:
    """An event's details as a plain dict with string keys."""
    return {str(key): value for key, value in details.items()}
