"""The sync history: one row per imported snapshot, in a small database beside the snapshots."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from gatekeeper.common import SyncError, create_private
from gatekeeper.dncm.snapshot import COLUMNS, PLACEHOLDERS, SyncRecord
from gatekeeper.dncm.storage import IndexPaths

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sync_history (
    snapshot_id INTEGER PRIMARY KEY, imported_at TEXT NOT NULL, source TEXT NOT NULL,
    sha256 TEXT NOT NULL, list_date TEXT NOT NULL, rows INTEGER NOT NULL,
    added INTEGER NOT NULL, removed INTEGER NOT NULL, duplicates INTEGER NOT NULL,
    rejected INTEGER NOT NULL, layout TEXT NOT NULL
)
"""


def record_sync(paths: IndexPaths, record: SyncRecord) -> None:
    """Add (or repair) the history row of a snapshot."""
    if not paths.history.exists():
        create_private(paths.history)
    try:
        with _connect(paths.history) as connection:
            connection.execute(_SCHEMA)
            connection.execute(
                f"INSERT OR REPLACE INTO sync_history ({COLUMNS}) VALUES ({PLACEHOLDERS})",
                record.as_row(),
            )
    except sqlite3.Error as err:
        raise SyncError(f"{paths.history}: cannot record the sync: {err}") from err


def recorded_ids(paths: IndexPaths) -> set[int]:
    """The snapshot ids the history holds."""
    return {record.snapshot_id for record in sync_history(paths.directory)}


def sync_history(directory: Path) -> list[SyncRecord]:
    """Every imported snapshot of the index in `directory`, oldest first."""
    path = IndexPaths(directory).history
    if not path.exists():
        return []
    try:
        with _connect(path) as connection:
            connection.execute(_SCHEMA)
            rows = connection.execute(
                f"SELECT {COLUMNS} FROM sync_history ORDER BY snapshot_id"
            ).fetchall()
    except sqlite3.Error as err:
        raise SyncError(f"{path}: cannot read the sync history: {err}") from err
    return [SyncRecord.from_row(tuple(row)) for row in rows]


@contextlib.contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(path, timeout=10.0)
    try:
        connection.execute("PRAGMA synchronous=FULL")
        with connection:
            yield connection
    finally:
        connection.close()
