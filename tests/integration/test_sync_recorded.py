"""Every `gatekeeper sync`, good or refused, is in the decision log's chain."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
from gatekeeper.common.clock import today
from tools.gatekeeper_run import SAMPLE_LIST, gatekeeper, write_run_config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The example config in a temporary folder."""
    return write_run_config(tmp_path, agi_port=4573, ami_port=5038, ami_secret="unused")


def _syncs(config: Path) -> list[dict[str, object]]:
    path = config.parent / "data" / "audit" / "decisions.sqlite"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT body FROM chain WHERE kind = 'list_sync'").fetchall()
    return [json.loads(body) for (body,) in rows]


def test_successful_sync_records_the_list_in_force(config: Path) -> None:
    """A sync leaves a list_sync record with status ok, the list's date and fingerprint."""
    gatekeeper(config, "sync", "--list-date", today().isoformat())
    [body] = _syncs(config)
    details = body.get("details", body)
    assert isinstance(details, dict)
    assert (details["status"], details["list_date"], len(str(details["sha256"]))) == (
        "ok",
        today().isoformat(),
        64,
    )


def test_refused_sync_is_recorded_as_failed(config: Path, tmp_path: Path) -> None:
    """A refused file exits 1 and leaves a list_sync record with status failed."""
    gatekeeper(config, "sync", "--list-date", today().isoformat())
    truncated = tmp_path / "truncated.txt"
    truncated.write_text("".join(SAMPLE_LIST.read_text().splitlines(keepends=True)[:3]))
    done = gatekeeper(config, "sync", "--file", str(truncated), check=False)
    statuses = [b.get("details", b)["status"] for b in _syncs(config)]  # type: ignore[index]
    assert (done.returncode, statuses) == (1, ["ok", "failed"])
