"""The central decision log: each node's committed records shipped in order, once, insert-only."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
import pytest_asyncio
from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.schema import SELECT_RECORDS, connect_reader
from gatekeeper.common.errors import StoreError
from gatekeeper.config import PostgresSettings
from gatekeeper.serve.store_checks import central_log_check
from gatekeeper.stores.postgres.shipper import BATCH, CentralLogDivergedError, LogShipper
from tools.postgres_cluster import PostgresCluster

from audit_support import LISTED, NOT_LISTED
from postgres_support import SharedDatabase, create_database, node_password

CENTRAL_COLUMNS = "seq, id, type, at, kind, campaign, e164, verdict, reason, uniqueid, body,"
CENTRAL_COLUMNS += " prev_hash, hash"


@pytest_asyncio.fixture
async def decision_log(tmp_path: Path) -> AsyncIterator[DecisionLog]:
    """A node's local decision log."""
    opened = await DecisionLog.open(tmp_path / "audit" / "decisions.sqlite")
    try:
        yield opened
    finally:
        await opened.close()


async def write(decision_log: DecisionLog, count: int, start: int = 0) -> None:
    """`count` decisions, each with its own uniqueid."""
    for n in range(start, start + count):
        entry = LISTED if n % 2 else NOT_LISTED
        await decision_log.record(dataclasses.replace(entry, uniqueid=f"17410000.{n}"))


def local_rows(path: Path) -> list[tuple[object, ...]]:
    """Every local record, as stored."""
    conn = connect_reader(path)
    try:
        return [tuple(row) for row in conn.execute(f"{SELECT_RECORDS} ORDER BY seq")]
    finally:
        conn.close()


def central_rows(database: SharedDatabase, node: str) -> list[tuple[object, ...]]:
    """Every central record of `node`, in order."""
    with database.superuser() as conn:
        return list(
            conn.execute(
                f"SELECT {CENTRAL_COLUMNS} FROM gatekeeper.decision_log"
                " WHERE node = %s ORDER BY seq",
                (node,),
            )
        )


@pytest.mark.asyncio
async def test_records_are_shipped_once_in_order(
    decision_log: DecisionLog, shared_db: SharedDatabase
) -> None:
    """Every committed record reaches the central copy as stored, named by its node, once."""
    settings = shared_db.add_role("pbx_a")
    shipper = LogShipper(settings, "pbx_a", decision_log.path)
    await write(decision_log, BATCH + 7)
    assert await shipper.ship_once() == BATCH + 7
    assert await shipper.ship_once() == 0
    await write(decision_log, 3, start=BATCH + 7)
    assert await shipper.ship_once() == 3
    assert central_rows(shared_db, "pbx_a") == local_rows(decision_log.path)
    assert shipper.status().lag_records == 0


