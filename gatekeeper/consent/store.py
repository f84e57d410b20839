"""The consent and objection store: dated acts per advertiser and number, never deleted.

Theory of operation: one SQLite table holds both kinds of act. A record is never changed except
to revoke it once (`revoked_at`); triggers refuse any other update and every delete, so a record
id named in a decision's evidence always means the same record. Revoked records stay for the
proof but do not count. Identical live records are stored once, so importing a file twice adds
nothing. The hot path asks `acts_for(advertiser, e164)`: one indexed query, scoped to the
advertiser, so consent given to one advertiser can never allow another's call.

The store sits behind the `ActStore` protocol so that a PostgreSQL store for multi-node
deployments is a second implementation, not a rewrite. WAL mode lets the service read while the
command line writes; writes use full synchronisation because a lost objection would fail open.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

import aiosqlite

from gatekeeper.common import HasDataDir, RecordRejectedError, StoreError, make_private_dir
from gatekeeper.rules import Act, ActKind

STORE_RELATIVE_PATH = Path("consent") / "acts.sqlite"
SCHEMA_VERSION = 1
READ_BUSY_TIMEOUT_MS = 50
STORE_FILE_MODE = 0o600
"""Consents and objections are personal data: owner only (SQLite gives its -wal the same)."""
BUSY_TIMEOUT_MS = 5000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS acts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('consent', 'objection')),
    advertiser TEXT NOT NULL,
    e164 TEXT NOT NULL,
    day TEXT NOT NULL,
    at TEXT,
    source TEXT NOT NULL,
    reference TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    revoke_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS acts_by_number ON acts (e164, advertiser);
CREATE UNIQUE INDEX IF NOT EXISTS acts_live_once
    ON acts (kind, advertiser, e164, day, ifnull(at, ''), source, reference)
    WHERE revoked_at IS NULL;
CREATE TRIGGER IF NOT EXISTS acts_never_deleted BEFORE DELETE ON acts
BEGIN
    SELECT RAISE(ABORT, 'acts are never deleted: revoke them');
END;
CREATE TRIGGER IF NOT EXISTS acts_only_revoked BEFORE UPDATE ON acts
WHEN OLD.revoked_at IS NOT NULL OR NEW.revoked_at IS NULL
    OR NEW.id IS NOT OLD.id OR NEW.kind IS NOT OLD.kind
    OR NEW.advertiser IS NOT OLD.advertiser OR NEW.e164 IS NOT OLD.e164
    OR NEW.day IS NOT OLD.day OR NEW.at IS NOT OLD.at OR NEW.source IS NOT OLD.source
    OR NEW.reference IS NOT OLD.reference OR NEW.created_at IS NOT OLD.created_at
BEGIN
    SELECT RAISE(ABORT, 'acts are never changed, only revoked once');
END;
"""

