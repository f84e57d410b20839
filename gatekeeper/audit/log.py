"""The decision log's writer: every record committed, in order, before its caller hears back.

Theory of operation: one dedicated thread owns a plain sqlite3 connection. Callers on the event
loop put a pending record (its columns, already serialised) and a future on a queue and await the
future. The thread takes every pending record at once, opens an IMMEDIATE transaction, reads the
chain's head from the file (so other processes appending, such as `gatekeeper check` or a purge,
are chained correctly), gives each record its sequence number, id and hash, inserts them, moves
the head, and commits: a group commit. Only then does it resolve the callers' futures, with one
`call_soon_threadsafe` per batch. If anything fails, the transaction is rolled back and every
caller in the batch gets an AuditError: nothing is silently dropped, and the caller blocks its
call. In WAL mode with synchronous=NORMAL a commit has reached the operating system when it
returns, so it survives the process being killed; see docs/audit.md for power loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Self, TypeVar

from gatekeeper.audit.chain import record_hash
from gatekeeper.audit.ids import record_id
from gatekeeper.audit.records import (
    DecisionEntry,
    RecordType,
    canonical_json,
    decision_body,
    details_body,
    utc_text,
)
from gatekeeper.audit.schema import Synchronous, connect_writer, read_head
from gatekeeper.errors import AuditError

MAX_BATCH = 512
DEFAULT_BUSY_TIMEOUT_S = 2.0
MAX_EVENT_KIND = 64

_INSERT = (
    "INSERT INTO chain (seq, id, type, at, kind, campaign, e164, verdict, reason, uniqueid,"
    " body, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_MOVE_HEAD = "UPDATE head SET seq = ?, hash = ?, millis = ? WHERE one = 1"
_DECISION_OF_UNIQUEID = (
    "SELECT id FROM chain WHERE type = 'decision' AND uniqueid = ? ORDER BY seq DESC LIMIT 1"
)


@dataclass(frozen=True, slots=True)
class _Pending:
    """A record waiting for its place in the chain."""

    type: RecordType
    at: str
    kind: str
    campaign: str | None
    e164: str | None
    verdict: str | None
    reason: str | None
    uniqueid: str | None
    body: str
    outcome_of: str | None = None


_Waiter = tuple[_Pending, asyncio.Future[str]]
_STOP = None
T = TypeVar("T")


class DecisionLog:
    """The append-only, hash-chained decision log (one writer thread per open log)."""

    def __init__(
        self,
        path: Path,
        loop: asyncio.AbstractEventLoop,
        synchronous: Synchronous,
        busy_timeout_s: float,
    ) -> None:
        self.path = path
        self._loop = loop
        self._synchronous = synchronous
        self._busy_timeout_s = busy_timeout_s
        self._queue: queue.SimpleQueue[_Waiter | None] = queue.SimpleQueue()
        self._ready: asyncio.Future[None] = loop.create_future()
        self._stopped: asyncio.Future[None] = loop.create_future()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        synchronous: Synchronous = Synchronous.NORMAL,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    ) -> Self:
        """Open (creating if needed) the log at `path` and start its writer thread."""
        log = cls(path, asyncio.get_running_loop(), synchronous, busy_timeout_s)
        log._thread.start()
        await log._ready
        return log

    async def record(self, entry: DecisionEntry) -> str:
        """Append a decision; returns its id once committed, else raises AuditError."""
        body = canonical_json(decision_body(entry))
        pending = _Pending(
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

    async def record_event(self, kind: str, details: Mapping[str, object]) -> str:
        """Append an event (list sync, config reload, bypass...) to the same chain."""
        if not kind or len(kind) > MAX_EVENT_KIND:
            raise AuditError(f"event kind {kind!r} must be 1..{MAX_EVENT_KIND} characters")
        body = canonical_json({"kind": kind, "details": details_body(details)})
        pending = _Pending(
            type=RecordType.EVENT,
            at=utc_text(datetime.now(UTC)),
            kind=kind,
            campaign=None,
            e164=None,
            verdict=None,
            reason=None,
            uniqueid=None,
            body=body,
        )
        return await self._submit(pending)

    async def record_outcome(self, uniqueid: str, outcome: Mapping[str, object]) -> None:
        """Append what happened to a call, linked to the latest decision for its uniqueid."""
        pending = _Pending(
            type=RecordType.OUTCOME,
            at=utc_text(datetime.now(UTC)),
            kind="outcome",
            campaign=None,
            e164=None,
            verdict=None,
            reason=None,
            uniqueid=uniqueid,
            body=canonical_json(details_body(outcome)),
            outcome_of=uniqueid,
        )
        await self._submit(pending)

    async def close(self) -> None:
        """Commit what is pending, then stop the writer thread."""
        if self._closing:
            await asyncio.shield(self._stopped)
            return
        self._closing = True
        self._queue.put(_STOP)
        await asyncio.shield(self._stopped)

    async def _submit(self, pending: _Pending) -> str:
        if self._closing:
            raise AuditError(f"{self.path}: the decision log is closed")
        if not self._thread.is_alive():
            raise AuditError(f"{self.path}: the decision log writer has stopped")
        future: asyncio.Future[str] = self._loop.create_future()
        self._queue.put((pending, future))
        return await future

    # --- the writer thread ---------------------------------------------------------------

    def _run(self) -> None:
        try:
            conn = connect_writer(
                self.path, synchronous=self._synchronous, busy_timeout_s=self._busy_timeout_s
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
        stopping = False
        while not stopping:
            batch: list[_Waiter] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    batch.append(item)
                if len(batch) >= MAX_BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._commit(conn, batch)
        self._fail_leftovers()

    def _fail_leftovers(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                error = AuditError(f"{self.path}: the decision log is closed")
                self._notify(_fail_future, item[1], error)

    def _commit(self, conn: sqlite3.Connection, batch: list[_Waiter]) -> None:
        try:
            ids = self._append(conn, [pending for pending, _ in batch])
        except (sqlite3.Error, OSError) as err:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            error = AuditError(f"{self.path}: cannot write the decision log: {err}")
            self._notify(_fail_all, [f for _, f in batch], error)
            return
        self._notify(_resolve_all, [f for _, f in batch], ids)

    def _append(self, conn: sqlite3.Connection, records: list[_Pending]) -> list[str]:
        conn.execute("BEGIN IMMEDIATE")
        head, last_millis = read_head(conn)
        seq, prev_hash = head.seq, head.hash
        millis = max(last_millis, time.time_ns() // 1_000_000)
        ids: list[str] = []
        rows: list[tuple[object, ...]] = []
        for pending in records:
            seq += 1
            rid = record_id(millis, seq)
            body = pending.body
            if pending.outcome_of is not None:
                body = self._outcome_body(conn, pending.outcome_of, body, rows)
            content = (
                seq,
                rid,
                pending.type.value,
                pending.at,
                pending.kind,
                pending.campaign,
                pending.e164,
                pending.verdict,
                pending.reason,
                pending.uniqueid,
                body,
                prev_hash,
            )
            digest = record_hash(content)
            rows.append((*content, digest))
            ids.append(rid)
            prev_hash = digest
        conn.executemany(_INSERT, rows)
        conn.execute(_MOVE_HEAD, (seq, prev_hash, millis))
        conn.execute("COMMIT")
        return ids

    @staticmethod
    def _outcome_body(
        conn: sqlite3.Connection, uniqueid: str, outcome: str, batch_rows: list[tuple[object, ...]]
    ) -> str:
        decision_id: str | None = None
        for row in reversed(batch_rows):
            if row[2] == RecordType.DECISION.value and row[9] == uniqueid:
                decision_id = str(row[1])
                break
        if decision_id is None:
            found = conn.execute(_DECISION_OF_UNIQUEID, (uniqueid,)).fetchone()
            decision_id = str(found[0]) if found is not None else None
        details = json.loads(outcome)
        return canonical_json(
            {"decision_id": decision_id, "outcome": details, "uniqueid": uniqueid}
        )


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
