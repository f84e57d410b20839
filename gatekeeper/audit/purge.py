"""Retention: remove the records older than the retention period, keeping the chain verifiable.

Theory of operation: only a prefix of the chain is ever removed (everything before the first
record that is still within the retention period), in slices so the service's writer never
waits long for the lock. Each slice is one transaction that deletes the records and appends a
checkpoint record to the chain carrying the last removed sequence number, its hash and the
counts removed. The first remaining record links to that hash, so `verify` still proves the
rest of the chain, and the checkpoint itself is chained like any other record.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gatekeeper.audit.append import NewRecord, append
from gatekeeper.audit.records import EventKind, RecordType, canonical_json, utc_text
from gatekeeper.audit.schema import Synchronous, connect_writer
from gatekeeper.common import AuditError

PURGE_SLICE = 10_000
PURGE_BUSY_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What a purge removed (or, in a dry run, would remove)."""

    removed: int
    by_type: dict[str, int]
    through_seq: int | None
    checkpoints: tuple[str, ...]


def purge_before(
    path: Path, cutoff: datetime, *, dry_run: bool = False, slice_records: int = PURGE_SLICE
) -> PurgeResult:
    """Remove every record of the chain's prefix older than `cutoff` (timezone-aware)."""
    if not path.is_file():
        raise AuditError(f"{path}: no decision log here")
    cutoff_text = utc_text(cutoff)
    conn = connect_writer(path, synchronous=Synchronous.FULL, busy_timeout_s=PURGE_BUSY_TIMEOUT_S)
    try:
        if dry_run:
            return _count(conn, cutoff_text)
        return _purge(conn, cutoff_text, slice_records)
    except sqlite3.Error as err:
        raise AuditError(f"{path}: purge stopped, the slice in progress was kept: {err}") from err
    finally:
        conn.close()


def _boundary(conn: sqlite3.Connection, cutoff: str) -> int:
    """The last sequence number that may go: just before the first record still kept."""
    (first_kept,) = conn.execute("SELECT MIN(seq) FROM chain WHERE at >= ?", (cutoff,)).fetchone()
    if first_kept is not None:
        return int(first_kept) - 1
    (last,) = conn.execute("SELECT MAX(seq) FROM chain").fetchone()
    return int(last or 0)


def _counts(conn: sqlite3.Connection, upto: int) -> Counter[str]:
    rows = conn.execute(
        "SELECT type, COUNT(*) FROM chain WHERE seq <= ? GROUP BY type", (upto,)
    ).fetchall()
    return Counter({str(kind): int(count) for kind, count in rows})


def _count(conn: sqlite3.Connection, cutoff: str) -> PurgeResult:
    boundary = _boundary(conn, cutoff)
    counts = _counts(conn, boundary)
    removed = sum(counts.values())
    return PurgeResult(removed, dict(counts), boundary if removed else None, ())


def _purge(conn: sqlite3.Connection, cutoff: str, slice_records: int) -> PurgeResult:
    total: Counter[str] = Counter()
    checkpoints: list[str] = []
    through: int | None = None
    while True:
        conn.execute("BEGIN IMMEDIATE")
        boundary = _boundary(conn, cutoff)
        (first,) = conn.execute("SELECT MIN(seq) FROM chain").fetchone()
        if first is None or first > boundary:
            conn.execute("ROLLBACK")
            break
        upto = min(boundary, int(first) + slice_records - 1)
        counts = _counts(conn, upto)
        (last_hash,) = conn.execute("SELECT hash FROM chain WHERE seq = ?", (upto,)).fetchone()
        conn.execute("DELETE FROM chain WHERE seq <= ?", (upto,))
        checkpoint = NewRecord(
            type=RecordType.CHECKPOINT,
            at=utc_text(datetime.now(UTC)),
            kind=EventKind.PURGE,
            body=canonical_json(
                {
                    "purged_through_seq": upto,
                    "purged_last_hash": str(last_hash),
                    "purged_before": cutoff,
                    "counts": dict(sorted(counts.items())),
                }
            ),
        )
        checkpoints.extend(append(conn, [checkpoint]))
        conn.execute("COMMIT")
        total.update(counts)
        through = upto
    return PurgeResult(sum(total.values()), dict(total), through, tuple(checkpoints))
