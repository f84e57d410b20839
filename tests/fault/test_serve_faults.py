"""`gatekeeper serve` under faults, with a real Asterisk: no call goes out without its record."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from tools.calls import CallSpec, PlacedCall, place_through
from tools.gatekeeper_run import GatekeeperRun

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

REFUSE_INSERTS = (
    "CREATE TRIGGER refuse_inserts BEFORE INSERT ON chain "
    "BEGIN SELECT RAISE(ABORT, 'disk refuses the write'); END"
)


def _log_file(run: GatekeeperRun) -> Path:
    return run.run_dir / "data" / "audit" / "decisions.sqlite"


def _execute(run: GatekeeperRun, statement: str) -> None:
    with contextlib.closing(sqlite3.connect(_log_file(run), isolation_level=None)) as conn:
        conn.execute(statement)


def _recorded_uniqueids(run: GatekeeperRun) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(f"file:{_log_file(run)}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT uniqueid, verdict FROM chain WHERE type = 'decision' AND uniqueid IS NOT NULL"
        ).fetchall()
    return dict(rows)


def _health(run: GatekeeperRun) -> tuple[int, dict[str, object]]:
    url = f"http://127.0.0.1:{run.health_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


async def _place(run: GatekeeperRun, specs: list[CallSpec]) -> list[PlacedCall]:
    return await place_through(run.sandbox, specs, limit_s=60)


async def test_unwritable_log_blocks_commercial_calls_and_turns_health_red(
    gatekeeper_run: GatekeeperRun,
) -> None:
    """While the log refuses writes, an unlisted number is blocked (internal_error), not called."""
    _execute(gatekeeper_run, REFUSE_INSERTS)
    [call] = await _place(gatekeeper_run, [CallSpec("0470999999", "spring-promo")])
    status, health = _health(gatekeeper_run)
    checks = health["checks"]
    assert isinstance(checks, dict)
    assert (call.decision, call.reason, call.reached_trunk, status, checks["log"]["ok"]) == (
        "BLOCK",
        "internal_error",
        False,
        503,
        False,
    )


async def test_calls_go_out_again_once_the_log_is_writable(gatekeeper_run: GatekeeperRun) -> None:
    """When the log accepts writes again, allowed calls are recorded and placed again."""
    _execute(gatekeeper_run, REFUSE_INSERTS)
    await _place(gatekeeper_run, [CallSpec("0470999999", "spring-promo")])
    _execute(gatekeeper_run, "DROP TRIGGER refuse_inserts")
    [call] = await _place(gatekeeper_run, [CallSpec("0470999999", "spring-promo")])
    assert (call.decision, call.reached_trunk, call.decision_id != "") == ("ALLOW", True, True)


async def test_killed_gatekeeper_leaves_no_placed_call_without_its_record(
    gatekeeper_run: GatekeeperRun,
) -> None:
    """SIGKILL mid-campaign: every call that reached the trunk has its ALLOW in the log."""

    async def kill_mid_campaign() -> None:
        async with asyncio.timeout(30):
            while len(_recorded_uniqueids(gatekeeper_run)) < 10:
                await asyncio.sleep(0.01)
        assert gatekeeper_run.serve is not None
        gatekeeper_run.serve.send_signal(signal.SIGKILL)

    specs = [CallSpec("0470999999", "spring-promo")] * 200
    calls, _ = await asyncio.gather(_place(gatekeeper_run, specs), kill_mid_campaign())
    recorded = _recorded_uniqueids(gatekeeper_run)
    placed = [c for c in calls if c.reached_trunk]
    unrecorded = [c for c in placed if recorded.get(f"{c.linkedid}-route") != "allow"]
    refused = [c for c in calls if not c.reached_trunk]
    assert (len(placed) > 0, len(refused) > 0, unrecorded) == (True, True, [])
