"""`audit nodes --central`: each node's list from its shipped syncs, out-of-step ones flagged."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import structlog
from gatekeeper.audit.log import DecisionLog
from gatekeeper.cli import main
from gatekeeper.stores.postgres.shipper import LogShipper

from audit_support import NOT_LISTED, run
from postgres_support import SharedDatabase

NODE_CONFIG = """\
licensee: {{name: Example Contact NV, role: service_provider, licence_valid_until: 2099-06-30}}
data_dir: data
dncm: {{source: {{file: list.txt}}}}
"""
OFFICER_CONFIG = """\
licensee: {{name: Example Contact NV, role: service_provider, licence_valid_until: 2099-06-30}}
data_dir: data
node: officer_desk
central_log: {{postgresql: "{dsn}", password_file: {password_file}}}
"""
LIST = "0486993908;2015-02-19\n0470123456;2016-03-01\n"
OTHER_LIST = "0486993908;2015-02-19\n"
NEWEST = date(2026, 11, 30)


@pytest.fixture(autouse=True)
def _default_logging() -> Iterator[None]:
    """`cli.main` points structlog at the captured stderr: put the default back after."""
    yield
    structlog.reset_defaults()


class Nodes:
    """Node folders that sync their own list and ship their log; an officer reads them all."""

    def __init__(self, database: SharedDatabase, root: Path) -> None:
        """Nothing is created until a node syncs."""
        self.database = database
        self.root = root
        officer = database.add_role("officer", "gatekeeper_reader")
        self.officer = root / "officer.yaml"
        self.officer.write_text(
            OFFICER_CONFIG.format(dsn=officer.dsn, password_file=officer.password_file),
            encoding="utf-8",
        )

    def sync(self, node: str, text: str, list_date: date) -> None:
        """Import `text` as the node's list of `list_date` (a real `gatekeeper sync`)."""
        folder = self.root / node
        folder.mkdir(exist_ok=True)
        (folder / "list.txt").write_text(text, encoding="utf-8")
        config = folder / "gatekeeper.yaml"
        config.write_text(NODE_CONFIG.format(), encoding="utf-8")
        assert main(["-c", str(config), "sync", "--list-date", list_date.isoformat()]) == 0

    def decide(self, node: str, pbx: str) -> None:
        """Record one decision through `pbx` in the node's log."""

        async def record() -> None:
            log = await DecisionLog.open(self.log(node))
            try:
                await log.record(dataclasses.replace(NOT_LISTED, pbx=pbx))
            finally:
                await log.close()

        asyncio.run(record())

    def ship(self, node: str) -> None:
        """Ship the node's log to the central copy under its own role."""
        shipper = LogShipper(self.database.add_role(node), node, self.log(node))
        asyncio.run(shipper.ship_once())

    def log(self, node: str) -> Path:
        """The node's decision log."""
        return self.root / node / "data" / "audit" / "decisions.sqlite"


@pytest.fixture
def nodes(shared_db: SharedDatabase, tmp_path: Path) -> Nodes:
    """No node yet; an officer's config reading the central copy."""
    return Nodes(shared_db, tmp_path)


def lines_of(out: str) -> dict[str, list[str]]:
    """The table's rows by node (columns split on runs of two spaces or more)."""
    rows = [line.split() for line in out.splitlines()[2:]]
    return {row[0]: row for row in rows if row and not row[0][0].isdigit() and row[0] != "node"}


