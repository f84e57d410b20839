"""Ships this node's decision log to the central copy in PostgreSQL: in order, resumable, once.

Theory of operation: the local log stays the proof that comes first: every record is committed
there before its answer, whatever PostgreSQL does. The shipper only reads the committed local
log (read-only, its own connection) and copies it. At each (re)connection it asks the central
copy for the last sequence number and hash it holds for this node, and checks the local record
at that number has the same hash (a local log that differs from what was shipped is an alarm,
never overwritten). Then it sends the following records in batches of `BATCH`, each batch one
transaction, so a batch is in the central copy whole or not at all; the central table accepts a
node's record only right after the previous one with the matching link (schema.sql), and
`(node, seq)` is its key, so nothing is lost, reordered or duplicated, even by two shippers at
once. A node cut off keeps deciding and keeps its backlog; when the database returns the
shipper resumes from what the central copy says it holds. Lag (records and the age of the
oldest record not shipped) goes to the metrics and to `/healthz`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import structlog

from gatekeeper.audit import SELECT_RECORDS, StoredRecord, connect_reader, to_record
from gatekeeper.common import GatekeeperError
from gatekeeper.config import PostgresSettings, Settings
from gatekeeper.stores.postgres.connect import Connection, connect

BATCH = 200
IDLE_S = 0.1
RETRY_S = (0.5, 1.0, 2.0, 5.0, 10.0)
LAG_ALERT_S = 60.0
"""Records older than this still not shipped fail `/healthz`."""

log = structlog.get_logger()

_INSERT = (
    "INSERT INTO gatekeeper.decision_log (node, seq, id, type, at, kind, campaign, e164,"
    " verdict, reason, uniqueid, body, prev_hash, hash, pbx)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def log_shipper(settings: Settings, log_path: Path) -> LogShipper | None:
    """The shipper `central_log.postgresql` asks for, or None when it is not set."""
    if settings.central_log is None:
        return None
    assert settings.node is not None, "config.py requires node with central_log"
    return LogShipper(settings.central_log, settings.node, log_path)


class CentralLogDivergedError(GatekeeperError):
    """The central copy holds, for this node, a record the local log does not."""


@dataclass(frozen=True, slots=True)
class ShipperStatus:
    """How far the central copy is behind the local log."""

    shipped_seq: int | None
    """The last sequence number the central copy holds for this node; None: not known yet."""
    local_seq: int
    lag_records: int
    lag_s: float
    """Age of the oldest record not shipped; 0 when none is waiting."""
    error: str | None


class LogShipper:
    """Copies one node's committed local records to the central decision log."""

    def __init__(self, settings: PostgresSettings, node: str, log_path: Path) -> None:
        """Nothing runs until `run`."""
        self._settings = settings
        self._node = node
        self._path = log_path
        self._shipped: int | None = None
        self._local = 0
        self._oldest_waiting: datetime | None = None
        self._error: str | None = None

    def status(self) -> ShipperStatus:
        """Where shipping stands now."""
        shipped = self._shipped or 0
        lag_s = 0.0
        if self._oldest_waiting is not None and self._local > shipped:
            lag_s = max(0.0, (datetime.now(UTC) - self._oldest_waiting).total_seconds())
        return ShipperStatus(
            self._shipped, self._local, max(0, self._local - shipped), lag_s, self._error
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Ship until `stop`; every failure is logged once, retried with a growing pause."""
        failures = 0
        while not stop.is_set():
            try:
                await self._ship_while_connected(stop)
            except (GatekeeperError, psycopg.Error, OSError, sqlite3.Error, TimeoutError) as err:
                text = _short(err)
                if self._error != text:
                    log.error("central_log_unavailable", node=self._node, error=text)
                self._error = text
                failures += 1
                await self._refresh_backlog()
            await _pause(stop, RETRY_S[min(failures, len(RETRY_S)) - 1] if failures else IDLE_S)

    async def _refresh_backlog(self) -> None:
        """While cut off: how much is waiting, and since when, for the lag figures."""
        try:
            waiting, self._local = await asyncio.to_thread(self._read_after, self._shipped or 0, 1)
        except (GatekeeperError, sqlite3.Error):
            return
        self._oldest_waiting = datetime.fromisoformat(waiting[0].at) if waiting else None

    async def ship_once(self) -> int:
        """Connect, ship everything committed so far, disconnect; how many were shipped."""
        connection = await connect(self._settings, f"shipper {self._node}")
        try:
            await self._resume(connection)
            total = 0
            while sent := await self._ship_batch(connection):
                total += sent
            return total
        finally:
            await connection.close()

    async def _ship_while_connected(self, stop: asyncio.Event) -> None:
        connection = await connect(self._settings, f"shipper {self._node}")
        try:
            await self._resume(connection)
            if self._error is not None:
                log.info("central_log_resumed", node=self._node, shipped_seq=self._shipped)
                self._error = None
            while not stop.is_set():
                if not await self._ship_batch(connection):
                    await _pause(stop, IDLE_S)
        finally:
            with contextlib.suppress(psycopg.Error, OSError):
                await connection.close()

    async def _resume(self, connection: Connection) -> None:
        row = await (
            await connection.execute(
                "SELECT seq, hash FROM gatekeeper.decision_log WHERE node = %s"
                " ORDER BY seq DESC LIMIT 1",
                (self._node,),
            )
        ).fetchone()
        if row is None:
            self._shipped = 0
            return
        seq, central_hash = int(row[0]), str(row[1])
        local = await asyncio.to_thread(self._local_hash, seq)
        if local is not None and local != central_hash:
            raise CentralLogDivergedError(
                f"record {seq} of node {self._node} differs between the local log ({local[:12]})"
                f" and the central copy ({central_hash[:12]}): the local log was changed after"
                " it was shipped; shipping stopped"
            )
        self._shipped = seq

    async def _ship_batch(self, connection: Connection) -> int:
        assert self._shipped is not None
        records, head = await asyncio.to_thread(self._read_after, self._shipped)
        self._local = head
        self._oldest_waiting = datetime.fromisoformat(records[0].at) if records else None
        if not records:
            return 0
        async with connection.transaction(), connection.cursor() as cursor:
            await cursor.executemany(_INSERT, [self._row(record) for record in records])
        self._shipped = records[-1].seq
        return len(records)

    def _row(self, record: StoredRecord) -> tuple[object, ...]:
        return (self._node, *record.content(), record.hash, _pbx_of(record.body))

    def _read_after(self, seq: int, limit: int = BATCH) -> tuple[list[StoredRecord], int]:
        conn = connect_reader(self._path)
        try:
            conn.execute("BEGIN")
            rows = conn.execute(
                f"{SELECT_RECORDS} WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
            ).fetchall()
            (head,) = conn.execute("SELECT coalesce(max(seq), 0) FROM chain").fetchone()
        finally:
            conn.close()
        return [to_record(tuple(row)) for row in rows], int(head)

    def _local_hash(self, seq: int) -> str | None:
        conn = connect_reader(self._path)
        try:
            row = conn.execute("SELECT hash FROM chain WHERE seq = ?", (seq,)).fetchone()
        finally:
            conn.close()
        return None if row is None else str(row[0])


def _pbx_of(body: str) -> str | None:
    """The PBX a decision names (`pbx` in its body), if any."""
    try:
        value = json.loads(body).get("pbx")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()


def _short(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__
