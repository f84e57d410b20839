"""Consent and objection records behind the `ActStore` protocol, and their checked input."""

from __future__ import annotations

from gatekeeper.consent.acts_input import RawRecord, record_from_fields
from gatekeeper.consent.store import (
    ActRecord,
    ActStore,
    AddResult,
    RecordKind,
    SqliteActStore,
    StoredRecord,
    act_store_path,
    open_act_store,
    read_records,
    revoked,
)

__all__ = [
    "ActRecord",
    "ActStore",
    "AddResult",
    "RawRecord",
    "RecordKind",
    "SqliteActStore",
    "StoredRecord",
    "act_store_path",
    "open_act_store",
    "read_records",
    "record_from_fields",
    "revoked",
]