@pytest.mark.asyncio
async def test_two_nodes_ship_side_by_side(
    decision_log: DecisionLog, shared_db: SharedDatabase, tmp_path: Path
) -> None:
    """Two nodes' chains (both starting at 1) live side by side, each under its name."""
    other = await DecisionLog.open(tmp_path / "b" / "decisions.sqlite")
    try:
        await write(decision_log, 4)
        await write(other, 6)
        assert await LogShipper(shared_db.add_role("pbx_a"), "pbx_a", decision_log.path).ship_once()
        assert await LogShipper(shared_db.add_role("pbx_b"), "pbx_b", other.path).ship_once()
        assert central_rows(shared_db, "pbx_a") == local_rows(decision_log.path)
        assert central_rows(shared_db, "pbx_b") == local_rows(other.path)
    finally:
        await other.close()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE gatekeeper.decision_log SET reason = 'not_listed'",
        "DELETE FROM gatekeeper.decision_log",
        "TRUNCATE gatekeeper.decision_log",
    ],
)
@pytest.mark.asyncio
async def test_node_cannot_rewrite_what_it_shipped(
    decision_log: DecisionLog, shared_db: SharedDatabase, statement: str
) -> None:
    """A node's role may add records, never change or remove them."""
    settings = shared_db.add_role("pbx_a")
    await write(decision_log, 2)
    await LogShipper(settings, "pbx_a", decision_log.path).ship_once()
    with (
        psycopg.connect(settings.dsn, password=node_password(settings), autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(statement)
    assert central_rows(shared_db, "pbx_a") == local_rows(decision_log.path)


@pytest.mark.asyncio
async def test_node_cannot_write_in_another_nodes_name(
    decision_log: DecisionLog, shared_db: SharedDatabase
) -> None:
    """A node's role ships only under its own name (row security)."""
    await write(decision_log, 2)
    impostor = LogShipper(shared_db.add_role("pbx_b"), "pbx_a", decision_log.path)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        await impostor.ship_once()
    assert central_rows(shared_db, "pbx_a") == []


@pytest.mark.asyncio
async def test_central_copy_refuses_a_record_out_of_chain(
    decision_log: DecisionLog, shared_db: SharedDatabase
) -> None:
    """A record that does not follow the node's last one (gap or wrong link) is refused."""
    settings = shared_db.add_role("pbx_a")
    await write(decision_log, 3)
    await LogShipper(settings, "pbx_a", decision_log.path).ship_once()
    last = local_rows(decision_log.path)[-1]
    with (
        psycopg.connect(settings.dsn, password=node_password(settings), autocommit=True) as conn,
        pytest.raises(psycopg.errors.RaiseException, match="does not follow"),
    ):
        conn.execute(
            f"INSERT INTO gatekeeper.decision_log (node, {CENTRAL_COLUMNS})"
            " VALUES ('pbx_a', %s, 'x', 'decision', 'at', 'k', NULL, NULL, NULL, NULL, NULL,"
            " '{}', %s, 'h')",
            (int(str(last[0])) + 2, last[-1]),
        )


@pytest.mark.asyncio
async def test_local_log_changed_after_shipping_stops_the_shipper(
    decision_log: DecisionLog, shared_db: SharedDatabase
) -> None:
    """When the central copy's last record differs from the local one, nothing more is shipped."""
    settings = shared_db.add_role("pbx_a")
    await write(decision_log, 3)
    await LogShipper(settings, "pbx_a", decision_log.path).ship_once()
    with shared_db.superuser() as conn:
        conn.execute("ALTER TABLE gatekeeper.decision_log DISABLE TRIGGER USER")
        conn.execute("UPDATE gatekeeper.decision_log SET hash = repeat('0', 64) WHERE seq = 3")
    await write(decision_log, 1, start=3)
    with pytest.raises(CentralLogDivergedError, match="record 3 of node pbx_a differs"):
        await LogShipper(settings, "pbx_a", decision_log.path).ship_once()


@pytest.fixture
def own_cluster() -> Iterator[PostgresCluster]:
    """A server of this test's own, to stop and start."""
    with PostgresCluster() as cluster:
        yield cluster


async def shipped_up_to(shipper: LogShipper, seq: int, within_s: float) -> bool:
    """Whether the shipper reaches `seq` within `within_s`."""
    async with asyncio.timeout(within_s):
        while shipper.status().shipped_seq != seq:
            await asyncio.sleep(0.05)
    return True


@pytest.mark.asyncio
async def test_node_cut_off_ships_its_backlog_on_return(
    decision_log: DecisionLog, own_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """PostgreSQL stopped mid-run: the lag shows; back, the backlog ships, none lost or twice."""
    database = create_database(own_cluster, tmp_path / "secrets")
    shipper = LogShipper(database.add_role("pbx_a"), "pbx_a", decision_log.path)
    stop = asyncio.Event()
    running = asyncio.create_task(shipper.run(stop))
    try:
        await write(decision_log, 20)
        assert await shipped_up_to(shipper, 20, 10.0)
        own_cluster.stop("immediate")
        await write(decision_log, 30, start=20)
        async with asyncio.timeout(10.0):
            while shipper.status().error is None or shipper.status().lag_records != 30:
                await asyncio.sleep(0.05)
        healthy, detail = central_log_check(shipper)()  # type: ignore[misc]
        assert not healthy
        assert "30 records waiting" in detail
        own_cluster.start()
        await write(decision_log, 5, start=50)
        assert await shipped_up_to(shipper, 55, 20.0)
        assert shipper.status().error is None
    finally:
        stop.set()
        await running
    assert central_rows(database, "pbx_a") == local_rows(decision_log.path)


@pytest.mark.asyncio
async def test_unreachable_database_names_the_dsn_not_the_password(
    decision_log: DecisionLog, tmp_path: Path
) -> None:
    """A connection failure names the DSN; the password from its file appears nowhere."""
    secret = tmp_path / "pg.secret"
    secret.write_text("hunter2-secret\n", encoding="utf-8")
    settings = PostgresSettings(f"host={tmp_path} port=1 dbname=x user=pbx_a", secret)
    with pytest.raises(StoreError, match=r"host=.* user=pbx_a.*cannot connect") as caught:
        await LogShipper(settings, "pbx_a", decision_log.path).ship_once()
    assert "hunter2" not in str(caught.value)


@pytest.mark.asyncio
async def test_each_record_names_its_pbx_when_known(
    decision_log: DecisionLog, shared_db: SharedDatabase
) -> None:
    """A decision asked with `check?pbx=NAME` carries its PBX into the central copy's column."""
    await decision_log.record(dataclasses.replace(LISTED, pbx="pbx-a.brussels"))
    await decision_log.record(NOT_LISTED)
    await LogShipper(shared_db.add_role("pbx_a"), "pbx_a", decision_log.path).ship_once()
    with shared_db.superuser() as conn:
        rows = conn.execute("SELECT seq, pbx FROM gatekeeper.decision_log ORDER BY seq").fetchall()
    assert rows == [(1, "pbx-a.brussels"), (2, None)]