_COLUMNS = (
    "id, kind, advertiser, e164, day, at, source, reference, created_at, revoked_at, revoke_reason"
)
_INSERT = (
    "INSERT INTO acts (kind, advertiser, e164, day, at, source, reference, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


class RecordKind(enum.StrEnum):
    """What a stored record says: the subscriber allows calls, or objects to them."""

    CONSENT = "consent"
    OBJECTION = "objection"

    @property
    def act_kind(self) -> ActKind:
        """The policy's name for this kind of act."""
        return ActKind.CONSENT if self is RecordKind.CONSENT else ActKind.OBJECTION


@dataclass(frozen=True, slots=True)
class ActRecord:
    """A validated consent or objection, ready to store; `at` is Belgian civil time."""

    kind: RecordKind
    advertiser: str
    e164: str
    day: date
    at: time | None = None
    source: str = ""
    reference: str = ""


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as stored, with its id and history."""

    record_id: int
    record: ActRecord
    created_at: datetime
    revoked_at: datetime | None = None
    revoke_reason: str = ""

    def act(self) -> Act:
        """The record as the policy weighs it."""
        return Act(self.record.kind.act_kind, self.record.day, self.record.at, str(self.record_id))


@dataclass(frozen=True, slots=True)
class AddResult:
    """The stored record, and whether it is new or an identical live record already held."""

    stored: StoredRecord
    created: bool


class ActStore(Protocol):
    """Where consents and objections live; the hot path only calls `acts_for`."""

    async def acts_for(self, advertiser: str, e164: str) -> tuple[tuple[Act, ...], tuple[Act, ...]]:
        """The live (objections, consents) of this advertiser for this number."""
        ...

    async def acts_by_number(
        self, advertiser: str
    ) -> dict[str, tuple[tuple[Act, ...], tuple[Act, ...]]]:
        """Every number's live (objections, consents) of this advertiser, read at once."""
        ...

    async def add(self, record: ActRecord) -> AddResult:
        """Store one record (or find its identical live twin)."""
        ...

    async def add_all(self, records: Sequence[ActRecord]) -> int:
        """Store all records in one transaction, or none; returns how many were new."""
        ...

    async def revoke(self, record_id: int, kind: RecordKind, reason: str = "") -> StoredRecord:
        """Mark a live record of this kind revoked; it stops counting but stays for the proof."""
        ...

    async def records(
        self, e164: str, advertiser: str | None = None, kind: RecordKind | None = None
    ) -> tuple[StoredRecord, ...]:
        """Every record for a number, revoked ones included, oldest act first."""
        ...

    async def close(self) -> None:
        """Release the store."""
        ...


def _open_reader(path: Path) -> sqlite3.Connection:
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    reader.execute(f"PRAGMA busy_timeout = {READ_BUSY_TIMEOUT_MS}")
    return reader


def act_store_path(settings: HasDataDir) -> Path:
    """Where the SQLite act store of these settings lives."""
    return settings.data_dir / STORE_RELATIVE_PATH


async def open_act_store(path: Path) -> SqliteActStore:
    """Open (creating if needed) the SQLite act store at `path`."""
    try:
        make_private_dir(path.parent)
    except OSError as err:
        raise StoreError(f"{path.parent}: cannot create the store folder: {err.strerror}") from err
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, STORE_FILE_MODE))
    except OSError as err:
        raise StoreError(f"{path}: cannot create the act store: {err.strerror}") from err
    try:
        connection = await aiosqlite.connect(path, isolation_level=None)
    except sqlite3.Error as err:
        raise StoreError(f"{path}: cannot open the act store: {err}") from err
    store = SqliteActStore(connection, path)
    ready = False
    try:
        await store.prepare()
        ready = True
    finally:
        if not ready:
            await connection.close()
    return store


def read_records(path: Path, *, limit: int) -> list[StoredRecord]:
    """Every record of the SQLite store at `path`, revoked ones too, by id; read-only.

    A missing file is an error (never created), as is a schema this gatekeeper does not know
    and a store of more than `limit` records.
    """
    if not path.is_file():
        raise StoreError(f"{path}: no act store here")
    try:
        reader = _open_reader(path)
    except sqlite3.Error as err:
        raise StoreError(f"{path}: cannot open the act store: {err}") from err
    try:
        (version,) = reader.execute("PRAGMA user_version").fetchone()
        if version != SCHEMA_VERSION:
            raise StoreError(f"{path}: act store schema {version}, expected {SCHEMA_VERSION}")
        (count,) = reader.execute("SELECT count(*) FROM acts").fetchone()
        if count > limit:
            raise StoreError(f"{path}: {count} records, over the {limit} read at once")
        rows = reader.execute(f"SELECT {_COLUMNS} FROM acts ORDER BY id").fetchall()
    except sqlite3.Error as err:
        raise StoreError(f"{path}: cannot read acts: {err}") from err
    finally:
        reader.close()
    return [_stored_of(tuple(row)) for row in rows]


def revoked(
    record_id: int, kind: RecordKind, stored: StoredRecord | None, *, changed: bool
) -> StoredRecord:
    """The record a revocation of `record_id` as a `kind` left, or why it was refused.

    `stored` is the record read back after the update (None: no such record) and `changed`
    whether the update marked it; every store answers a revocation by this one rule.
    """
    if stored is None:
        raise RecordRejectedError(f"no record {record_id}")
    if stored.record.kind is not kind:
        raise RecordRejectedError(f"record {record_id} is a {stored.record.kind.value}")
    if not changed:
        assert stored.revoked_at is not None
        raise RecordRejectedError(
            f"{kind.value} {record_id} was already revoked at {stored.revoked_at.isoformat()}"
        )
    return stored


