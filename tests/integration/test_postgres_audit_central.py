"""`audit show|events|export|verify --central`: every node's shipped records, each chain checked."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
from pathlib import Path

import pytest
from gatekeeper.audit.log import DecisionLog
from gatekeeper.common.errors import ConfigError
from gatekeeper.stores.postgres.shipper import LogShipper

from audit_support import LISTED, NOT_LISTED, run
from postgres_support import SharedDatabase

CONFIG = """\
licensee: {{name: Example Contact NV, role: service_provider, licence_valid_until: 2099-06-30}}
data_dir: data
node: pbx_a
central_log: {{postgresql: "{dsn}", password_file: {password_file}}}
"""


async def node_log(path: Path, count: int, settings_node: tuple[SharedDatabase, str]) -> None:
    """A node's log with `count` decisions (the odd ones blocked), shipped under its name."""
    database, node = settings_node
    log = await DecisionLog.open(path)
    try:
        for n in range(count):
            entry = LISTED if n % 2 else NOT_LISTED
            await log.record(dataclasses.replace(entry, uniqueid=f"{node}.{n}"))
        await LogShipper(database.add_role(node), node, path).ship_once()
    finally:
        await log.close()


@pytest.fixture
def config(shared_db: SharedDatabase, tmp_path: Path) -> Path:
    """Node pbx_a's config, reading the central copy as a compliance officer; both nodes shipped."""
    asyncio.run(node_log(tmp_path / "data" / "audit" / "decisions.sqlite", 3, (shared_db, "pbx_a")))
    asyncio.run(node_log(tmp_path / "b.sqlite", 4, (shared_db, "pbx_b")))
    officer = shared_db.add_role("officer", "gatekeeper_reader")
    path = tmp_path / "gatekeeper.yaml"
    path.write_text(
        CONFIG.format(dsn=officer.dsn, password_file=officer.password_file), encoding="utf-8"
    )
    return path


def test_verify_names_every_node_and_this_nodes_backlog(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each node's chain is verified on its own, and this node's local log is held to it."""
    assert run(config, "verify", "--central") == 0
    out = capsys.readouterr().out
    assert "node pbx_a: OK: 3 records, sequence 1..3" in out
    assert "node pbx_b: OK: 4 records, sequence 1..4" in out
    assert "node pbx_a: the local log holds the central head (record 3); 0 local" in out


def test_verify_names_the_node_whose_central_chain_was_changed(
    config: Path, shared_db: SharedDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    """A central record changed by the database owner fails that node's chain, exit 1."""
    with shared_db.superuser() as conn:
        conn.execute(
            "UPDATE gatekeeper.decision_log SET reason = 'not_listed'"
            " WHERE node = 'pbx_b' AND seq = 2"
        )
    assert run(config, "verify", "--central") == 1
    out = capsys.readouterr().out
    assert "node pbx_a: OK" in out
    assert "node pbx_b: TAMPERED: record 2" in out


def test_show_lists_every_nodes_decisions(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Show --central gives both nodes' decisions, each named by its node."""
    assert run(config, "show", "--central", "--verdict", "block") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["node", "pbx"]
    assert sorted(line.split()[0] for line in lines[2:-1]) == ["pbx_a", "pbx_b", "pbx_b"]
    assert lines[-1] == "3 decision(s)"


def test_export_and_events_carry_the_node(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Export --central puts node first in CSV; events --central --json names it."""
    assert run(config, "export", "--central") == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][:3] == ["node", "pbx", "decision_id"]
    assert [row[0] for row in rows[1:]].count("pbx_b") == 4
    assert run(config, "events", "--central", "--json") == 0
    assert all(json.loads(line)["node"] for line in capsys.readouterr().out.splitlines())


def test_central_without_central_log_is_a_config_error(tmp_path: Path) -> None:
    """--central on a node without central_log says which key to set."""
    path = tmp_path / "gatekeeper.yaml"
    path.write_text(
        "licensee: {name: X, role: advertiser, licence_valid_until: 2099-01-01}\ndata_dir: d\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"central_log\.postgresql is not set"):
        run(path, "verify", "--central")
