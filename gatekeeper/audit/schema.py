"""The log file: where it lives, its tables, and opening it with the right permissions."""

from __future__ import annotations

import enum
import sqlite3
from pathlib import Path

from gatekeeper.audit.chain import GENESIS, Head, StoredRecord
from gatekeeper.common import AuditError, create_private, make_private_dir

LOG_DIR_NAME = "audit"
LOG_FILE_NAME = "decisions.sqlite"
SCHEMA_VERSION = 1
WAL_LIMIT_BYTES = 64 * 1024 * 1024
"""Above this the writer resets the WAL (docs/audit.md); a reset WAL file shrinks back to it."""

COLUMNS = (
    "seq",
    "id",
    "type",
    "at",
    "kind",
    "campaign",
    "e164",
    "verdict",
    "reason",
    "uniqueid",
    "body",
    "prev_hash",
    "hash",
)
SELECT_RECORDS = f"SELECT {', '.join(COLUMNS)} FROM chain"

_DDL = f"""
CREATE TABLE IF NOT EXISTS chain (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    campaign TEXT,
    e164 TEXT,
    verdict TEXT,
    reason TEXT,
    uniqueid TEXT,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chain_at ON chain (at);
CREATE INDEX IF NOT EXISTS chain_e164 ON chain (e164, at);
CREATE INDEX IF NOT EXISTS chain_campaign ON chain (campaign, at);
CREATE INDEX IF NOT EXISTS chain_uniqueid ON chain (uniqueid) WHERE uniqueid IS NOT NULL;
CREATE INDEX IF NOT EXISTS chain_type ON chain (type, kind, at);
CREATE TABLE IF NOT EXISTS head (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    millis INTEGER NOT NULL
);
INSERT OR IGNORE INTO head (one, seq, hash, millis) VALUES (1, 0, '{GENESIS}', 0);
PRAGMA user_version = {SCHEMA_VERSION};
"""


class Synchronous(enum.StrEnum):
    """SQLite's `synchronous` setting in WAL mode (see docs/audit.md for the choice)."""

    NORMAL = "NORMAL"
    FULL = "FULL"


def log_path(data_dir: Path) -> Path:
    """Where the decision log lives under the configured data directory."""
    return data_dir / LOG_DIR_NAME / LOG_FILE_NAME


def _create_private(path: Path) -> None:
    make_private_dir(path.parent)
    create_private(path, exist_ok=True)


def connect_writer(
    path: Path,
    *,
    synchronous: Synchronous,
    busy_timeout_s: float,
    wal_limit_bytes: int = WAL_LIMIT_BYTES,
) -> sqlite3.Connection:
    """Open (creating if needed, mode 0600) the log for appending, in WAL mode.

    No connection checkpoints on commit (`wal_autocheckpoint=0`); whoever resets the WAL also
    truncates its file to `wal_limit_bytes` (`journal_size_limit`).
    """
    try:
        _create_private(path)
        conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None)
    except (OSError, sqlite3.Error) as err:
        raise AuditError(f"{path}: cannot open the decision log: {err}") from err
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous.value}")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute(f"PRAGMA journal_size_limit={int(wal_limit_bytes)}")
        conn.executescript(_DDL)
        _check_version(conn, path)
    except sqlite3.Error as err:
        conn.close()
        raise AuditError(f"{path}: not a usable decision log: {err}") from err
    return conn


def connect_reader(path: Path) -> sqlite3.Connection:
    """Open an existing log for reading only; a missing file is an error, never created."""
    if not path.is_file():
        raise AuditError(f"{path}: no decision log here")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        _check_version(conn, path)
    except sqlite3.Error as err:
        raise AuditError(f"{path}: cannot read the decision log: {err}") from err
    return conn


def _check_version(conn: sqlite3.Connection, path: Path) -> None:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version != SCHEMA_VERSION:
        raise AuditError(f"{path}: decision log schema {version}, expected {SCHEMA_VERSION}")


def read_head(conn: sqlite3.Connection) -> tuple[Head, int]:
    """The last sequence number and hash, and the last id's millisecond time."""
    row = conn.execute("SELECT seq, hash, millis FROM head WHERE one = 1").fetchone()
    if row is None:
        raise sqlite3.DatabaseError("the head row is missing")
    return Head(int(row[0]), str(row[1])), int(row[2])


def to_record(row: tuple[object, ...]) -> StoredRecord:
    """A row selected with SELECT_RECORDS as a StoredRecord."""
    return StoredRecord(*row)  # type: ignore[arg-type]
