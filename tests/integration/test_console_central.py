"""The console's CentralReader over a real PostgreSQL central log fed by two nodes' shippers."""

from __future__ import annotations

import asyncio
import dataclasses
import http.cookiejar
import json
import re
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.report_data import ReportData
from gatekeeper.audit.store import DecisionRow, Filters
from gatekeeper.common.errors import ConfigError
from gatekeeper.config import PostgresSettings
from gatekeeper.consent import open_act_store
from gatekeeper.console.central_reader import CentralReader
from gatekeeper.console.reader import (
    DecisionChoice,
    DecisionView,
    NodeDecisionRow,
    Page,
    Query,
)
from gatekeeper.stores.postgres.shipper import LogShipper
from tools.asterisk_sandbox import free_port
from tools.gatekeeper_run import GATEKEEPER, gatekeeper, wait_for_port, write_run_config

from audit_support import LISTED, NOT_LISTED
from postgres_support import SharedDatabase

T = TypeVar("T")
START = datetime(2025, 3, 3, 9, tzinfo=UTC)
COUNTS = {"pbx_a": 3, "pbx_b": 4}
PASSWORD = "correct horse battery"


async def _ship(database: SharedDatabase, node: str, path: Path, offset: int) -> None:
    """`COUNTS[node]` decisions two minutes apart from START + offset minutes, shipped."""
    log = await DecisionLog.open(path)
    try:
        for n in range(COUNTS[node]):
            entry = LISTED if n % 2 else NOT_LISTED
            await log.record(
                dataclasses.replace(
                    entry,
                    at=START + timedelta(minutes=offset + 2 * n),
                    uniqueid=f"{node}.{n}",
                    pbx=f"{node}-pbx",
                )
            )
        await LogShipper(database.add_role(node), node, path).ship_once()
    finally:
        await log.close()


@pytest.fixture
def officer(shared_db: SharedDatabase, tmp_path: Path) -> PostgresSettings:
    """A reader role's settings; pbx_a's decisions at even minutes, pbx_b's at odd ones."""
    asyncio.run(_ship(shared_db, "pbx_a", tmp_path / "a.sqlite", 0))
    asyncio.run(_ship(shared_db, "pbx_b", tmp_path / "b.sqlite", 1))
    return shared_db.add_role("officer", "gatekeeper_reader")


def _run(
    settings: PostgresSettings, tmp_path: Path, use: Callable[[CentralReader], Awaitable[T]]
) -> T:
    async def go() -> T:
        acts = await open_act_store(tmp_path / "acts.sqlite")
        reader = CentralReader(settings, acts)
        try:
            return await use(reader)
        finally:
            await reader.close()
            await acts.close()

    return asyncio.run(go())


def _walk(query: Query) -> Callable[[CentralReader], Awaitable[list[tuple[str, int]]]]:
    async def walk(reader: CentralReader) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        before = None
        while True:
            page = await reader.search(query, before, 2)
            found += [(_node(row), row.seq) for row in page.rows]
            if page.next_before is None:
                return found
            before = page.next_before

    return walk


def _node(row: DecisionRow) -> str:
    assert isinstance(row, NodeDecisionRow)
    return row.node


def _decision(
    decision_id: str, node: str | None
) -> Callable[[CentralReader], Awaitable[DecisionView | DecisionChoice | None]]:
    async def open_one(reader: CentralReader) -> DecisionView | DecisionChoice | None:
        return await reader.decision(decision_id, node)

    return open_one


def test_search_pages_cover_both_nodes_newest_first(
    officer: PostgresSettings, tmp_path: Path
) -> None:
    """Keyset pages of 2 list every decision of both nodes once, merged newest first."""
    found = _run(officer, tmp_path, _walk(Query(Filters())))
    assert found == [
        ("pbx_b", 4),
        ("pbx_b", 3),
        ("pbx_a", 3),
        ("pbx_b", 2),
        ("pbx_a", 2),
        ("pbx_b", 1),
        ("pbx_a", 1),
    ]


