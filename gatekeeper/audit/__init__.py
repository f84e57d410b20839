"""The compliance record: every decision and event in one hash-chained, append-only log.

Besides the writer (`DecisionLog`) and its settings, the public names hold the reader interface
that the console and the shared stores use on a log or a copy of it: the stored records and how
they are selected and verified (`StoredRecord`, `SELECT_RECORDS`, `to_record`, `ChainVerifier`),
the rows the reading commands show and their filters (`DecisionRow`, `EventRow`, `Filters`,
`iter_decisions`), the views and export formats of `audit show`, `events` and `export`, the
report (`gather`, `render`), and the schema a copy is written with (`COLUMNS`, `connect_writer`).
"""

from __future__ import annotations

from gatekeeper.audit.anchor import FileAnchor
from gatekeeper.audit.anchoring import HeadAnchorer
from gatekeeper.audit.chain import ChainVerifier, Checkpoint, StoredRecord, VerifyResult
from gatekeeper.audit.event_view import EVENT_COLUMNS, event_json, outcome_text, summary
from gatekeeper.audit.events import record_event_now
from gatekeeper.audit.export import CSV_COLUMNS, ExportFormat, csv_row, decision_json
from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.oplog import log_decision
from gatekeeper.audit.period import local_text, parse_moment
from gatekeeper.audit.records import DecisionEntry, EventKind, snapshot_body, utc_text
from gatekeeper.audit.report_data import DayFigures, ReportData, gather
from gatekeeper.audit.report_html import render
from gatekeeper.audit.schema import (
    COLUMNS,
    SELECT_RECORDS,
    Synchronous,
    connect_reader,
    connect_writer,
    log_path,
    to_record,
)
from gatekeeper.audit.settings import (
    DEFAULT_DISK_FAIL_FREE_MIB,
    DEFAULT_DISK_WARN_FREE_MIB,
    DEFAULT_DISK_WARN_FREE_PERCENT,
    DEFAULT_RETENTION_DAYS,
    MAX_DISK_LIMIT_MIB,
    AuditSettings,
)
from gatekeeper.audit.store import (
    NON_DECISION_TYPES,
    DecisionRow,
    EventRow,
    Filters,
    checkpoints_before,
    iter_decisions,
    iter_events,
    outcome_of,
    purge_checkpoint,
    reading,
    verify_log,
)

__all__ = [
    "COLUMNS",
    "CSV_COLUMNS",
    "DEFAULT_DISK_FAIL_FREE_MIB",
    "DEFAULT_DISK_WARN_FREE_MIB",
    "DEFAULT_DISK_WARN_FREE_PERCENT",
    "DEFAULT_RETENTION_DAYS",
    "EVENT_COLUMNS",
    "MAX_DISK_LIMIT_MIB",
    "NON_DECISION_TYPES",
    "SELECT_RECORDS",
    "AuditSettings",
    "ChainVerifier",
    "Checkpoint",
    "DayFigures",
    "DecisionEntry",
    "DecisionLog",
    "DecisionRow",
    "EventKind",
    "EventRow",
    "ExportFormat",
    "FileAnchor",
    "Filters",
    "HeadAnchorer",
    "ReportData",
    "StoredRecord",
    "Synchronous",
    "VerifyResult",
    "checkpoints_before",
    "connect_reader",
    "connect_writer",
    "csv_row",
    "decision_json",
    "event_json",
    "gather",
    "iter_decisions",
    "iter_events",
    "local_text",
    "log_decision",
    "log_path",
    "outcome_of",
    "outcome_text",
    "parse_moment",
    "purge_checkpoint",
    "reading",
    "record_event_now",
    "render",
    "snapshot_body",
    "summary",
    "to_record",
    "utc_text",
    "verify_log",
]
