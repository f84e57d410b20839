"""One snapshot file: the listing table, its metadata row, and how a new one is built.

Theory of operation: a snapshot is built in `<id>.partial`, a fresh file created 0600, with
journalling and syncing off (nothing else reads it; a crash leaves only a partial file that the
next import removes). Rows stream into a TEMP staging table in file order, then go into the
listing table sorted by key in one `INSERT … SELECT … GROUP BY`, which also folds duplicate
numbers (keeping the latest registration date: a later listing can only make a consent lose, so
it is the safe side). Memory stays bounded: SQLite's sorter spills to temporary files. Numbers
added and removed are counted by joining against the previous snapshot. Sealing writes the
metadata row, closes and fsyncs the file; only then may it be renamed and pointed at.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import astuple, dataclass, fields
from datetime import date, datetime
from pathlib import Path

from gatekeeper.common import IndexUnavailableError, SyncError, create_private, fsync_file
from gatekeeper.dncm.storage import IndexPaths
from gatekeeper.rules import SnapshotInfo

BUILD_CACHE_KIB = 16384

_SCHEMA = """
CREATE TABLE listing (number INTEGER PRIMARY KEY, registered INTEGER NOT NULL);
CREATE TABLE snapshot (
    snapshot_id INTEGER NOT NULL, imported_at TEXT NOT NULL, source TEXT NOT NULL,
    sha256 TEXT NOT NULL, list_date TEXT NOT NULL, rows INTEGER NOT NULL,
    added INTEGER NOT NULL, removed INTEGER NOT NULL, duplicates INTEGER NOT NULL,
    rejected INTEGER NOT NULL, layout TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class SyncRecord:
    """What one imported snapshot holds and where it came from (one row of the sync history)."""

    snapshot_id: int
    imported_at: datetime
    source: str
    sha256: str
    list_date: date
    rows: int
    added: int
    removed: int
    duplicates: int
    rejected: int
    layout: str

    @property
    def info(self) -> SnapshotInfo:
        """The snapshot as decisions cite it."""
        return SnapshotInfo(self.snapshot_id, self.list_date, self.sha256, self.rows)

    def as_row(self) -> tuple[object, ...]:
        """The record as SQL parameters, in column order."""
        values = list(astuple(self))
        values[1] = self.imported_at.isoformat()
        values[4] = self.list_date.isoformat()
        return tuple(values)

    @classmethod
    def from_row(cls, row: tuple[object, ...]) -> SyncRecord:
        """Read a record back from its SQL row."""
        values = list(row)
        values[1] = datetime.fromisoformat(str(values[1]))
        values[4] = date.fromisoformat(str(values[4]))
        return cls(*values)  # type: ignore[arg-type]


COLUMNS = ", ".join(f.name for f in fields(SyncRecord))
PLACEHOLDERS = ", ".join("?" for _ in fields(SyncRecord))


def open_snapshot(path: Path) -> sqlite3.Connection:
    """A read-only connection to a sealed snapshot (immutable: no locks, no change checks)."""
    try:
        connection = sqlite3.connect(
            f"{path.absolute().as_uri()}?mode=ro&immutable=1", uri=True, check_same_thread=False
        )
    except sqlite3.Error as err:
        raise IndexUnavailableError(f"{path}: cannot open the list snapshot: {err}") from err
    return connection


def read_record(connection: sqlite3.Connection, path: Path) -> SyncRecord:
    """The metadata row of a snapshot."""
    try:
        row = connection.execute(f"SELECT {COLUMNS} FROM snapshot").fetchone()
    except sqlite3.Error as err:
        raise IndexUnavailableError(f"{path}: not a readable list snapshot: {err}") from err
    if row is None:
        raise IndexUnavailableError(f"{path}: the list snapshot has no metadata row")
    return SyncRecord.from_row(tuple(row))


def open_current(paths: IndexPaths) -> tuple[sqlite3.Connection, SyncRecord] | None:
    """The snapshot CURRENT names, open read-only, with its record; None without any list.

    Raises IndexUnavailableError naming the file when CURRENT or the snapshot cannot be read.
    """
    try:
        snapshot_id = paths.read_current()
    except (OSError, SyncError) as err:
        raise IndexUnavailableError(f"{paths.current}: unreadable: {err}") from err
    if snapshot_id is None:
        return None
    path = paths.snapshot(snapshot_id)
    if not path.exists():
        raise IndexUnavailableError(f"{path}: the snapshot named by CURRENT is missing")
    return open_sealed(path)


def open_sealed(path: Path) -> tuple[sqlite3.Connection, SyncRecord]:
    """A sealed snapshot open read-only, with its record; IndexUnavailableError if unreadable."""
    connection = open_snapshot(path)
    try:
        return connection, read_record(connection, path)
    except IndexUnavailableError:
        connection.close()
        raise


class SnapshotBuilder:
    """Builds one snapshot file; `seal` it when complete or `discard` it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        create_private(path)
        self._connection = sqlite3.connect(
            f"{path.absolute().as_uri()}", uri=True, isolation_level=None
        )
        connection = self._connection
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA temp_store=FILE")
        connection.execute(f"PRAGMA cache_size=-{BUILD_CACHE_KIB}")
        connection.executescript(_SCHEMA)
        connection.execute("CREATE TEMP TABLE staging (number INTEGER, registered INTEGER)")
        self.rows = 0

    def load(self, batches: Iterable[list[tuple[int, int]]]) -> None:
        """Stream rows into staging, then into the listing sorted by key, duplicates folded."""
        connection = self._connection
        connection.execute("BEGIN")
        for batch in batches:
            connection.executemany("INSERT INTO temp.staging VALUES (?, ?)", batch)
        connection.execute(
            "INSERT INTO listing (number, registered) "
            "SELECT number, max(registered) FROM temp.staging GROUP BY number ORDER BY number"
        )
        connection.execute("COMMIT")
        connection.execute("DROP TABLE temp.staging")
        self.rows = _count(connection, "listing")

    def newest_registration(self) -> int | None:
        """The newest registration day number of the listing; None when it is empty."""
        try:
            row = self._connection.execute("SELECT max(registered) FROM listing").fetchone()
        except sqlite3.Error as err:
            raise SyncError(f"{self.path}: cannot read the listing: {err}") from err
        return None if row[0] is None else int(row[0])

    def compare(self, previous: Path | None) -> tuple[int, int]:
        """(added, removed) numbers against the previous snapshot file."""
        if previous is None:
            return self.rows, 0
        connection = self._connection
        connection.execute(
            "ATTACH DATABASE ? AS previous",
            (f"{previous.absolute().as_uri()}?mode=ro&immutable=1",),
        )
        try:
            before = _count(connection, "previous.listing")
            common = connection.execute(
                "SELECT count(*) FROM listing JOIN previous.listing USING (number)"
            ).fetchone()[0]
        finally:
            connection.execute("DETACH DATABASE previous")
        return self.rows - common, before - common

    def seal(self, record: SyncRecord) -> None:
        """Write the metadata row, close, and flush the file to disk."""
        connection = self._connection
        connection.execute(
            f"INSERT INTO snapshot ({COLUMNS}) VALUES ({PLACEHOLDERS})", record.as_row()
        )
        connection.close()
        fsync_file(self.path)

    def discard(self) -> None:
        """Close and delete the unfinished file."""
        self._connection.close()
        self.path.unlink(missing_ok=True)


def _count(connection: sqlite3.Connection, table: str) -> int:
    try:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.Error as err:
        raise SyncError(f"cannot count {table}: {err}") from err
