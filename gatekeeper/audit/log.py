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
every pending record at once, opens an IMMEDIATE transaction, reads the chain's head from the
file (so other processes appending, such as `gatekeeper check` or a purge, are chained
correctly), gives each record its sequence number, id and hash, inserts them, moves the head,
and commits: a group commit. Only then does it resolve the callers' futures, with one
`call_soon_threadsafe` per batch. If anything fails, the transaction is rolled back and every
caller in the batch gets an AuditError: nothing is silently dropped, and the caller blocks its
call.

A caller may stop waiting (the checker's deadline). Its record is then withdrawn, unless the
thread has already taken it into a transaction that holds the lock: that commit is only IO, so
the caller waits up to COMMIT_GRACE_S more for its outcome rather than guess. A caller that has
answered a decision without a committed record (a BLOCK) hands the log a *late* record of what
it answered, with the true decision time and why it is late (`record_late`). Late records wait
in the same order as every other record, in memory bounded by `max_late` (a full queue refuses
the record, counts it, and puts its content in the service log); nobody awaits them, so when a
commit fails the thread keeps them and tries again (at once after a lock wait; otherwise after
`late_retry_s`, or as soon as a new record arrives, so a decision taken once the file is
writable again is committed at once, not after the pause) instead of failing them, and only a
close with the file still unwritable drops them, again into the service log.

The WAL is kept bounded by the writer thread, between batches. A passive checkpoint alone never
lets SQLite reset the WAL under sustained load: the reset happens only when a writer begins
while every frame has been copied back, and with a commit every few milliseconds new frames
always arrive while the checkpoint runs, so the file grew by every commit for ever. So every
`checkpoint_interval_s` the thread runs a PASSIVE checkpoint (`wal.copy_back`: the last
interval's frames, copied while the fast lane keeps committing), and when the WAL file is over
`wal_limit_bytes`, right after it a RESTART one (`wal.reset_wal`), which takes the write lock,
copies the few frames committed during the PASSIVE and waits at most `wal.CHECKPOINT_WAIT_S`
for readers to leave the WAL, so that the next commit writes from the start of the file again
and cuts it to `journal_size_limit` (the same limit). Copying only one interval's frames
before the RESTART keeps the lock short (3-30 ms, against 6-40 ms after a PASSIVE of the whole
WAL); TRUNCATE would empty the file, but cutting tens of megabytes costs 25-45 ms under the
lock, and reusing the file's space is cheaper than growing it again. While the RESTART holds
the lock the fast lane finds the file busy and hands its batches to this same thread, which
commits them as soon as the checkpoint is done. A reader that keeps a snapshot longer (a long
`audit report`) makes the RESTART give up after that wait; it is retried at the next interval.
No connection of ours keeps a read transaction open between commits. In WAL mode with
synchronous=NORMAL a commit has reached the operating system when it returns, so it survives
the process being killed; see docs/audit.md for power loss.
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
    EventKind,
    RecordType,
    canonical_json,
    decision_body,
    details_body,
    utc_text,
)
from gatekeeper.audit.schema import WAL_LIMIT_BYTES, Synchronous, connect_writer
from gatekeeper.audit.wal import copy_back, reset_wal, wal_bytes, wal_file
from gatekeeper.common import AuditError

MAX_BATCH = 512
DEFAULT_BUSY_TIMEOUT_S = 2.0
CHECKPOINT_INTERVAL_S = 1.0
MAX_EVENT_KIND = 64
MAX_LATE_RECORDS = 10_000
"""Late records kept in memory at most (about 1 KB each)."""
LATE_RETRY_S = 1.0
COMMIT_GRACE_S = 0.5

_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_STOP = None
T = TypeVar("T")
log = structlog.get_logger("gatekeeper.audit")


class _Waiter:
    """A record on its way to the chain, and its caller's future (None: a late record)."""

    __slots__ = ("future", "record", "taken", "withdrawn")

    def __init__(self, record: NewRecord, future: asyncio.Future[str] | None) -> None:
        self.record = record
        self.future = future
        self.taken = False
        self.withdrawn = False


@dataclasses.dataclass(frozen=True, slots=True)
class _Options:
    synchronous: Synchronous
    busy_timeout_s: float
    wal_limit_bytes: int
    checkpoint_interval_s: float
    max_late: int
    late_retry_s: float


class DecisionLog:
    """The append-only, hash-chained decision log (one writer thread per open log)."""

    def __init__(self, path: Path, loop: asyncio.AbstractEventLoop, options: _Options) -> None:
        self.path = path
        self._loop = loop
        self._options = options
        self.wal_resets_missed = 0
        self.late_pending = 0
        """Late records waiting to be committed."""
        self.late_refused = 0
        """Late records refused (queue full, log closed) since the log was opened."""
        self._lock = threading.Lock()
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
    async def open(  # noqa: PLR0913 - keyword-only limits, each with a documented default
        cls,
        path: Path,
        *,
        synchronous: Synchronous = Synchronous.NORMAL,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        wal_limit_bytes: int = WAL_LIMIT_BYTES,
        checkpoint_interval_s: float = CHECKPOINT_INTERVAL_S,
        max_late: int = MAX_LATE_RECORDS,
        late_retry_s: float = LATE_RETRY_S,
    ) -> Self:
        """Open (creating if needed) the log at `path` and start its writer thread.

        The WAL is reset whenever it is found over `wal_limit_bytes`, checked every
        `checkpoint_interval_s`; at most `max_late` late records wait in memory, tried again
        every `late_retry_s` (or when a new record comes) while the file refuses them.
        """
        options = _Options(
            synchronous,
            busy_timeout_s,
            wal_limit_bytes,
            checkpoint_interval_s,
            max_late,
            late_retry_s,
        )
        decision_log = cls(path, asyncio.get_running_loop(), options)
        decision_log._thread.start()
        await decision_log._ready
        fast = connect_writer(
            path,
            synchronous=synchronous,
            busy_timeout_s=busy_timeout_s,
            wal_limit_bytes=wal_limit_bytes,
        )
        fast.execute("PRAGMA busy_timeout=0")
        decision_log._fast = fast
        return decision_log

    @property
    def max_late(self) -> int:
        """How many late records may wait in memory."""
        return self._options.max_late

    def wal_bytes(self) -> int:
        """The size of the WAL file now (0 when there is none)."""
        return wal_bytes(self.path)

    async def record(self, entry: DecisionEntry) -> str:
        """Append a decision; returns its id once committed, else raises AuditError."""
        return await self._submit(_decision_record(entry, decision_body(entry)))

    def record_late(self, entry: DecisionEntry, why: str) -> bool:
        """Queue the record of a decision already answered without a committed record.

        The caller answered it (a BLOCK, without a decision id) because `record` failed or was
        too slow; `why` says so. The record keeps `entry.at`, the decision time, and carries
        `late: {why, answered}` in its body. It is committed as soon as the file can be
        written, in recording order. Returns False, after putting the whole record in the
        service log, when it cannot be kept (late queue full, log closed).
        """
        body = decision_body(entry)
        body["late"] = {"why": why, "answered": utc_text(datetime.now(UTC))}
        record = _decision_record(entry, body)
        refusal = None
        if self._closing or not self._thread.is_alive():
            refusal = "the decision log is closed"
        elif self.late_pending >= self.max_late:
            refusal = f"{self.late_pending} late records already wait (the limit)"
        else:
            try:
                _refuse_unencodable(record)
            except AuditError as err:
                refusal = str(err)
        if refusal is not None:
            self.late_refused += 1
            log.error("late_decision_refused", reason=refusal, record=record.body)
            return False
        self.late_pending += 1
        self._enqueue(_Waiter(record, None))
        return True

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
            kind=EventKind.OUTCOME,
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
        waiter = _Waiter(pending, future)
        self._enqueue(waiter)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                return future.result()  # settled before the caller gave up: that is its answer
            if self._withdraw(waiter):
                raise
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(asyncio.shield(future), COMMIT_GRACE_S)
            future.add_done_callback(_committed_unheard)
            raise

    def _enqueue(self, waiter: _Waiter) -> None:
        self._pending.append(waiter)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _withdraw(self, waiter: _Waiter) -> bool:
        """Take back a record its caller no longer waits for; False once a commit has it."""
        with self._lock:
            if waiter.taken:
                return False
            waiter.withdrawn = True
        if waiter.future is not None:
            waiter.future.cancel()
        return True

    # --- the fast lane, on the event loop -------------------------------------------------

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        batch = [waiter for waiter in pending if not waiter.withdrawn]
        if not batch:
            return
        conn = self._fast
        if conn is None or self._in_slow_lane:
            self._to_slow_lane(batch)
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            if err.sqlite_errorcode in _BUSY_CODES:
                self._to_slow_lane(batch)
            else:
                self._failed(batch, err)
            return
        try:
            ids = append(conn, [waiter.record for waiter in batch])
            conn.execute("COMMIT")
        except Exception as err:  # noqa: BLE001 - any failure fails the batch, never a half-open transaction
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            self._failed(batch, err)
            return
        self._committed(batch, ids)

    def _failed(self, batch: list[_Waiter], err: Exception) -> None:
        """A fast-lane commit failed: its callers hear why; late records retry in the slow lane."""
        error = self._write_error(err)
        for waiter in batch:
            if waiter.future is not None:
                _fail_future(waiter.future, error)
        self._to_slow_lane([waiter for waiter in batch if waiter.future is None])

    def _committed(self, batch: list[_Waiter], ids: list[str]) -> None:
        for waiter, rid in zip(batch, ids, strict=True):
            if waiter.future is None:
                self.late_pending -= 1
                uniqueid = waiter.record.uniqueid
                log.warning("decision_recorded_late", decision_id=rid, uniqueid=uniqueid)
            elif not waiter.future.done():
                waiter.future.set_result(rid)

    def _to_slow_lane(self, batch: list[_Waiter]) -> None:
        self._in_slow_lane += len(batch)
        for waiter in batch:
            self._queue.put(waiter)

    def _left_slow_lane(self, count: int) -> None:
        """The writer thread is done with `count` records (committed, failed or dropped)."""
        self._in_slow_lane -= count

    def _write_error(self, err: Exception) -> AuditError:
        return AuditError(f"{self.path}: cannot write the decision log: {_error_text(err)}")

    # --- the writer thread ---------------------------------------------------------------

    def _run(self) -> None:
        try:
            conn = connect_writer(
                self.path,
                synchronous=self._options.synchronous,
                busy_timeout_s=self._options.busy_timeout_s,
                wal_limit_bytes=self._options.wal_limit_bytes,
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

    def _notify(self, callback: Callable[..., None], *args: object) -> None:
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback, *args)

    def _serve(self, conn: sqlite3.Connection) -> None:
        interval = self._options.checkpoint_interval_s
        stopping = False
        retry: list[_Waiter] = []
        pause = 0.0
        next_checkpoint = time.monotonic() + interval
        while not stopping:
            wait = max(0.0, next_checkpoint - time.monotonic())
            fresh, stopping = self._take(pause if retry else wait)
            if retry or fresh:
                retry, pause = self._commit(conn, retry + fresh)
            if time.monotonic() >= next_checkpoint:
                self._bound_wal(conn)
                next_checkpoint = time.monotonic() + interval
        if retry:
            retry, _ = self._commit(conn, retry)
        for waiter in retry:
            log.error("late_decision_lost", reason="closed unwritable", record=waiter.record.body)
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

    def _bound_wal(self, conn: sqlite3.Connection) -> None:
        """Between batches: copy the WAL back, and reset it when over its limit (module notes)."""
        why = copy_back(conn)
        if self.wal_bytes() <= self._options.wal_limit_bytes:
            return
        if why is None:
            why = reset_wal(conn, self._options.busy_timeout_s)
        if why is not None:
            self.wal_resets_missed += 1
            log.warning(
                "audit_wal_not_reset",
                wal_bytes=self.wal_bytes(),
                reason=why,
                path=str(wal_file(self.path)),
            )

    def _fail_leftovers(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                if item.future is None:
                    log.error("late_decision_lost", reason="log closed", record=item.record.body)
                else:
                    error = AuditError(f"{self.path}: the decision log is closed")
                    self._notify(_fail_future, item.future, error)
                self._notify(self._left_slow_lane, 1)

    def _commit(
        self, conn: sqlite3.Connection, batch: list[_Waiter]
    ) -> tuple[list[_Waiter], float]:
        """Commit `batch`; the late records to try again, and the pause before trying them.

        The pause (`late_retry_s` after a failure that was not a lock wait) ends early when a
        new record arrives.
        """
        try:
            conn.execute("BEGIN IMMEDIATE")
            with self._lock:
                live = [waiter for waiter in batch if not waiter.withdrawn]
                for waiter in live:
                    waiter.taken = True
            ids = append(conn, [waiter.record for waiter in live]) if live else []
            conn.execute("COMMIT")
        except Exception as err:  # noqa: BLE001 - any failure fails the batch; the thread lives on
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            retry = [waiter for waiter in batch if waiter.future is None]
            callers = [waiter.future for waiter in batch if waiter.future is not None]
            self._notify(_fail_all, callers, self._write_error(err))
            self._notify(self._left_slow_lane, len(batch) - len(retry))
            if retry and not _is_busy(err):
                log.warning("late_decisions_waiting", count=len(retry), error=_error_text(err))
                return retry, self._options.late_retry_s
            return retry, 0.0
        self._notify(self._committed, live, ids)
        self._notify(self._left_slow_lane, len(batch))
        return [], 0.0


def _decision_record(entry: DecisionEntry, body: dict[str, object]) -> NewRecord:
    return NewRecord(
        type=RecordType.DECISION,
        at=utc_text(entry.at),
        kind=entry.source,
        campaign=entry.campaign,
        e164=entry.e164,
        verdict=entry.verdict,
        reason=entry.reason,
        uniqueid=entry.uniqueid or None,
        body=canonical_json(body),
    )


def _error_text(err: BaseException) -> str:
    """An exception as text that is never empty."""
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else repr(err)


def _is_busy(err: Exception) -> bool:
    return isinstance(err, sqlite3.OperationalError) and err.sqlite_errorcode in _BUSY_CODES


def _committed_unheard(future: asyncio.Future[str]) -> None:
    """A commit that ended after its caller stopped waiting (a disk stalled mid-commit)."""
    if future.cancelled():
        return
    if (error := future.exception()) is not None:
        log.error("decision_commit_failed_unheard", error=_error_text(error))
    else:
        log.error("decision_committed_after_answer", decision_id=future.result())


_RECORD_FIELDS = tuple(field.name for field in dataclasses.fields(NewRecord))


def _refuse_unencodable(record: NewRecord) -> None:
    """Text SQLite cannot store (a lone surrogate, say) fails only this record.

    Every field of a record is flat text (the entry's nested parts are already canonical JSON in
    `body`), so reading the fields, without copying them, sees every string. ASCII text always
    encodes (`str.isascii` reads a flag the string already carries), so only other text is
    encoded to find out.
    """
    for name in _RECORD_FIELDS:
        value = getattr(record, name)
        if isinstance(value, str) and not value.isascii():
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


def _fail_all(futures: list[asyncio.Future[str]], error: AuditError) -> None:
    for future in futures:
        _fail_future(future, error)
