"""The node's local copy of the shared acts: microsecond lookups, never older than its bound.

Theory of operation: every change to `gatekeeper.acts` (a new record, a revocation) draws a
`change_seq` in commit order (schema.sql), and fires a `gatekeeper_acts` notification. The
replica holds the live acts in memory, keyed by (advertiser, number). A task keeps one
connection LISTENing; each time a notification arrives, and at least every `POLL_S` without
one, it reads the changes after the last it applied and applies them in order (in pages of
`FETCH_BATCH`, each bounded by `max_lag_ms`, so a first load of many acts is not cut short).
Before sending that read it notes the time: once the read succeeds, every change committed
before that time is applied, so the replica is *confirmed* up to then. The poll is the
heartbeat: a lost notification costs at most `POLL_S`, and a dead server or link leaves the
confirmation to age.
`acts_for` refuses (ActsUnavailableError, which blocks commercial calls with
`acts_unavailable`) once the confirmation is older than `max_lag_ms`, so an act committed on
any node either reaches this node's decisions or blocks them within that bound. The task
reconnects by itself and the first successful read makes the replica current again. A change
sequence lower than the one applied (the database was restored from a backup) reloads
everything. Bounded: at most `MAX_ACTS` live acts are held; past that the replica refuses.

Acts are held as tuples of plain values (kind, day ordinal, time text), not `Act` objects:
containers of atomic values are invisible to Python's cycle collector, whereas 100,000 `Act`
objects made each full collection take hundreds of milliseconds, a pause every call in flight
would wait out. The `Act`s of one number are built on lookup (microseconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from datetime import time as clock_time
from typing import Any

import psycopg
import structlog

from gatekeeper.common import ActsUnavailableError, GatekeeperError
from gatekeeper.config import PostgresSettings
from gatekeeper.rules import Act, ActKind
from gatekeeper.stores.postgres.connect import Connection, connect

POLL_S = 0.2
RETRY_S = 0.5
MAX_ACTS = 2_000_000
CHANNEL = "gatekeeper_acts"
FETCH_BATCH = 10_000

log = structlog.get_logger()

ActPair = tuple[tuple[Act, ...], tuple[Act, ...]]
_Held = tuple[str, int, str | None]
"""An act as held: kind, day ordinal, Belgian civil time as text (or None)."""
_NO_ACTS: ActPair = ((), ())


@dataclass(frozen=True, slots=True)
class ReplicaStatus:
    """What the health check and the metrics show."""

    current: bool
    age_s: float | None
    """Seconds since the last confirmation; None: never confirmed."""
    change_seq: int
    acts: int
    error: str | None


class ActReplica:
    """The live acts of every advertiser, kept current from PostgreSQL."""

    def __init__(self, settings: PostgresSettings, node: str) -> None:
        """Empty and unconfirmed until `start`."""
        self._settings = settings
        self._node = node
        self._max_lag_s = settings.max_lag_ms / 1000
        self._by_key: dict[tuple[str, str], dict[int, _Held]] = {}
        self._key_of: dict[int, tuple[str, str]] = {}
        self._seq = 0
        self._confirmed: float | None = None
        self._error: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._current = asyncio.Event()

    async def start(self, wait_s: float | None = None) -> None:
        """Start the sync task and wait for the first load (at most `wait_s`, default the bound).

        A database that is not there yet is no failure: the replica refuses until it is.
        """
        self._task = asyncio.create_task(self._run(), name="act-replica")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._max_lag_s if wait_s is None else wait_s):
                await self._current.wait()

    async def close(self) -> None:
        """Stop the sync task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def acts_for(self, advertiser: str, e164: str) -> ActPair:
        """The live (objections, consents), or ActsUnavailableError when not current."""
        age = self._age()
        if age is None or age > self._max_lag_s:
            raise ActsUnavailableError(self._why(age))
        held = self._by_key.get((advertiser, e164))
        if not held:
            return _NO_ACTS
        return split_acts(_act(record_id, *fields) for record_id, fields in held.items())

    def status(self) -> ReplicaStatus:
        """Current or not, how old, how far along."""
        age = self._age()
        return ReplicaStatus(
            current=age is not None and age <= self._max_lag_s,
            age_s=age,
            change_seq=self._seq,
            acts=len(self._key_of),
            error=self._error,
        )

    def _age(self) -> float | None:
        return None if self._confirmed is None else time.monotonic() - self._confirmed

    def _why(self, age: float | None) -> str:
        bound = f"{self._max_lag_s * 1000:.0f} ms"
        seen = "never read" if age is None else f"last confirmed {age * 1000:.0f} ms ago"
        cause = f": {self._error}" if self._error else ""
        return f"shared acts not known within {bound} ({seen}){cause}"

    async def _run(self) -> None:
        while True:
            try:
                await self._follow()
            except (GatekeeperError, psycopg.Error, OSError, TimeoutError) as err:
                if self._error is None:
                    log.error("acts_replica_down", node=self._node, error=_short(err))
                self._error = _short(err)
            await asyncio.sleep(RETRY_S)

    async def _follow(self) -> None:
        connection = await connect(self._settings, f"acts replica {self._node}")
        try:
            await connection.execute(f"LISTEN {CHANNEL}")
            while True:
                await self._catch_up(connection)
                async for _ in connection.notifies(timeout=POLL_S, stop_after=1):
                    pass
        finally:
            with contextlib.suppress(psycopg.Error, OSError):
                await connection.close()

    async def _catch_up(self, connection: Connection) -> None:
        asked_at = time.monotonic()
        async with asyncio.timeout(self._max_lag_s):
            top = await (
                await connection.execute("SELECT coalesce(max(change_seq), 0) FROM gatekeeper.acts")
            ).fetchone()
        assert top is not None
        if int(top[0]) < self._seq:
            log.error("acts_sequence_went_back", node=self._node, had=self._seq, now=top[0])
            self._reset()
        while True:
            async with asyncio.timeout(self._max_lag_s):
                rows = await (
                    await connection.execute(
                        "SELECT change_seq, id, kind, advertiser, e164, day, at,"
                        " revoked_at IS NOT NULL FROM gatekeeper.acts WHERE change_seq > %s"
                        " ORDER BY change_seq LIMIT %s",
                        (self._seq, FETCH_BATCH),
                    )
                ).fetchall()
            self._apply(rows)
            if len(rows) < FETCH_BATCH:
                break
        if self._error is not None:
            log.info("acts_replica_current", node=self._node, change_seq=self._seq)
        self._error = None
        self._confirmed = asked_at
        self._current.set()

    def _apply(self, rows: Iterable[tuple[Any, ...]]) -> None:
        for change_seq, record_id, kind, advertiser, e164, day, at, revoked in rows:
            self._drop(int(record_id))
            if not revoked:
                if len(self._key_of) >= MAX_ACTS:
                    raise GatekeeperError(f"over {MAX_ACTS} live acts: the replica holds no more")
                self._add(int(record_id), _key(advertiser, e164), _held(kind, day, at))
            self._seq = int(change_seq)

    def _add(self, record_id: int, key: tuple[str, str], held: _Held) -> None:
        self._by_key.setdefault(key, {})[record_id] = held
        self._key_of[record_id] = key

    def _drop(self, record_id: int) -> None:
        key = self._key_of.pop(record_id, None)
        if key is not None:
            held = self._by_key[key]
            del held[record_id]
            if not held:
                del self._by_key[key]

    def _reset(self) -> None:
        self._by_key.clear()
        self._key_of.clear()
        self._seq = 0


def split_acts(acts: Iterable[Act]) -> ActPair:
    """(objections, consents) of a mixed sequence of acts."""
    objections: list[Act] = []
    consents: list[Act] = []
    for act in acts:
        (consents if act.kind is ActKind.CONSENT else objections).append(act)
    return tuple(objections), tuple(consents)


def _key(advertiser: object, e164: object) -> tuple[str, str]:
    return str(advertiser), str(e164)


def _held(kind: object, day: object, at: object) -> _Held:
    assert isinstance(day, date)
    assert at is None or isinstance(at, clock_time)
    return str(kind), day.toordinal(), None if at is None else at.isoformat()


def _act(record_id: int, kind: str, day: int, at: str | None) -> Act:
    return Act(
        ActKind(kind),
        date.fromordinal(day),
        None if at is None else clock_time.fromisoformat(at),
        str(record_id),
    )


def _short(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__
