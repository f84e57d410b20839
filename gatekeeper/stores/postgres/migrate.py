"""Moving one PBX's SQLite acts into the shared PostgreSQL store, whole, once, or not at all.

Theory of operation: a node joining a shared deployment brings its consents and objections
with their history (dates, advertiser, source, reference, when each was recorded, when and
why it was revoked). Every SQLite record is read (read-only, the file is never changed) and
copied in one PostgreSQL transaction that first takes the lock every act change takes
(schema.sql), so no other node's write comes between the checks and the copy:

- the records go into a temporary table, and each is matched with the shared record that has
  the same fields and the same creation time: that one was copied by an earlier run and is
  not copied again; a revocation made in SQLite since then is copied onto it;
- a *conflict* refuses the whole move, naming the records: a shared record that matches but
  is revoked where the SQLite one is not (or revoked at another time or for another reason),
  or a live shared record with the same act (kind, advertiser, number, date, time, source,
  reference) recorded at another time, which the shared store holds only once. With
  `keep_shared` that second kind is not a conflict: the act is already held, live, and this
  record is left out (counted as held);
- the rest are inserted with their original times; then every SQLite record must have its
  identical shared record, checked inside the transaction before it commits and again after.

The SQLite ids that this node's decisions cite as evidence are not the shared ids: the SQLite
file is kept, and each of its records is found in the shared store by the same fields and
creation time (docs/scaling.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

from gatekeeper.common import StoreError, shown
from gatekeeper.config import PostgresSettings
from gatekeeper.consent import StoredRecord, read_records
from gatekeeper.stores.postgres.connect import Connection, connect
from gatekeeper.stores.postgres.replica import MAX_ACTS

ACTS_LOCK = 7350001
"""The advisory lock schema.sql's trigger takes for every change to the shared acts."""
LOCK_TIMEOUT = "10s"
CONFLICTS_SHOWN = 10

_SAME_ACT = (
    "a.kind = m.kind AND a.advertiser = m.advertiser AND a.e164 = m.e164 AND a.day = m.day"
    " AND a.at IS NOT DISTINCT FROM m.at AND a.source = m.source AND a.reference = m.reference"
)
_SAME_RECORD = f"{_SAME_ACT} AND a.created_at = m.created_at"
_SAME_HISTORY = (
    f"{_SAME_RECORD} AND a.revoked_at IS NOT DISTINCT FROM m.revoked_at"
    " AND a.revoke_reason = m.revoke_reason"
)
_CREATE = """
CREATE TEMPORARY TABLE migrating (
    sqlite_id bigint PRIMARY KEY,
    kind text NOT NULL,
    advertiser text NOT NULL,
    e164 text NOT NULL,
    day date NOT NULL,
    at time,
    source text NOT NULL,
    reference text NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoke_reason text NOT NULL,
    shared_id bigint,
    shared_revoked_at timestamptz,
    shared_reason text,
    held_id bigint
) ON COMMIT DROP
"""
_COPY = (
    "COPY migrating (sqlite_id, kind, advertiser, e164, day, at, source, reference, created_at,"
    " revoked_at, revoke_reason) FROM STDIN"
)
_MATCH = f"""
UPDATE migrating m SET shared_id = a.id, shared_revoked_at = a.revoked_at,
    shared_reason = a.revoke_reason
FROM gatekeeper.acts a WHERE {_SAME_RECORD}
"""
_CONFLICTS = f"""
SELECT m.sqlite_id, m.kind, m.advertiser, m.e164, m.day, m.shared_id,
    'revoked in PostgreSQL at ' || m.shared_revoked_at::text
    || ', ' || coalesce('in SQLite at ' || m.revoked_at::text, 'live in SQLite')
FROM migrating m
WHERE m.shared_revoked_at IS NOT NULL AND (m.revoked_at IS DISTINCT FROM m.shared_revoked_at
    OR m.revoke_reason <> m.shared_reason)
UNION ALL
SELECT m.sqlite_id, m.kind, m.advertiser, m.e164, m.day, a.id,
    'the same act, live, recorded at ' || a.created_at::text || ' (SQLite: '
    || m.created_at::text || ')'
FROM migrating m JOIN gatekeeper.acts a ON {_SAME_ACT}
WHERE m.shared_id IS NULL AND m.held_id IS NULL AND m.revoked_at IS NULL
    AND a.revoked_at IS NULL
ORDER BY 1 LIMIT %s
"""
_HELD = f"""
UPDATE migrating m SET held_id = a.id FROM gatekeeper.acts a
WHERE m.shared_id IS NULL AND m.revoked_at IS NULL AND a.revoked_at IS NULL AND {_SAME_ACT}
"""
_REVOKE = """
UPDATE gatekeeper.acts a SET revoked_at = m.revoked_at, revoke_reason = m.revoke_reason
FROM migrating m
WHERE a.id = m.shared_id AND m.shared_revoked_at IS NULL AND m.revoked_at IS NOT NULL
"""
_INSERT = """
INSERT INTO gatekeeper.acts (kind, advertiser, e164, day, at, source, reference, created_at,
    revoked_at, revoke_reason)
SELECT kind, advertiser, e164, day, at, source, reference, created_at, revoked_at, revoke_reason
FROM migrating WHERE shared_id IS NULL AND held_id IS NULL ORDER BY sqlite_id
"""
_VERIFY = f"""
SELECT count(*) FROM migrating m
WHERE EXISTS (SELECT 1 FROM gatekeeper.acts a WHERE {_SAME_HISTORY})
    OR (%(held)s AND m.revoked_at IS NULL
        AND EXISTS (SELECT 1 FROM gatekeeper.acts a WHERE {_SAME_ACT} AND a.revoked_at IS NULL))
"""