class SqliteActStore:
    """The embedded act store: one SQLite file, WAL mode, append-only records."""

    def __init__(self, connection: aiosqlite.Connection, path: Path) -> None:
        """Wrap an open connection; use `open_act_store` instead."""
        self._db = connection
        self._path = path
        self._write_lock = asyncio.Lock()
        self._reader: sqlite3.Connection | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self._path

    async def prepare(self) -> None:
        """Set the connection up and create or check the schema."""
        try:
            await self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await self._db.execute("PRAGMA journal_mode = WAL")
            await self._db.execute("PRAGMA synchronous = FULL")
            version = await self._scalar("PRAGMA user_version")
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self._path}: act store schema {version} is newer than this gatekeeper"
                    f" ({SCHEMA_VERSION})"
                )
            await self._db.executescript(
                f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            )
            self._reader = _open_reader(self._path)
        except sqlite3.Error as err:
            raise StoreError(f"{self._path}: cannot prepare the act store: {err}") from err

    async def close(self) -> None:
        """Close the connections."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        await self._db.close()

    async def acts_for(self, advertiser: str, e164: str) -> tuple[tuple[Act, ...], tuple[Act, ...]]:
        """The live (objections, consents) of this advertiser for this number.

        This is on every call's path: it reads on its own read-only connection in the event
        loop (an indexed point query of a few microseconds, never blocked by a writer in WAL
        mode) rather than paying aiosqlite's thread hop, which costs more than the query.
        """
        if self._reader is None:
            raise StoreError(f"{self._path}: the act store is closed")
        try:
            rows = self._reader.execute(
                "SELECT id, kind, day, at FROM acts"
                " WHERE e164 = ? AND advertiser = ? AND revoked_at IS NULL",
                (e164, advertiser),
            ).fetchall()
        except sqlite3.Error as err:
            raise StoreError(f"{self._path}: cannot read acts: {err}") from err
        return _split(_act_of(*row) for row in rows)

    async def acts_by_number(
        self, advertiser: str
    ) -> dict[str, tuple[tuple[Act, ...], tuple[Act, ...]]]:
        """Every number's live (objections, consents) of this advertiser, in one read.

        For batch work (a list scrub): one query instead of one per number, the same acts
        `acts_for` would give for each number.
        """
        by_number: dict[str, list[Act]] = {}
        try:
            async with self._db.execute(
                "SELECT e164, id, kind, day, at FROM acts"
                " WHERE advertiser = ? AND revoked_at IS NULL ORDER BY id",
                (advertiser,),
            ) as cursor:
                rows = await cursor.fetchall()
        except sqlite3.Error as err:
            raise StoreError(f"{self._path}: cannot read acts: {err}") from err
        for e164, *fields in rows:
            by_number.setdefault(str(e164), []).append(_act_of(*fields))
        return {e164: _split(acts) for e164, acts in by_number.items()}

    async def add(self, record: ActRecord) -> AddResult:
        """Store one record (or find its identical live twin)."""
        created_at = _now()
        row = _row_of(record, created_at)
        try:
            async with self._transaction():
                cursor = await self._db.execute(_INSERT, row)
                new_id = cursor.lastrowid if cursor.rowcount == 1 else None
                await cursor.close()
                twin = await self._fetch(
                    f"SELECT {_COLUMNS} FROM acts WHERE kind = ? AND advertiser = ? AND e164 = ?"
                    " AND day = ? AND ifnull(at, '') = ifnull(?, '') AND source = ?"
                    " AND reference = ? AND revoked_at IS NULL",
                    row[:-1],
                )
        except sqlite3.Error as err:
            raise StoreError(f"{self._path}: cannot store the record: {err}") from err
        if new_id is not None:
            return AddResult(StoredRecord(new_id, record, created_at), created=True)
        return AddResult(twin[0], created=False)

    async def add_all(self, records: Sequence[ActRecord]) -> int:
        """Store all records in one transaction, or none; returns how many were new."""
        created_at = _now()
        rows = [_row_of(record, created_at) for record in records]
        try:
            async with self._transaction():
                cursor = await self._db.executemany(_INSERT, rows)
                added = cursor.rowcount
                await cursor.close()
        except sqlite3.Error as err:
            raise StoreError(f"{self._path}: nothing stored: {err}") from err
        return added

    async def revoke(self, record_id: int, kind: RecordKind, reason: str = "") -> StoredRecord:
        """Mark a live record of this kind revoked; it stops counting but stays for the proof."""
        try:
            async with self._transaction():
                async with self._db.execute(
                    "UPDATE acts SET revoked_at = ?, revoke_reason = ?"
                    " WHERE id = ? AND kind = ? AND revoked_at IS NULL",
                    (_now().isoformat(), reason, record_id, kind.value),
                ) as cursor:
                    changed = cursor.rowcount
                found = await self._fetch(f"SELECT {_COLUMNS} FROM acts WHERE id = ?", (record_id,))
        except sqlite3.Error as err:
            raise StoreError(f"{self._path}: cannot revoke record {record_id}: {err}") from err
        return revoked(record_id, kind, found[0] if found else None, changed=bool(changed))

    async def records(
        self, e164: str, advertiser: str | None = None, kind: RecordKind | None = None
    ) -> tuple[StoredRecord, ...]:
        """Every record for a number, revoked ones included, oldest act first."""
        query = f"SELECT {_COLUMNS} FROM acts WHERE e164 = ?"
        params: list[str] = [e164]
        if advertiser is not None:
            query += " AND advertiser = ?"
            params.append(advertiser)
        if kind is not None:
            query += " AND kind = ?"
            params.append(kind.value)
        query += " ORDER BY day, ifnull(at, ''), id"
        try:
            return await self._fetch(query, params)
        except sqlite3.Error as err:
            raise StoreError(f"{self._path}: cannot read records: {err}") from err

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """One write transaction at a time on this connection; rolled back unless it completes."""
        async with self._write_lock:
            await self._db.execute("BEGIN IMMEDIATE")
            committed = False
            try:
                yield
                await self._db.execute("COMMIT")
                committed = True
            finally:
                if not committed:
                    await self._db.execute("ROLLBACK")

    async def _fetch(
        self, query: str, params: Sequence[str | int | None]
    ) -> tuple[StoredRecord, ...]:
        async with self._db.execute(query, params) as cursor:
            return tuple(_stored_of(tuple(row)) for row in await cursor.fetchall())

    async def _scalar(self, query: str) -> int:
        async with self._db.execute(query) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        return int(row[0])


def _now() -> datetime:
    return datetime.now(UTC)


def _act_of(record_id: object, kind: object, day: object, at: object) -> Act:
    return Act(
        ActKind(str(kind)),
        date.fromisoformat(str(day)),
        time.fromisoformat(str(at)) if at is not None else None,
        str(record_id),
    )


def _split(acts: Iterable[Act]) -> tuple[tuple[Act, ...], tuple[Act, ...]]:
    objections: list[Act] = []
    consents: list[Act] = []
    for act in acts:
        (consents if act.kind is ActKind.CONSENT else objections).append(act)
    return tuple(objections), tuple(consents)


def _row_of(record: ActRecord, created_at: datetime) -> tuple[str | None, ...]:
    return (
        record.kind.value,
        record.advertiser,
        record.e164,
        record.day.isoformat(),
        record.at.isoformat() if record.at is not None else None,
        record.source,
        record.reference,
        created_at.isoformat(),
    )


def _stored_of(row: tuple[object, ...]) -> StoredRecord:
    (record_id, kind, advertiser, e164, day, at, source, reference, created, revoked, why) = row
    record = ActRecord(
        kind=RecordKind(str(kind)),
        advertiser=str(advertiser),
        e164=str(e164),
        day=date.fromisoformat(str(day)),
        at=time.fromisoformat(str(at)) if at is not None else None,
        source=str(source),
        reference=str(reference),
    )
    return StoredRecord(
        record_id=int(str(record_id)),
        record=record,
        created_at=datetime.fromisoformat(str(created)),
        revoked_at=datetime.fromisoformat(str(revoked)) if revoked is not None else None,
        revoke_reason=str(why),
    )