def test_search_filters_by_node(officer: PostgresSettings, tmp_path: Path) -> None:
    """A node filter keeps that node's decisions only."""
    found = _run(officer, tmp_path, _walk(Query(Filters(verdict="block"), node="pbx_b")))
    assert found == [("pbx_b", 4), ("pbx_b", 2)]


def test_decision_page_verifies_its_nodes_chain(
    officer: PostgresSettings, shared_db: SharedDatabase, tmp_path: Path
) -> None:
    """A decision's page holds its node's chain around it, and names a changed neighbour."""
    with shared_db.superuser() as conn:
        row = conn.execute(
            "SELECT id FROM gatekeeper.decision_log WHERE node = 'pbx_b' AND seq = 2"
        ).fetchone()
        assert row is not None
        conn.execute(
            "UPDATE gatekeeper.decision_log SET reason = 'objection'"
            " WHERE node = 'pbx_b' AND seq = 3"
        )

    view = _run(officer, tmp_path, _decision(str(row[0]), "pbx_b"))
    assert isinstance(view, DecisionView)
    assert (_node(view.row), view.place.window_first, view.place.window_last) == ("pbx_b", 1, 3)
    assert (view.place.verified.ok, view.place.verified.bad_seq) == (False, 3)


def _give_pbx_b_the_id_of_pbx_a(shared_db: SharedDatabase) -> str:
    """Make pbx_b's first decision carry pbx_a's first decision's id, as two nodes can."""
    with shared_db.superuser() as conn:
        row = conn.execute(
            "SELECT id FROM gatekeeper.decision_log WHERE node = 'pbx_a' AND seq = 1"
        ).fetchone()
        assert row is not None
        conn.execute(
            "UPDATE gatekeeper.decision_log SET id = %s WHERE node = 'pbx_b' AND seq = 1",
            (row[0],),
        )
    return str(row[0])


def test_an_id_held_by_several_nodes_asked_without_a_node_is_a_choice(
    officer: PostgresSettings, shared_db: SharedDatabase, tmp_path: Path
) -> None:
    """Two nodes gave the same id: without a node the reader names both, never picks one."""
    shared = _give_pbx_b_the_id_of_pbx_a(shared_db)
    found = _run(officer, tmp_path, _decision(shared, None))
    assert found == DecisionChoice(shared, ("pbx_a", "pbx_b"))


def test_an_id_held_by_several_nodes_asked_with_a_node_is_that_nodes_decision(
    officer: PostgresSettings, shared_db: SharedDatabase, tmp_path: Path
) -> None:
    """With the node given, the page is that node's decision of that id."""
    shared = _give_pbx_b_the_id_of_pbx_a(shared_db)
    found = _run(officer, tmp_path, _decision(shared, "pbx_b"))
    assert isinstance(found, DecisionView)
    assert (_node(found.row), found.row.seq, found.row.id) == ("pbx_b", 1, shared)


def test_an_id_held_by_one_node_needs_no_node(officer: PostgresSettings, tmp_path: Path) -> None:
    """An id only one node gave opens that node's decision without asking."""
    first_of_b = _run(officer, tmp_path, _walk(Query(Filters(), node="pbx_b")))[-1]
    assert first_of_b == ("pbx_b", 1)

    async def id_of_first(reader: CentralReader) -> str:
        page = await reader.search(Query(Filters(), node="pbx_b"), None, 10)
        return page.rows[-1].id

    decision_id = _run(officer, tmp_path, id_of_first)
    found = _run(officer, tmp_path, _decision(decision_id, None))
    assert isinstance(found, DecisionView)
    assert (_node(found.row), found.row.seq) == ("pbx_b", 1)


def test_report_adds_up_every_nodes_figures(officer: PostgresSettings, tmp_path: Path) -> None:
    """The report's facts count both nodes' decisions, each node's chain verified."""

    async def report(reader: CentralReader) -> ReportData:
        return await reader.report(START - timedelta(days=1), START + timedelta(days=1), None)

    data = _run(officer, tmp_path, report)
    assert sum(day.allow + day.block for day in data.days) == 7
    assert (data.chain.ok, data.chain.records) == (True, 7)