class MigrationConflictError(StoreError):
    """The shared store holds records the SQLite ones would contradict: nothing was copied."""


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What a move copied, what it found already there, and the check afterwards."""

    source: Path
    records: int
    copied: int
    revocations: int
    already: int
    held: int
    """Records left out because the same act is already held, live (`keep_shared`)."""
    verified: int


async def migrate_acts(
    source: Path, target: PostgresSettings, node: str, *, keep_shared: bool = False
) -> MigrationReport:
    """Copy every record of the SQLite store at `source` into the shared store, in one go."""
    records = read_records(source, limit=MAX_ACTS)
    db = await connect(target, f"acts migrate {node}")
    try:
        copied, revocations, held = await _copy(db, records, keep_shared=keep_shared)
        verified = await _verify_again(db, records, keep_shared=keep_shared)
    except psycopg.Error as err:
        raise StoreError(f"PostgreSQL acts: nothing copied from {source}: {_first(err)}") from err
    finally:
        await db.close()
    if verified != len(records):
        raise StoreError(
            f"PostgreSQL acts: after the copy, {len(records) - verified} of the {len(records)}"
            f" records of {source} have no identical shared record"
        )
    already = len(records) - copied - held
    return MigrationReport(source, len(records), copied, revocations, already, held, verified)


async def _copy(
    db: Connection, records: Sequence[StoredRecord], *, keep_shared: bool
) -> tuple[int, int, int]:
    async with db.transaction():
        await db.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        await db.execute("SELECT pg_advisory_xact_lock(%s)", (ACTS_LOCK,))
        await _load(db, records)
        await db.execute(_MATCH)
        held = (await db.execute(_HELD)).rowcount if keep_shared else 0
        conflicts = await (await db.execute(_CONFLICTS, (CONFLICTS_SHOWN,))).fetchall()
        if conflicts:
            raise MigrationConflictError(_conflicts_text(conflicts))
        revocations = (await db.execute(_REVOKE)).rowcount
        copied = (await db.execute(_INSERT)).rowcount
        (verified,) = await (await db.execute(_VERIFY, {"held": keep_shared})).fetchone() or (0,)
        if verified != len(records):
            raise StoreError(
                f"{len(records) - int(verified)} record(s) would have no identical shared record"
            )
    return copied, revocations, held


async def _verify_again(
    db: Connection, records: Sequence[StoredRecord], *, keep_shared: bool
) -> int:
    """After the commit, in a new transaction: how many SQLite records have their shared twin."""
    async with db.transaction():
        await _load(db, records)
        (verified,) = await (await db.execute(_VERIFY, {"held": keep_shared})).fetchone() or (0,)
    return int(verified)


async def _load(db: Connection, records: Sequence[StoredRecord]) -> None:
    await db.execute(_CREATE)
    async with db.cursor() as cursor, cursor.copy(_COPY) as copy:
        for stored in records:
            record = stored.record
            await copy.write_row(
                (
                    stored.record_id,
                    record.kind.value,
                    record.advertiser,
                    record.e164,
                    record.day,
                    record.at,
                    record.source,
                    record.reference,
                    stored.created_at,
                    stored.revoked_at,
                    stored.revoke_reason,
                )
            )


def _conflicts_text(rows: Sequence[tuple[object, ...]]) -> str:
    lines = [
        shown(
            f"SQLite record {sqlite_id} ({kind} of {e164} for {advertiser} on {day}) conflicts with"
            f" PostgreSQL record {shared_id}: {why}"
        )
        for sqlite_id, kind, advertiser, e164, day, shared_id, why in rows
    ]
    more = f" (the first {CONFLICTS_SHOWN})" if len(rows) >= CONFLICTS_SHOWN else ""
    return (
        "the shared act store holds records that conflict with this node's; nothing was copied"
        f" (docs/scaling.md says how to resolve them){more}:\n  " + "\n  ".join(lines)
    )


def _first(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
