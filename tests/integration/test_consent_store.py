"""The SQLite act store on real files: per-advertiser lookups, revocation, atomic imports."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, time, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from gatekeeper.common.clock import today as legal_today
from gatekeeper.common.errors import RecordRejectedError, StoreError
from gatekeeper.consent import (
    ActRecord,
    ActStore,
    RecordKind,
    SqliteActStore,
    open_act_store,
)
from gatekeeper.rules.numbers import BelgianNumber, normalise
from gatekeeper.rules.policy import Act, ActKind, Reason, decide
from legal_scenarios import Scenario, load_scenarios

NUMBER = "+32470123456"
OTHER_NUMBER = "+32470999999"


def record(
    kind: RecordKind = RecordKind.CONSENT,
    *,
    advertiser: str = "acme",
    e164: str = NUMBER,
    day: date = date(2026, 3, 1),
    at: time | None = None,
    reference: str = "",
) -> ActRecord:
    """A valid record with overridable fields."""
    return ActRecord(kind, advertiser, e164, day, at, "test", reference)


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteActStore]:
    """A fresh store in the test's folder."""
    opened = await open_act_store(tmp_path / "consent" / "acts.sqlite")
    try:
        yield opened
    finally:
        await opened.close()


def test_sqlite_store_satisfies_protocol(tmp_path: Path) -> None:
    """SqliteActStore is an ActStore (checked by mypy through this assignment)."""
    factory: type[ActStore] = SqliteActStore
    assert factory is SqliteActStore


@pytest.mark.asyncio
async def test_acts_for_splits_objections_and_consents(store: SqliteActStore) -> None:
    """acts_for returns (objections, consents) as policy acts with record ids."""
    consent = await store.add(record(at=time(14, 30)))
    objection = await store.add(record(RecordKind.OBJECTION, day=date(2026, 4, 1)))
    objections, consents = await store.acts_for("acme", NUMBER)
    assert objections == (
        Act(ActKind.OBJECTION, date(2026, 4, 1), None, str(objection.stored.record_id)),
    )
    assert consents == (
        Act(ActKind.CONSENT, date(2026, 3, 1), time(14, 30), str(consent.stored.record_id)),
    )


@pytest.mark.asyncio
async def test_acts_are_per_advertiser(store: SqliteActStore) -> None:
    """Acts recorded for one advertiser are never returned for another."""
    await store.add(record(advertiser="globex"))
    await store.add(record(RecordKind.OBJECTION, advertiser="globex"))
    assert await store.acts_for("acme", NUMBER) == ((), ())


@pytest.mark.asyncio
async def test_acts_are_per_number(store: SqliteActStore) -> None:
    """Acts recorded for one number are never returned for another."""
    await store.add(record(e164=OTHER_NUMBER))
    assert await store.acts_for("acme", NUMBER) == ((), ())


@pytest.mark.asyncio
async def test_revoked_record_does_not_count(store: SqliteActStore) -> None:
    """A revoked record is no longer returned to the hot path but stays visible for proof."""
    added = await store.add(record())
    revoked = await store.revoke(added.stored.record_id, RecordKind.CONSENT, "entered by mistake")
    assert await store.acts_for("acme", NUMBER) == ((), ())
    (shown,) = await store.records(NUMBER)
    assert shown.revoked_at == revoked.revoked_at
    assert shown.revoke_reason == "entered by mistake"


@pytest.mark.asyncio
async def test_revoke_twice_refused(store: SqliteActStore) -> None:
    """A record is revoked once; a second revoke is refused."""
    added = await store.add(record())
    await store.revoke(added.stored.record_id, RecordKind.CONSENT)
    with pytest.raises(RecordRejectedError, match="already revoked"):
        await store.revoke(added.stored.record_id, RecordKind.CONSENT)


@pytest.mark.asyncio
async def test_revoke_of_other_kind_refused(store: SqliteActStore) -> None:
    """`consent revoke` cannot revoke an objection (and the objection stays in force)."""
    added = await store.add(record(RecordKind.OBJECTION))
    with pytest.raises(RecordRejectedError, match="is a objection"):
        await store.revoke(added.stored.record_id, RecordKind.CONSENT)
    objections, _ = await store.acts_for("acme", NUMBER)
    assert len(objections) == 1


@pytest.mark.asyncio
async def test_revoke_unknown_id_refused(store: SqliteActStore) -> None:
    """Revoking an id that does not exist is refused."""
    with pytest.raises(RecordRejectedError, match="no record 99"):
        await store.revoke(99, RecordKind.CONSENT)


@pytest.mark.asyncio
async def test_identical_record_is_stored_once(store: SqliteActStore) -> None:
    """Adding an identical live record returns the existing one instead of a twin."""
    first = await store.add(record(reference="R1"))
    second = await store.add(record(reference="R1"))
    assert second.created is False
    assert second.stored.record_id == first.stored.record_id
    assert len(await store.records(NUMBER)) == 1


@pytest.mark.asyncio
async def test_same_record_after_revoke_is_new(store: SqliteActStore) -> None:
    """After a revoke, the same consent can be recorded again as a new record."""
    first = await store.add(record())
    await store.revoke(first.stored.record_id, RecordKind.CONSENT)
    again = await store.add(record())
    assert again.created is True
    assert again.stored.record_id != first.stored.record_id


@pytest.mark.asyncio
async def test_add_all_counts_new_records(store: SqliteActStore) -> None:
    """add_all stores new records and skips identical live ones."""
    await store.add(record())
    added = await store.add_all([record(), record(day=date(2026, 3, 2)), record(e164=OTHER_NUMBER)])
    assert added == 2


