"""The compliance record: every decision and event in one hash-chained, append-only log."""

from __future__ import annotations

from gatekeeper.audit.anchoring import HeadAnchorer
from gatekeeper.audit.events import record_event_now
from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.oplog import log_decision
from gatekeeper.audit.records import DecisionEntry, EventKind, snapshot_body
from gatekeeper.audit.schema import log_path
from gatekeeper.audit.settings import (
    DEFAULT_DISK_FAIL_FREE_MIB,
    DEFAULT_DISK_WARN_FREE_MIB,
    DEFAULT_DISK_WARN_FREE_PERCENT,
    DEFAULT_RETENTION_DAYS,
    MAX_DISK_LIMIT_MIB,
    AuditSettings,
)
from gatekeeper.audit.store import iter_events, reading

__all__ = [
    "DEFAULT_DISK_FAIL_FREE_MIB",
    "DEFAULT_DISK_WARN_FREE_MIB",
    "DEFAULT_DISK_WARN_FREE_PERCENT",
    "DEFAULT_RETENTION_DAYS",
    "MAX_DISK_LIMIT_MIB",
    "AuditSettings",
    "DecisionEntry",
    "DecisionLog",
    "EventKind",
    "HeadAnchorer",
    "iter_events",
    "log_decision",
    "log_path",
    "reading",
    "record_event_now",
    "snapshot_body",
]
