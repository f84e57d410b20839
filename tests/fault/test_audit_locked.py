"""Another process holds the decision log's write lock: every answered decision still reaches it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.records import utc_text
from gatekeeper.audit.store import verify_log
from gatekeeper.check.checker import CallRequest, Checker, CheckResult
from gatekeeper.common.clock import today
from gatekeeper.config import LiveSettings
from gatekeeper.dncm.sync import import_list_file
from gatekeeper.serve.app import open_services
from gatekeeper.serve.health_checks import late_records_check
from gatekeeper.serve.limits import Limits
from structlog.testing import capture_logs
from tools.gatekeeper_run import SAMPLE_LIST, write_run_config

from audit_support import LISTED, run

pytestmark = pytest.mark.asyncio

HOLD_S = 2.0
CHECKS = 30
SPACING_S = 0.1
LOCKER = r"""
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The example config with the sample list imported today."""
    path = write_run_config(tmp_path, agi_port=4573, ami_port=5038, ami_secret="s")
    data_dir = LiveSettings(path).current().data_dir
    import_list_file(data_dir / "dncm", SAMPLE_LIST, source="t", list_date=today())
    return path


async def _check_after(checker: Checker, delay: float, n: int) -> CheckResult:
    await asyncio.sleep(delay)
    return await checker.check(
        CallRequest("0470999999", "spring-promo", "test", uniqueid=f"1741000000.{n}")
    )


async def _checks_while_locked(config: Path) -> tuple[list[CheckResult], Path]:
    """CHECKS calls, one every SPACING_S, while a child process holds the lock for HOLD_S."""
    live = LiveSettings(config)
    async with open_services(live) as services:
        path = services.decision_log.path
        locker = await asyncio.create_subprocess_exec(
            sys.executable, "-c", LOCKER, str(path), str(HOLD_S), stdout=asyncio.subprocess.PIPE
        )
        try:
            assert locker.stdout is not None
            assert await locker.stdout.readline() == b"locked\n"
            results = await asyncio.gather(
                *(_check_after(services.checker, n * SPACING_S, n) for n in range(CHECKS))
            )
        finally:
            await locker.wait()
    return results, path


def _decisions(path: Path) -> dict[str, tuple[str, str, str, dict[str, Any]]]:
    """Each decision's uniqueid → (id, at, verdict, body)."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT uniqueid, id, at, verdict, body FROM chain WHERE type = 'decision'"
        ).fetchall()
    return {row[0]: (row[1], row[2], row[3], json.loads(row[4])) for row in rows}


def _as_recorded(result: CheckResult) -> tuple[str, str, bool]:
    return utc_text(result.at), result.decision.verdict.value, result.decision_id is None


async def test_every_answer_given_under_a_foreign_lock_is_in_the_chain(config: Path) -> None:
    """Answers with and without an id all reach the chain: true time, verdict, `late` marker."""
    results, path = await _checks_while_locked(config)
    stored = _decisions(path)
    answered = {r.request.uniqueid: _as_recorded(r) for r in results}
    recorded = {
        uniqueid: (at, verdict, "late" in body)
        for uniqueid, (_, at, verdict, body) in stored.items()
    }
    ids_match = all(
        stored[r.request.uniqueid][0] == r.decision_id for r in results if r.decision_id
    )
    late = sum(1 for r in results if r.decision_id is None)
    assert (recorded, ids_match, late > 0, run(config, "verify")) == (answered, True, True, 0)


async def test_a_late_answer_is_logged_with_its_reason(config: Path) -> None:
    """The log line of a decision answered before its record says why, never with empty text."""
    with capture_logs() as logs:
        await _checks_while_locked(config)
    errors = [str(e["error"]) for e in logs if e["event"] == "decision_log_unavailable"]
    assert (len(errors) > 0, all("locked" in error for error in errors)) == (True, True)


async def test_the_service_hands_the_checker_its_record_deadline(config: Path) -> None:
    """`open_services` with `Limits(check_record_deadline_s=0.2)`: a locked log misses 0.2 s."""
    limits = Limits(check_record_deadline_s=0.2)
    async with open_services(LiveSettings(config), limits) as services:
        locker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            LOCKER,
            str(services.decision_log.path),
            "1.0",
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert locker.stdout is not None
            assert await locker.stdout.readline() == b"locked\n"
            async with asyncio.timeout(0.8):
                result = await _check_after(services.checker, 0, 0)
        finally:
            await locker.wait()
    assert (result.decision_id, services.checker.record_failure) == (
        None,
        "no commit within 0.2 s (decision log locked or slow)",
    )


async def test_a_full_late_queue_refuses_and_health_says_so(tmp_path: Path) -> None:
    """Past `max_late` waiting late records, the next is refused and `late_records` fails."""
    path = tmp_path / "decisions.sqlite"
    log = await DecisionLog.open(path, max_late=2)
    check = late_records_check(log)
    try:
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as locker:
            locker.execute("BEGIN IMMEDIATE")
            kept = [log.record_late(LISTED, "locked") for _ in range(3)]
            await asyncio.sleep(0.05)
            health = check()
            assert isinstance(health, tuple)
            locker.execute("ROLLBACK")
    finally:
        await log.close()
    assert (kept, health[0], verify_log(path).records) == ([True, True, False], False, 2)
