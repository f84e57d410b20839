"""Consents and objections in PostgreSQL, shared by every node, behind the `ActStore` protocol.

Theory of operation: the table and its rules mirror the SQLite store (schema.sql): a record is
never deleted and only revoked once, identical live records are stored once, and each change
draws a `change_seq` in commit order. The command line writes and reads here directly. On the
call path `acts_for` answers from an `ActReplica` (replica.py) when one is attached, which is
how `serve` runs: the direct query is kept for one-off commands (`check`, `consent show`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

import psycopg

from gatekeeper.common import StoreError
from gatekeeper.config import PostgresSettings
from gatekeeper.consent import ActRecord, AddResult, RecordKind, StoredRecord, revoked
from gatekeeper.rules import Act, ActKind
from gatekeeper.stores.postgres.connect import Connection, connect
from gatekeeper.stores.postgres.replica import ActReplica, split_acts

_COLUMNS = (
    "id, kind, advertiser, e164, day, at, source, reference, created_at, revoked_at, revoke_reason"
)
_INSERT = (
    "INSERT INTO gatekeeper.acts (kind, advertiser, e164, day, at, source, reference, created_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id"
)
_INSERT_MANY = _INSERT.removesuffix(" RETURNING id")
_TWIN = (
    f"SELECT {_COLUMNS} FROM gatekeeper.acts WHERE kind = %s AND advertiser = %s AND e164 = %s"
    " AND day = %s AND at IS NOT DISTINCT FROM %s AND source = %s AND reference = %s"
    " AND revoked_at IS NULL"
)


async def open_postgres_act_store(
    settings: PostgresSettings, node: str, *, replicate: bool
) -> PostgresActStore:
    """Connect; with `replicate`, start the local replica the call path reads instead.

    With a replica the store opens even when the database is unreachable (the replica refuses
    until it is back, and the direct connection is made on first use); without one, an
    unreachable database is an error now.
    """
    replica = ActReplica(settings, node) if replicate else None
    store = PostgresActStore(settings, node, replica)
    if replica is None:
        await store.connection()
    else:
        await replica.start()
    return store


class PostgresActStore:
    """The shared act store: direct writes and reads, and the replica for the call path."""

    def __init__(self, settings: PostgresSettings, node: str, replica: ActReplica | None) -> None:
        """Nothing is connected yet; use `open_postgres_act_store` instead."""
        self._settings = settings
        self._node = node
        self._db: Connection | None = None
        self._lock = asyncio.Lock()
        self.replica = replica

    async def acts_for(self, advertiser: str, e164: str) -> tuple[tuple[Act, ...], tuple[Act, ...]]:
        """The live (objections, consents): from the replica when there is one, else one query.

        The replica raises ActsUnavailableError when it is behind its bound.
        """
        if self.replica is not None:
            return self.replica.acts_for(advertiser, e164)
        rows = await self._rows(
            "SELECT id, kind, day, at FROM gatekeeper.acts"
            " WHERE e164 = %s AND advertiser = %s AND revoked_at IS NULL",
            (e164, advertiser),
        )
        return split_acts(_act_of(*row) for row in rows)

    async def acts_by_number(
        self, advertiser: str
    ) -> dict[str, tuple[tuple[Act, ...], tuple[Act, ...]]]:
        """Every number's live (objections, consents) of this advertiser, in one read."""
        by_number: dict[str, list[Act]] = {}
        rows = await self._rows(
            "SELECT e164, id, kind, day, at FROM gatekeeper.acts"
            " WHERE advertiser = %s AND revoked_at IS NULL ORDER BY id",
            (advertiser,),
        )
        for e164, *fields in rows:
            by_number.setdefault(str(e164), []).append(_act_of(*fields))
        return {e164: split_acts(acts) for e164, acts in by_number.items()}

    async def add(self, record: ActRecord) -> AddResult:
        """Store one record (or find its identical live twin)."""
        created_at = datetime.now(UTC)
        row = _row_of(record, created_at)
        try:
            async with self._lock, self._transaction() as db:
                cursor = await db.execute(_INSERT, row)
                inserted = await cursor.fetchone()
                twin = None if inserted else await (await db.execute(_TWIN, row[:-1])).fetchone()
        except psycopg.Error as err:
            raise StoreError(f"PostgreSQL acts: cannot store the record: {err}") from err
        if inserted is not None:
            return AddResult(StoredRecord(int(inserted[0]), record, created_at), created=True)
        assert twin is not None
        return AddResult(_stored_of(twin), created=False)

    async def add_all(self, records: Sequence[ActRecord]) -> int:
        """Store all records in one transaction, or none; returns how many were new."""
        created_at = datetime.now(UTC)
        try:
            async with self._lock, self._transaction() as db, db.cursor() as cursor:
                await cursor.executemany(
                    _INSERT_MANY, [_row_of(record, created_at) for record in records]
                )
                added = cursor.rowcount
        except psycopg.Error as err:
            raise StoreError(f"PostgreSQL acts: nothing stored: {err}") from err
        return added

    async def revoke(self, record_id: int, kind: RecordKind, reason: str = "") -> StoredRecord:
        """Mark a live record of this kind revoked; it stops counting but stays for the proof."""
        try:
            async with self._lock, self._transaction() as db:
                cursor = await db.execute(
                    "UPDATE gatekeeper.acts SET revoked_at = now(), revoke_reason = %s"
                    " WHERE id = %s AND kind = %s AND revoked_at IS NULL",
                    (reason, record_id, kind.value),
                )
                changed = cursor.rowcount
                found = await (
                    await db.execute(
                        f"SELECT {_COLUMNS} FROM gatekeeper.acts WHERE id = %s", (record_id,)
                    )
                ).fetchone()
        except psycopg.Error as err:
            raise StoreError(f"PostgreSQL acts: cannot revoke record {record_id}: {err}") from err
        stored = _stored_of(found) if found is not None else None
        return revoked(record_id, kind, stored, changed=bool(changed))

    async def records(
        self, e164: str, advertiser: str | None = None, kind: RecordKind | None = None
    ) -> tuple[StoredRecord, ...]:
        """Every record for a number, revoked ones included, oldest act first."""
        query = f"SELECT {_COLUMNS} FROM gatekeeper.acts WHERE e164 = %s"
        params: list[str] = [e164]
        if advertiser is not None:
            query += " AND advertiser = %s"
            params.append(advertiser)
        if kind is not None:
            query += " AND kind = %s"
            params.append(kind.value)
        query += " ORDER BY day, at NULLS FIRST, id"
        return tuple(_stored_of(row) for row in await self._rows(query, params))

    async def close(self) -> None:
        """Stop the replica and close the connection."""
        if self.replica is not None:
            await self.replica.close()
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def connection(self) -> Connection:
        """The open connection, made again when the last one broke."""
        if self._db is not None and self._db.broken:
            await self._db.close()
            self._db = None
        if self._db is None:
            self._db = await connect(self._settings, f"acts {self._node}")
        return self._db

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Connection]:
        db = await self.connection()
        async with db.transaction():
            yield db

    async def _rows(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            async with self._lock:
                db = await self.connection()
                cursor = await db.execute(query, params)
                return await cursor.fetchall()
        except psycopg.Error as err:
            raise StoreError(f"PostgreSQL acts: cannot read: {err}") from err


def _act_of(record_id: object, kind: object, day: object, at: object) -> Act:
    assert isinstance(day, date)
    assert at is None or isinstance(at, time)
    return Act(ActKind(str(kind)), day, at, str(record_id))


def _row_of(record: ActRecord, created_at: datetime) -> tuple[Any, ...]:
    return (
        record.kind.value,
        record.advertiser,
        record.e164,
        record.day,
        record.at,
        record.source,
        record.reference,
        created_at,
    )


def _stored_of(row: tuple[Any, ...]) -> StoredRecord:
    (record_id, kind, advertiser, e164, day, at, source, reference, created, revoked, why) = row
    record = ActRecord(RecordKind(kind), advertiser, e164, day, at, source, reference)
    return StoredRecord(int(record_id), record, created, revoked, str(why))