@pytest.mark.asyncio
async def test_add_all_is_all_or_nothing(store: SqliteActStore) -> None:
    """A failure inside the import transaction stores none of its records."""
    await store.add(record(reference="kept"))
    bad = ActRecord(RecordKind.CONSENT, "acme", NUMBER, date(2026, 3, 9), None, None, "")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="nothing stored"):
        await store.add_all([record(day=date(2026, 3, 5)), bad])
    assert [r.record.reference for r in await store.records(NUMBER)] == ["kept"]


@pytest.mark.asyncio
async def test_concurrent_writes_on_one_connection(store: SqliteActStore) -> None:
    """Imports, adds and revokes started at once on one store all complete."""
    first = await store.add(record(reference="revoke-me"))
    first_import, second_import, _, _ = await asyncio.gather(
        store.add_all([record(day=date(2026, 3, d)) for d in range(2, 12)]),
        store.add_all([record(day=date(2026, 4, d)) for d in range(2, 12)]),
        store.add(record(RecordKind.OBJECTION)),
        store.revoke(first.stored.record_id, RecordKind.CONSENT),
    )
    assert (first_import, second_import) == (10, 10)
    objections, consents = await store.acts_for("acme", NUMBER)
    assert (len(objections), len(consents)) == (1, 20)


@pytest.mark.asyncio
async def test_records_are_never_deleted(store: SqliteActStore) -> None:
    """The file refuses deletes and edits, even from other SQLite clients."""
    added = await store.add(record())
    with sqlite3.connect(store.path) as other:
        with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
            other.execute("DELETE FROM acts")
        with pytest.raises(sqlite3.IntegrityError, match="only revoked once"):
            other.execute(
                "UPDATE acts SET day = '2030-01-01' WHERE id = ?", (added.stored.record_id,)
            )
    assert len(await store.records(NUMBER)) == 1


@pytest.mark.asyncio
async def test_record_ids_are_not_reused(tmp_path: Path) -> None:
    """Ids keep growing across reopenings, so evidence never points to another record."""
    path = tmp_path / "acts.sqlite"
    first = await open_act_store(path)
    try:
        one = await first.add(record())
    finally:
        await first.close()
    second = await open_act_store(path)
    try:
        two = await second.add(record(day=date(2026, 3, 2)))
        assert two.stored.record_id > one.stored.record_id
        assert len(await second.records(NUMBER)) == 2
    finally:
        await second.close()


@pytest.mark.asyncio
async def test_newer_schema_refused(tmp_path: Path) -> None:
    """A store written by a newer gatekeeper is refused rather than misread."""
    path = tmp_path / "acts.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer than this gatekeeper"):
        await open_act_store(path)


@pytest.mark.asyncio
async def test_unreadable_store_refused(tmp_path: Path) -> None:
    """A file that is not SQLite is refused with a StoreError."""
    path = tmp_path / "acts.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="cannot prepare"):
        await open_act_store(path)


@pytest.mark.asyncio
async def test_reader_sees_writes_of_another_connection(tmp_path: Path) -> None:
    """The service's open store sees records the command line adds through its own connection."""
    path = tmp_path / "acts.sqlite"
    service = await open_act_store(path)
    cli = await open_act_store(path)
    try:
        assert await service.acts_for("acme", NUMBER) == ((), ())
        await cli.add(record(RecordKind.OBJECTION))
        objections, _ = await service.acts_for("acme", NUMBER)
        assert len(objections) == 1
    finally:
        await cli.close()
        await service.close()


@pytest.mark.asyncio
async def test_concurrent_lookups(store: SqliteActStore) -> None:
    """Many lookups at once all get their own advertiser's answer."""
    await store.add(record(advertiser="globex"))
    results = await asyncio.gather(
        *(store.acts_for("acme" if i % 2 else "globex", NUMBER) for i in range(50))
    )
    assert all(len(c) == (0 if i % 2 else 1) for i, (_, c) in enumerate(results))


TABLE = load_scenarios()
STORE_SCENARIOS = [s for s in TABLE.scenarios if s.acts]


@pytest.mark.asyncio
@pytest.mark.parametrize("scenario", STORE_SCENARIOS, ids=lambda s: s.id)
async def test_scenario_through_store(store: SqliteActStore, scenario: Scenario) -> None:
    """Scenarios with consents and objections decide the same through the real store."""
    today = legal_today()
    number = normalise(scenario.number)
    assert isinstance(number, BelgianNumber)
    for act in scenario.acts:
        kind = RecordKind(act.kind.value)
        added = await store.add(
            ActRecord(kind, act.advertiser, number.e164, today + timedelta(days=act.day), act.at)
        )
        if act.revoked:
            await store.revoke(added.stored.record_id, kind)
    facts = scenario.facts(today, TABLE.campaigns)
    campaign = TABLE.campaigns.get(scenario.campaign)
    assert campaign is not None
    objections, consents = await store.acts_for(campaign.advertiser, number.e164)
    decision = decide(replace(facts, objections=objections, consents=consents))
    assert decision.reason is scenario.expect
    assert decision.reason is not Reason.INTERNAL_ERROR


@pytest.mark.asyncio
async def test_store_file_is_private(tmp_path: Path) -> None:
    """The act store holds personal data: its file is created readable by its owner only."""
    path = tmp_path / "consent" / "acts.sqlite"
    store = await open_act_store(path)
    await store.close()
    assert path.stat().st_mode & 0o777 == 0o600
