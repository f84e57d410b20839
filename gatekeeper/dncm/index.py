"""The read side of the list: lookups from the live snapshot, following swaps made by any process.

Theory of operation: CURRENT names the live snapshot; a sync replaces it atomically. Before each
answer the index stats CURRENT (about a microsecond) and, when its identity (inode, mtime, ctime,
size) changed, opens the snapshot it now names and drops the old connection. Snapshots are never
modified once sealed, so they are opened read-only and immutable: no locks, no journal checks, and
a reader keeps a consistent view even while the file it reads is being replaced or deleted. A
lock makes an index safe to share between threads. Lookups are plain `sqlite3` on the caller's
thread: a few microseconds, no thread hop.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from gatekeeper.common import IndexUnavailableError
from gatekeeper.dncm.dates import day_of
from gatekeeper.dncm.snapshot import SyncRecord, open_current
from gatekeeper.dncm.storage import IndexPaths
from gatekeeper.rules import SnapshotInfo

_LOOKUP = "SELECT registered FROM listing WHERE number = ?"

_Identity = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class ListAnswer:
    """A lookup and the snapshot that answered it, read together."""

    snapshot: SnapshotInfo
    listing_date: date | None


class ListIndex:
    """Answers lookups from the current snapshot in `directory` (data_dir / "dncm")."""

    def __init__(self, directory: Path) -> None:
        self._paths = IndexPaths(directory)
        self._current = self._paths.current
        self._current_text = str(self._current)
        self._lock = threading.Lock()
        self._identity: _Identity | None = None
        self._connection: sqlite3.Connection | None = None
        self._record: SyncRecord | None = None

    @property
    def directory(self) -> Path:
        """The index directory."""
        return self._paths.directory

    def snapshot(self) -> SnapshotInfo | None:
        """The snapshot lookups are answered from; None when no list was ever imported."""
        with self._lock:
            self._follow()
            return self._record.info if self._record else None

    def record(self) -> SyncRecord | None:
        """The full metadata of the current snapshot (source, added, removed, …)."""
        with self._lock:
            self._follow()
            return self._record

    def listing_date(self, key: int) -> date | None:
        """The registration date of a number (BelgianNumber.key), or None when not listed."""
        return self.lookup(key).listing_date

    def lookup(self, key: int) -> ListAnswer:
        """The listing date of a number together with the snapshot it comes from."""
        with self._lock:
            self._follow()
            if self._connection is None or self._record is None:
                raise IndexUnavailableError(f"{self._paths.directory}: no list snapshot imported")
            try:
                row = self._connection.execute(_LOOKUP, (key,)).fetchone()
            except sqlite3.Error as err:
                raise IndexUnavailableError(f"list snapshot unreadable: {err}") from err
            return ListAnswer(self._record.info, day_of(row[0]) if row else None)

    def refresh(self) -> None:
        """Look at CURRENT now (lookups do this themselves; useful right after a swap)."""
        with self._lock:
            self._follow()

    def close(self) -> None:
        """Drop the connection; a later lookup opens it again."""
        with self._lock:
            self._drop()

    def _follow(self) -> None:
        try:
            stat = os.stat(self._current_text)  # noqa: PTH116 - on every call: no Path overhead
        except FileNotFoundError:
            self._drop()
            return
        except OSError as err:
            raise IndexUnavailableError(f"{self._current}: {err.strerror}") from err
        identity = (stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size)
        if identity == self._identity and self._connection is not None:
            return
        opened = open_current(self._paths)
        if opened is None:
            self._drop()
            return
        connection, record = opened
        self._drop()
        self._connection, self._record, self._identity = connection, record, identity

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection, self._record, self._identity = None, None, None