def test_export_streams_both_nodes_oldest_first(officer: PostgresSettings, tmp_path: Path) -> None:
    """The export yields every matching decision of both nodes, oldest first, with its node."""

    async def export(reader: CentralReader) -> list[tuple[str, int]]:
        rows = await asyncio.to_thread(list, reader.export(Query(Filters(verdict="allow"))))
        return [(_node(row), row.seq) for row in rows]

    assert _run(officer, tmp_path, export) == [
        ("pbx_a", 1),
        ("pbx_b", 1),
        ("pbx_a", 3),
        ("pbx_b", 3),
    ]


def test_a_node_role_is_refused(shared_db: SharedDatabase, tmp_path: Path) -> None:
    """A node's own role would see one node only: the console refuses it, naming the key."""
    node = shared_db.add_role("pbx_c")

    async def check(reader: CentralReader) -> Page:
        await reader.check()
        return await reader.search(Query(Filters()), None, 1)

    with pytest.raises(ConfigError, match=r"console\.central_log: .* gatekeeper_reader"):
        _run(node, tmp_path, check)


@pytest.fixture
def central_console(officer: PostgresSettings, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`gatekeeper console serve` reading the central store, with an officer account."""
    port = free_port()

    def customise(config: dict[str, Any]) -> None:
        config["console"] = {
            "listen": f"127.0.0.1:{port}",
            "secure_cookies": False,
            "central_log": {
                "postgresql": officer.dsn,
                "password_file": str(officer.password_file),
            },
        }

    run = tmp_path / "run"
    config = write_run_config(
        run, agi_port=free_port(), ami_port=free_port(), ami_secret="x", customise=customise
    )
    command = [str(GATEKEEPER), "-c", str(config), "console"]
    subprocess.run(
        [*command, "user", "add", "alice", "--role", "officer"],
        input=PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
    )
    with (run / "console.log").open("wb") as log:
        process = subprocess.Popen([*command, "serve"], stdout=log, stderr=log)
        try:
            wait_for_port(port, process, timeout=30)
            yield f"http://127.0.0.1:{port}", config
        finally:
            process.terminate()
            process.wait(timeout=15)


def _logged_in(base: str) -> urllib.request.OpenerDirector:
    """A client with alice's session."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with opener.open(base + "/login", timeout=10) as response:
        token = re.search(r'name="csrf" value="([^"]+)"', response.read().decode())
    assert token is not None
    form = {"csrf": token.group(1), "name": "alice", "password": PASSWORD, "next": ""}
    opener.open(base + "/login", urllib.parse.urlencode(form).encode(), timeout=10).close()
    return opener


def test_a_central_search_is_recorded_in_the_consoles_own_chain(
    central_console: tuple[str, Path],
) -> None:
    """Searching the central store shows every node, and the search is a local console_access."""
    base, config = central_console
    opener = _logged_in(base)
    with opener.open(base + "/search?go=1&node=pbx_b", timeout=10) as response:
        page = response.read().decode()
    assert page.count('<td class="node">pbx_b</td>') == COUNTS["pbx_b"]
    done = gatekeeper(config, "audit", "events", "--kind", "console_access", "--json")
    details = [json.loads(line)["details"] for line in done.stdout.splitlines()]
    assert [(d["account"], d["action"], d.get("node")) for d in details] == [
        ("alice", "search", "pbx_b")
    ]


def test_the_page_of_an_id_several_nodes_gave_links_each_nodes_decision(
    central_console: tuple[str, Path], shared_db: SharedDatabase
) -> None:
    """Without a node the page lists one link per node holding the id, and shows no decision."""
    base, _ = central_console
    shared = _give_pbx_b_the_id_of_pbx_a(shared_db)
    with _logged_in(base).open(f"{base}/decision/{shared}", timeout=10) as response:
        page = response.read().decode()
    links = re.findall(r'<a href="(/decision/[^"]+)">([^<]+)</a>', page)
    assert links == [
        (f"/decision/{shared}?node=pbx_a", "pbx_a"),
        (f"/decision/{shared}?node=pbx_b", "pbx_b"),
    ]