def test_nodes_on_the_same_list_are_not_flagged(
    nodes: Nodes, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two nodes on the same list: one line each with its date, sha256, rows and PBX; exit 0."""
    for node in ("pbx_a", "pbx_b"):
        nodes.sync(node, LIST, NEWEST)
        nodes.decide(node, f"{node}.brussels")
        nodes.ship(node)
    capsys.readouterr()
    assert run(nodes.officer, "nodes", "--central") == 0
    out = capsys.readouterr().out
    sha = hashlib.sha256(LIST.encode()).hexdigest()[:12]
    rows = lines_of(out)
    assert rows["pbx_a"][:5] == ["pbx_a", "pbx_a.brussels", "2026-11-30", sha, "2"]
    assert rows["pbx_b"][-1] == "-"
    assert f"2 node(s), 0 flagged; newest list 2026-11-30, sha256 {sha} on 2 node(s)" in out


def test_a_node_on_an_older_list_is_behind(
    nodes: Nodes, capsys: pytest.CaptureFixture[str]
) -> None:
    """A node whose list date is older than the newest any node has is flagged BEHIND, exit 1."""
    nodes.sync("pbx_a", LIST, NEWEST)
    nodes.sync("pbx_b", LIST, date(2026, 11, 1))
    for node in ("pbx_a", "pbx_b"):
        nodes.ship(node)
    capsys.readouterr()
    assert run(nodes.officer, "nodes", "--central") == 1
    rows = lines_of(capsys.readouterr().out)
    assert (rows["pbx_a"][-1], rows["pbx_b"][-1]) == ("-", "BEHIND")


def test_a_node_with_another_list_of_the_newest_date_differs(
    nodes: Nodes, capsys: pytest.CaptureFixture[str]
) -> None:
    """The node whose sha256 is not the one most nodes hold for the newest date is DIFFERS."""
    nodes.sync("pbx_a", LIST, NEWEST)
    nodes.sync("pbx_b", LIST, NEWEST)
    nodes.sync("pbx_c", OTHER_LIST, NEWEST)
    for node in ("pbx_a", "pbx_b", "pbx_c"):
        nodes.ship(node)
    capsys.readouterr()
    assert run(nodes.officer, "nodes", "--central") == 1
    rows = lines_of(capsys.readouterr().out)
    assert [rows[node][-1] for node in ("pbx_a", "pbx_b", "pbx_c")] == ["-", "-", "DIFFERS"]


def test_an_unchanged_sync_keeps_the_first_import_time(
    nodes: Nodes, capsys: pytest.CaptureFixture[str]
) -> None:
    """After an `unchanged` sync the line shows when the list was imported, not re-synced."""
    nodes.sync("pbx_a", LIST, NEWEST)
    nodes.ship("pbx_a")
    with nodes.database.superuser() as conn:
        conn.execute(
            "UPDATE gatekeeper.decision_log SET at = '2026-11-30T05:00:00.000000+00:00'"
            " WHERE node = 'pbx_a' AND kind = 'list_sync'"
        )
    nodes.sync("pbx_a", LIST, NEWEST)
    nodes.ship("pbx_a")
    capsys.readouterr()
    assert run(nodes.officer, "nodes", "--central") == 0
    assert lines_of(capsys.readouterr().out)["pbx_a"][5:7] == ["2026-11-30", "06:00"]


def test_a_node_without_a_list_sync_is_flagged_no_list(
    nodes: Nodes, capsys: pytest.CaptureFixture[str]
) -> None:
    """A node that shipped decisions but no list sync is NO_LIST, and the reason is named."""
    nodes.sync("pbx_a", LIST, NEWEST)
    nodes.ship("pbx_a")
    nodes.decide("pbx_b", "pbx-b")
    nodes.ship("pbx_b")
    capsys.readouterr()
    assert run(nodes.officer, "nodes", "--central") == 1
    out = capsys.readouterr().out
    assert lines_of(out)["pbx_b"][-1] == "NO_LIST"
    assert "node pbx_b: no list sync in force among its shipped records" in out


def test_a_silent_node_is_flagged_past_max_silence(
    nodes: Nodes, capsys: pytest.CaptureFixture[str]
) -> None:
    """--max-silence flags a node the central copy last heard from longer ago as SILENT."""
    for node in ("pbx_a", "pbx_b"):
        nodes.sync(node, LIST, NEWEST)
        nodes.ship(node)
    with nodes.database.superuser() as conn:
        conn.execute(
            "UPDATE gatekeeper.decision_log SET shipped_at = now() - interval '1 hour'"
            " WHERE node = 'pbx_b'"
        )
    capsys.readouterr()
    assert run(nodes.officer, "nodes", "--central") == 0
    capsys.readouterr()
    assert run(nodes.officer, "nodes", "--central", "--max-silence", "600") == 1
    rows = lines_of(capsys.readouterr().out)
    assert (rows["pbx_a"][-1], rows["pbx_b"][-1]) == ("-", "SILENT")


def test_hostile_node_and_pbx_names_reach_the_terminal_as_text(
    nodes: Nodes, capsys: pytest.CaptureFixture[str]
) -> None:
    """A node name and PBX holding terminal escapes are printed escaped, never raw."""
    body = {"details": {"status": "failed", "error": "x"}}
    with nodes.database.superuser() as conn:
        conn.execute(
            "INSERT INTO gatekeeper.decision_log (node, seq, id, type, at, kind, body,"
            " prev_hash, hash, pbx) VALUES (%s, 1, 'e1', 'event', '2026-11-30T08:00:00+00:00',"
            " 'list_sync', %s, 'g', 'h', %s)",
            ("evil\x1b]0;owned\x07", json.dumps(body), "pbx\x1b[2J"),
        )
    capsys.readouterr()
    assert run(nodes.officer, "nodes", "--central") == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "evil\\x1b]0;owned\\x07" in out
    assert "pbx\\x1b[2J" in out
    assert "its newest list sync failed (record 1)" in out


def test_an_empty_central_log_fails_the_check(
    nodes: Nodes, capsys: pytest.CaptureFixture[str]
) -> None:
    """No node has shipped anything: exit 1, so a monitoring check is not silently green."""
    assert run(nodes.officer, "nodes", "--central") == 1
    assert "no node to compare" in capsys.readouterr().out


def test_a_node_role_is_refused_rather_than_shown_alone(
    nodes: Nodes, capsys: pytest.CaptureFixture[str]
) -> None:
    """A node's own role sees only its rows: the comparison is refused, exit 1, not green."""
    nodes.sync("pbx_a", LIST, NEWEST)
    nodes.ship("pbx_a")
    node = nodes.database.add_role("pbx_a")
    config = nodes.root / "pbx_a.yaml"
    config.write_text(
        OFFICER_CONFIG.format(dsn=node.dsn, password_file=node.password_file), encoding="utf-8"
    )
    capsys.readouterr()
    assert main(["-c", str(config), "audit", "nodes", "--central"]) == 1
    assert "not in gatekeeper_reader" in capsys.readouterr().err
