"""The decision log's writer: every record committed, in order, before its caller hears back.

Theory of operation: records take one of two lanes to the same file, never both at once.

The fast lane runs on the event loop: a record joins a pending batch and a flush is scheduled
with `call_soon`, so every record that arrives in the same loop iteration shares one commit (a
group commit of about 100 µs, with no thread hop on the hot path). Its connection never waits
for a lock: when another writer (a `gatekeeper check`, a sync, a purge) holds the file, the batch
moves to the slow lane instead of blocking the loop.

The slow lane is a dedicated thread owning its own connection, which waits for locks. Callers'
records (columns already serialised) and futures go on a queue; while any record is in the slow
lane, new records follow it there, so the chain keeps the order of recording. The thread takes
every pending record at once, opens an IMMEDIATE transaction, reads the
chain's head from the file (so other processes appending, such as `gatekeeper check` or a purge,
are chained correctly), gives each record its sequence number, id and hash, inserts them, moves
the head, and commits: a group commit. Only then does it resolve the callers' futures, with one
`call_soon_threadsafe` per batch. If anything fails, the transaction is rolled back and every
caller in the batch gets an AuditError: nothing is silently dropped, and the caller blocks its
call.

The WAL is kept bounded by the writer thread, between batches. A passive checkpoint alone never
lets SQLite reset the WAL under sustained load: the reset happens only when a writer begins
while every frame has been copied back, and with a commit every few milliseconds new frames
always arrive while the checkpoint runs, so the file grew by every commit for ever. So every
`checkpoint_interval_s`, when the WAL file is over `wal_limit_bytes`, the thread first runs a
PASSIVE checkpoint (the long copy, while the fast lane keeps committing), then a RESTART one:
it takes the write lock, copies the few frames committed meanwhile and waits at most
`CHECKPOINT_WAIT_S` for readers to leave the WAL, so that the next commit writes from the start
of the file again and cuts it to `journal_size_limit` (the same limit). TRUNCATE would empty the
file, but cutting tens of megabytes costs 25-45 ms under the lock, RESTART 2-12 ms, and
reusing the file's space is cheaper than growing it again. While it holds the lock
the fast lane finds the file busy and hands its batches to this same thread, which commits them
as soon as the checkpoint is done. A reader that keeps a snapshot longer (a long `audit report`)
makes the RESTART give up after that wait; it is retried at the next interval. No connection
of ours keeps a read transaction open between commits. In WAL mode with synchronous=NORMAL a
commit has reached the operating system when it returns, so it survives the process being
killed; see docs/audit.md for power loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Self, TypeVar

import structlog

from gatekeeper.audit.append import NewRecord, append
from gatekeeper.audit.records import (
    DecisionEntry,
    RecordType,
    canonical_json,
    decision_body,
    details_body,
    utc_text,
)
from gatekeeper.audit.schema import WAL_LIMIT_BYTES, Synchronous, connect_writer
from gatekeeper.errors import AuditError

MAX_BATCH = 512
DEFAULT_BUSY_TIMEOUT_S = 2.0
CHECKPOINT_INTERVAL_S = 1.0
CHECKPOINT_WAIT_S = 0.05
MAX_EVENT_KIND = 64

_Waiter = tuple[NewRecord, asyncio.Future[str]]
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_STOP = None
T = TypeVar("T")
log = structlog.get_logger("gatekeeper.audit")


@dataclasses.dataclass(frozen=True, slots=True)
class _Options:
    synchronous: Synchronous
    busy_timeout_s: float
    wal_limit_bytes: int
    checkpoint_interval_s: float


class DecisionLog:
    """The append-only, hash-chained decision log (one writer thread per open log)."""

    def __init__(self, path: Path, loop: asyncio.AbstractEventLoop, options: _Options) -> None:
        self.path = path
        self._wal = path.with_name(path.name + "-wal")
        self._loop = loop
        self._synchronous = options.synchronous
        self._busy_timeout_s = options.busy_timeout_s
        self._wal_limit_bytes = options.wal_limit_bytes
        self._checkpoint_interval_s = options.checkpoint_interval_s
        self.wal_resets_missed = 0
        self._queue: queue.SimpleQueue[_Waiter | None] = queue.SimpleQueue()
        self._ready: asyncio.Future[None] = loop.create_future()
        self._stopped: asyncio.Future[None] = loop.create_future()
        self._closing = False
        self._fast: sqlite3.Connection | None = None
        self._pending: list[_Waiter] = []
        self._flush_scheduled = False
        self._in_slow_lane = 0
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        synchronous: Synchronous = Synchronous.NORMAL,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        wal_limit_bytes: int = WAL_LIMIT_BYTES,
        checkpoint_interval_s: float = CHECKPOINT_INTERVAL_S,
    ) -> Self:
        """Open (creating if needed) the log at `path` and start its writer thread.

        The WAL is reset whenever it is found over `wal_limit_bytes`, checked every
        `checkpoint_interval_s`.
        """
        options = _Options(synchronous, busy_timeout_s, wal_limit_bytes, checkpoint_interval_s)
        log = cls(path, asyncio.get_running_loop(), options)
        log._thread.start()
        await log._ready
        log._fast = connect_writer(
            path,
            synchronous=synchronous,
            busy_timeout_s=busy_timeout_s,
            wal_limit_bytes=wal_limit_bytes,
        )
        log._fast.execute("PRAGMA busy_timeout=0")
        return log

    def wal_bytes(self) -> int:
        """The size of the WAL file now (0 when there is none)."""
        try:
            return self._wal.stat().st_size
        except FileNotFoundError:
            return 0

    async def record(self, entry: DecisionEntry) -> str:
        """Append a decision; returns its id once committed, else raises AuditError."""
        body = canonical_json(decision_body(entry))
        pending = NewRecord(
            type=RecordType.DECISION,
            at=utc_text(entry.at),
            kind=entry.source,
            campaign=entry.campaign,
            e164=entry.e164,
            verdict=entry.verdict,
            reason=entry.reason,
            uniqueid=entry.uniqueid or None,
            body=body,
        )
        return await self._submit(pending)

    async def record_event(
        self, kind: str, details: Mapping[str, object], *, at: datetime | None = None
    ) -> str:
        """Append an event (list sync, config reload, bypass...) to the same chain.

        `at` is when it happened (default: now); the chain order is the order of recording.
        """
        if not kind or len(kind) > MAX_EVENT_KIND:
            raise AuditError(f"event kind {kind!r} must be 1..{MAX_EVENT_KIND} characters")
        body = canonical_json({"kind": kind, "details": details_body(details)})
        pending = NewRecord(
            type=RecordType.EVENT,
            at=utc_text(at if at is not None else datetime.now(UTC)),
            kind=kind,
            body=body,
        )
        return await self._submit(pending)

    async def record_outcome(self, uniqueid: str, outcome: Mapping[str, object]) -> None:
        """Append what happened to a call, linked to the latest decision for its uniqueid."""
        pending = NewRecord(
            type=RecordType.OUTCOME,
            at=utc_text(datetime.now(UTC)),
            kind="outcome",
            uniqueid=uniqueid,
            body=canonical_json(details_body(outcome)),
        )
        await self._submit(pending)

    async def close(self) -> None:
        """Commit what is pending, then stop the writer thread."""
        if self._closing:
            await asyncio.shield(self._stopped)
            return
        self._closing = True
        self._flush()
        if self._fast is not None:
            self._fast.close()
            self._fast = None
        self._queue.put(_STOP)
        await asyncio.shield(self._stopped)

    async def _submit(self, pending: NewRecord) -> str:
        if self._closing:
            raise AuditError(f"{self.path}: the decision log is closed")
        if not self._thread.is_alive():
            raise AuditError(f"{self.path}: the decision log writer has stopped")
        _refuse_unencodable(pending)
        future: asyncio.Future[str] = self._loop.create_future()
        self._pending.append((pending, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        return await future

    # --- the fast lane, on the event loop -------------------------------------------------

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        batch = [waiter for waiter in pending if not waiter[1].done()]
        if not batch:
            return
        conn = self._fast
        if conn is None or self._in_slow_lane:
            self._to_slow_lane(batch)
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            if err.sqlite_errorcode not in _BUSY_CODES:
                _fail_all([f for _, f in batch], self._write_error(err))
                return
            self._to_slow_lane(batch)
            return
        try:
            ids = append(conn, [record for record, _ in batch])
            conn.execute("COMMIT")
        except Exception as err:  # noqa: BLE001 - any failure fails the batch, never a half-open transaction
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            _fail_all([f for _, f in batch], self._write_error(err))
            return
        _resolve_all([f for _, f in batch], ids)

    def _to_slow_lane(self, batch: list[_Waiter]) -> None:
        self._in_slow_lane += len(batch)
        for waiter in batch:
            self._queue.put(waiter)

    def _left_slow_lane(self, count: int) -> None:
        """The writer thread is done with `count` records (committed, failed or dropped)."""
        self._in_slow_lane -= count

    def _write_error(self, err: Exception) -> AuditError:
        return AuditError(f"{self.path}: cannot write the decision log: {err}")

    # --- the writer thread ---------------------------------------------------------------

    def _run(self) -> None:
        try:
            conn = connect_writer(
                self.path,
                synchronous=self._synchronous,
                busy_timeout_s=self._busy_timeout_s,
                wal_limit_bytes=self._wal_limit_bytes,
            )
        except AuditError as err:
            self._notify(_fail_future, self._ready, err)
            self._notify(_resolve_none, self._stopped)
            return
        self._notify(_resolve_none, self._ready)
        try:
            self._serve(conn)
        finally:
            conn.close()
            self._notify(_resolve_none, self._stopped)

    def _bound_wal(self, conn: sqlite3.Connection) -> None:
        """Between batches: when the WAL is over its limit, copy it back and empty it."""
        if self.wal_bytes() <= self._wal_limit_bytes:
            return
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            conn.execute(f"PRAGMA busy_timeout={int(CHECKPOINT_WAIT_S * 1000)}")
            try:
                busy, _, _ = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            finally:
                conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_s * 1000)}")
        except sqlite3.Error as err:
            busy, reason = 1, f"{type(err).__name__}: {err}"
        else:
            reason = "a reader or another writer kept the file"
        if busy:
            self.wal_resets_missed += 1
            log.warning(
                "audit_wal_not_reset",
                wal_bytes=self.wal_bytes(),
                reason=reason,
                path=str(self._wal),
            )

    def _notify(self, callback: Callable[..., None], *args: object) -> None:
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback, *args)

    def _serve(self, conn: sqlite3.Connection) -> None:
        stopping = False
        next_checkpoint = time.monotonic() + self._checkpoint_interval_s
        while not stopping:
            batch, stopping = self._take(max(0.0, next_checkpoint - time.monotonic()))
            if batch:
                self._commit(conn, batch)
            if time.monotonic() >= next_checkpoint:
                self._bound_wal(conn)
                next_checkpoint = time.monotonic() + self._checkpoint_interval_s
        self._fail_leftovers()

    def _take(self, timeout: float) -> tuple[list[_Waiter], bool]:
        """The pending records (up to MAX_BATCH), waiting at most `timeout`; and whether to stop."""
        batch: list[_Waiter] = []
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return batch, False
        while True:
            if item is _STOP:
                return batch, True
            batch.append(item)
            if len(batch) >= MAX_BATCH:
                return batch, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, False

    def _fail_leftovers(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                error = AuditError(f"{self.path}: the decision log is closed")
                self._notify(_fail_future, item[1], error)
                self._notify(self._left_slow_lane, 1)

    def _commit(self, conn: sqlite3.Connection, batch: list[_Waiter]) -> None:
        live: list[_Waiter] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            live = [waiter for waiter in batch if not waiter[1].cancelled()]
            ids = append(conn, [record for record, _ in live]) if live else []
            conn.execute("COMMIT")
        except Exception as err:  # noqa: BLE001 - any failure fails the batch; the thread lives on
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            self._notify(_fail_all, [f for _, f in batch], self._write_error(err))
        else:
            self._notify(_resolve_all, [f for _, f in live], ids)
        finally:
            self._notify(self._left_slow_lane, len(batch))


def _refuse_unencodable(record: NewRecord) -> None:
    """Text SQLite cannot store (a lone surrogate, say) fails only this record."""
    for value in dataclasses.astuple(record):
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as err:
                raise AuditError(f"record holds text that is not valid Unicode: {err}") from err


def _resolve_none(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _fail_future(future: asyncio.Future[T], error: AuditError) -> None:
    if not future.done():
        future.set_exception(AuditError(str(error)))


def _resolve_all(futures: list[asyncio.Future[str]], ids: list[str]) -> None:
    for future, rid in zip(futures, ids, strict=True):
        if not future.done():
            future.set_result(rid)


def _fail_all(futures: list[asyncio.Future[str]], error: AuditError) -> None:
    for future in futures:
        _fail_future(future, error)
