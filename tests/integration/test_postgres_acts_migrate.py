"""`consent migrate --to-postgresql`: a PBX's SQLite acts copied into the shared store, once."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from datetime import date, time
from pathlib import Path

import pytest
import structlog
from gatekeeper.cli import main
from gatekeeper.consent import ActRecord, RecordKind, open_act_store
from gatekeeper.stores.postgres.acts import open_postgres_act_store

from postgres_support import SharedDatabase

CONFIG = """\
licensee: {{name: Example Contact NV, role: service_provider, licence_valid_until: 2099-06-30}}
data_dir: data
node: pbx_a
acts: {{postgresql: "{dsn}", password_file: {password_file}}}
advertisers: {{acme: {{name: ACME Energy BV}}, globex: {{name: Globex SA}}}}
"""
RECORDS = (
    ActRecord(RecordKind.CONSENT, "acme", "+32470123456", date(2025, 3, 1), time(9, 30), "web"),
    ActRecord(RecordKind.OBJECTION, "acme", "+32470123457", date(2025, 4, 2), None, "", "T-17"),
    ActRecord(RecordKind.OBJECTION, "globex", "+32470123456", date(2025, 5, 3), None, "phone"),
)
SHARED_COLUMNS = (
    "kind, advertiser, e164, day, at, source, reference, created_at, revoked_at, revoke_reason"
)


@pytest.fixture(autouse=True)
def _default_logging() -> Iterator[None]:
    """`cli.main` points structlog at the captured stderr: put the default back after."""
    yield
    structlog.reset_defaults()


@pytest.fixture
def config(shared_db: SharedDatabase, tmp_path: Path) -> Path:
    """Node pbx_a joining the shared store, its SQLite store holding three acts, one revoked."""
    node = shared_db.add_role("pbx_a")
    path = tmp_path / "gatekeeper.yaml"
    path.write_text(CONFIG.format(dsn=node.dsn, password_file=node.password_file), encoding="utf-8")

    async def fill() -> None:
        async with await open_act_store(tmp_path / "data" / "consent" / "acts.sqlite") as store:
            await store.add_all(RECORDS)
            await store.revoke(2, RecordKind.OBJECTION, "entered twice")

    asyncio.run(fill())
    return path


def sqlite_rows(config: Path) -> list[tuple[object, ...]]:
    """The SQLite store's records as the shared store's columns would hold them."""

    async def read() -> list[tuple[object, ...]]:
        async with await open_act_store(sqlite_path(config)) as store:
            found: list[tuple[object, ...]] = []
            for e164 in sorted({r.e164 for r in RECORDS}):
                for stored in await store.records(e164):
                    record = stored.record
                    found.append(
                        (
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
            return found

    return sorted(asyncio.run(read()), key=repr)


def shared_rows(database: SharedDatabase) -> list[tuple[object, ...]]:
    """Every record of the shared store, in the same shape."""
    with database.superuser() as conn:
        rows = conn.execute(f"SELECT {SHARED_COLUMNS} FROM gatekeeper.acts").fetchall()
    return sorted(rows, key=repr)


def sqlite_path(config: Path) -> Path:
    """The node's SQLite act store."""
    return config.parent / "data" / "consent" / "acts.sqlite"


def migrate(config: Path) -> int:
    """`gatekeeper -c CONFIG consent migrate --to-postgresql`."""
    return main(["-c", str(config), "consent", "migrate", "--to-postgresql"])


def test_every_act_is_copied_with_its_history(
    config: Path, shared_db: SharedDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both kinds, times, source, reference, creation and revocation arrive unchanged."""
    assert migrate(config) == 0
    assert shared_rows(shared_db) == sqlite_rows(config)
    assert "3 records of" in capsys.readouterr().out


def test_a_second_run_copies_nothing_twice(
    config: Path, shared_db: SharedDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run again, the shared store is the same and the command says nothing was copied."""
    assert migrate(config) == 0
    first = shared_rows(shared_db)
    capsys.readouterr()
    assert migrate(config) == 0
    assert shared_rows(shared_db) == first
    assert ": 0 copied, 3 already in PostgreSQL" in capsys.readouterr().out


def test_a_revocation_made_in_sqlite_since_is_copied_on_the_next_run(
    config: Path, shared_db: SharedDatabase
) -> None:
    """A record revoked in SQLite after the first run is revoked in the shared store too."""
    assert migrate(config) == 0

    async def revoke() -> None:
        async with await open_act_store(sqlite_path(config)) as store:
            await store.revoke(1, RecordKind.CONSENT, "mistake")

    asyncio.run(revoke())
    assert migrate(config) == 0
    assert shared_rows(shared_db) == sqlite_rows(config)


def add_on_other_node(database: SharedDatabase, record: ActRecord) -> None:
    """Node pbx_b records `record` in the shared store."""

    async def add() -> None:
        store = await open_postgres_act_store(database.add_role("pbx_b"), "pbx_b", replicate=False)
        try:
            await store.add(record)
        finally:
            await store.close()

    asyncio.run(add())


def test_a_conflicting_shared_act_refuses_the_whole_move(
    config: Path, shared_db: SharedDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same live act already recorded by another node: exit 1, named, nothing copied."""
    add_on_other_node(shared_db, RECORDS[2])
    before = shared_rows(shared_db)
    assert migrate(config) == 1
    err = capsys.readouterr().err
    assert "nothing was copied" in err
    assert "SQLite record 3 (objection of +32470123456 for globex on 2025-05-03)" in err
    assert shared_rows(shared_db) == before


def test_keep_shared_leaves_out_an_act_already_held(
    config: Path, shared_db: SharedDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --keep-shared the act held by another node is kept once; the others are copied."""
    add_on_other_node(shared_db, RECORDS[2])
    capsys.readouterr()
    argv = ["-c", str(config), "consent", "migrate", "--to-postgresql", "--keep-shared"]
    assert main(argv) == 0
    assert len(shared_rows(shared_db)) == 3
    assert (
        ": 2 copied, 0 already in PostgreSQL, 0 later revocation(s) copied onto them, 1 left out"
        in capsys.readouterr().out
    )
    assert main(argv) == 0
    assert (
        ": 0 copied, 2 already in PostgreSQL, 0 later revocation(s) copied onto them, 1 left out"
        in capsys.readouterr().out
    )


def test_the_sqlite_file_is_only_read(config: Path) -> None:
    """The SQLite store is still there, byte for byte, after a move."""
    digest = hashlib.sha256(sqlite_path(config).read_bytes()).hexdigest()
    assert migrate(config) == 0
    assert hashlib.sha256(sqlite_path(config).read_bytes()).hexdigest() == digest


def test_without_acts_postgresql_it_names_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A node with no shared store configured is told which key to set (exit 2)."""
    path = tmp_path / "gatekeeper.yaml"
    path.write_text(
        "licensee: {name: X, role: advertiser, licence_valid_until: 2099-01-01}\ndata_dir: d\n",
        encoding="utf-8",
    )
    assert migrate(path) == 2
    assert "acts.postgresql is not set" in capsys.readouterr().err
    assert not act_store_path_exists(tmp_path)


def act_store_path_exists(root: Path) -> bool:
    """Whether a SQLite act store was created under `root`'s data dir."""
    return (root / "d" / "consent" / "acts.sqlite").exists()
