"""The shared PostgreSQL act store on a real server: the SQLite store's rules, and the roles."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from datetime import date, time

import psycopg
import pytest
import pytest_asyncio
from gatekeeper.common.errors import RecordRejectedError, StoreError
from gatekeeper.consent import ActRecord, ActStore, RecordKind
from gatekeeper.rules.policy import Act, ActKind
from gatekeeper.stores.postgres.acts import PostgresActStore, open_postgres_act_store

from postgres_support import SharedDatabase, node_password

NUMBER = "+32470123456"


def record(
    kind: RecordKind = RecordKind.CONSENT,
    *,
    advertiser: str = "acme",
    day: date = date(2026, 3, 1),
    at: time | None = None,
    reference: str = "",
) -> ActRecord:
    """A valid record with overridable fields."""
    return ActRecord(kind, advertiser, NUMBER, day, at, "test", reference)


@pytest_asyncio.fixture
async def store(shared_db: SharedDatabase) -> AsyncIterator[PostgresActStore]:
    """A node's direct store (no replica) on a fresh shared database."""
    opened = await open_postgres_act_store(shared_db.add_role("pbx_a"), "pbx_a", replicate=False)
    try:
        yield opened
    finally:
        await opened.close()


def test_postgres_store_satisfies_protocol() -> None:
    """PostgresActStore is an ActStore (checked by mypy through this assignment)."""
    factory: type[ActStore] = PostgresActStore
    assert factory is PostgresActStore


@pytest.mark.asyncio
async def test_acts_for_splits_per_advertiser(store: PostgresActStore) -> None:
    """acts_for gives this advertiser's (objections, consents) with their record ids."""
    consent = await store.add(record(at=time(14, 30)))
    objection = await store.add(record(RecordKind.OBJECTION, day=date(2026, 4, 1)))
    await store.add(record(RecordKind.OBJECTION, advertiser="globex"))
    assert await store.acts_for("acme", NUMBER) == (
        (Act(ActKind.OBJECTION, date(2026, 4, 1), None, str(objection.stored.record_id)),),
        (Act(ActKind.CONSENT, date(2026, 3, 1), time(14, 30), str(consent.stored.record_id)),),
    )


@pytest.mark.asyncio
async def test_identical_live_record_is_stored_once(store: PostgresActStore) -> None:
    """Adding an identical live record (no time either) returns the one already held."""
    first = await store.add(record(reference="R1"))
    second = await store.add(record(reference="R1"))
    assert (second.created, second.stored.record_id) == (False, first.stored.record_id)
    assert await store.add_all([record(reference="R1"), record(reference="R2")]) == 1


@pytest.mark.asyncio
async def test_revoked_record_stops_counting_and_stays(store: PostgresActStore) -> None:
    """A revoke hides the record from decisions, keeps it for the proof, and happens once."""
    added = await store.add(record(RecordKind.OBJECTION))
    with pytest.raises(RecordRejectedError, match="is a objection"):
        await store.revoke(added.stored.record_id, RecordKind.CONSENT)
    await store.revoke(added.stored.record_id, RecordKind.OBJECTION, "mistake")
    assert await store.acts_for("acme", NUMBER) == ((), ())
    (kept,) = await store.records(NUMBER)
    assert kept.revoke_reason == "mistake"
    assert kept.revoked_at is not None
    with pytest.raises(RecordRejectedError, match="already revoked"):
        await store.revoke(added.stored.record_id, RecordKind.OBJECTION)


@pytest.mark.asyncio
async def test_add_all_is_all_or_nothing(store: PostgresActStore) -> None:
    """An import that fails half-way stores nothing."""
    bad = ActRecord(RecordKind.CONSENT, "acme", NUMBER, date(2026, 3, 1), None, "x\x00", "")
    with pytest.raises(StoreError, match="nothing stored"):
        await store.add_all([record(reference="R1"), bad])
    assert await store.records(NUMBER) == ()


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM gatekeeper.acts",
        "TRUNCATE gatekeeper.acts",
        "UPDATE gatekeeper.acts SET e164 = '+32470000000'",
        "UPDATE gatekeeper.acts SET revoked_at = NULL",
    ],
)
@pytest.mark.asyncio
async def test_node_role_cannot_rewrite_acts(
    store: PostgresActStore, shared_db: SharedDatabase, statement: str
) -> None:
    """A node's role may add and revoke acts, never delete or change them."""
    added = await store.add(record(RecordKind.OBJECTION))
    await store.revoke(added.stored.record_id, RecordKind.OBJECTION)
    settings = shared_db.add_role("pbx_b")
    with (
        psycopg.connect(settings.dsn, password=node_password(settings), autocommit=True) as conn,
        pytest.raises(psycopg.Error),
    ):
        conn.execute(statement)
    assert len(await store.records(NUMBER)) == 1


@pytest.mark.asyncio
async def test_replica_answers_as_the_direct_query(
    store: PostgresActStore, shared_db: SharedDatabase
) -> None:
    """The replica gives the same acts, times and record ids as a query of the table."""
    await store.add(record(at=time(14, 30)))
    await store.add(record(RecordKind.OBJECTION, day=date(2026, 4, 1)))
    await store.add(record(RecordKind.OBJECTION, advertiser="globex"))
    replicated = await open_postgres_act_store(shared_db.add_role("pbx_b"), "pbx_b", replicate=True)
    try:
        for advertiser in ("acme", "globex", "initech"):
            direct = await store.acts_for(advertiser, NUMBER)
            assert await replicated.acts_for(advertiser, NUMBER) == direct
    finally:
        await replicated.close()


@pytest.mark.asyncio
async def test_replica_holds_nothing_the_cycle_collector_walks(
    store: PostgresActStore, shared_db: SharedDatabase
) -> None:
    """Held acts are plain values: a full collection does not walk them (no call-path pauses)."""
    await store.add_all([record(reference=f"R{n}") for n in range(50)])
    replicated = await open_postgres_act_store(shared_db.add_role("pbx_b"), "pbx_b", replicate=True)
    try:
        assert replicated.replica is not None
        gc.collect()
        held = replicated.replica._by_key
        assert len(held) == 1
        assert not any(gc.is_tracked(acts) for acts in held.values())
    finally:
        await replicated.close()
