"""The /healthz checks of serve, on real files: list freshness and the decision log."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from gatekeeper.check.checker import CallRequest
from gatekeeper.common.clock import today
from gatekeeper.config import LiveSettings, Settings
from gatekeeper.dncm.index import ListIndex
from gatekeeper.dncm.sync import import_list_file
from gatekeeper.serve.app import open_services
from gatekeeper.serve.health_checks import list_check, log_check
from tools.gatekeeper_run import SAMPLE_LIST, write_run_config


@pytest.fixture
def live(tmp_path: Path) -> LiveSettings:
    """The example config in a temporary folder, nothing imported yet."""
    return LiveSettings(write_run_config(tmp_path, agi_port=4573, ami_port=5038, ami_secret="s"))


def _import(settings: Settings, age_days: int) -> None:
    import_list_file(
        settings.data_dir / "dncm",
        SAMPLE_LIST,
        source="test",
        list_date=today() - timedelta(days=age_days),
    )


def _list_health(live: LiveSettings) -> tuple[bool, str]:
    index = ListIndex(live.current().data_dir / "dncm")
    try:
        check: Callable[[], object] = list_check(index, live.current)
        result = check()
    finally:
        index.close()
    assert isinstance(result, tuple)
    return result


def test_list_check_fails_without_a_list(live: LiveSettings) -> None:
    """No snapshot imported: unhealthy, and it says commercial calls block with list_missing."""
    ok, detail = _list_health(live)
    assert (ok, "list_missing" in detail) == (False, True)


def test_list_check_passes_with_a_fresh_list(live: LiveSettings) -> None:
    """A list dated today is healthy."""
    _import(live.current(), age_days=0)
    assert _list_health(live)[0] is True


def test_list_check_fails_past_max_age(live: LiveSettings) -> None:
    """A list older than dncm.max_age_days is unhealthy, naming list_stale."""
    _import(live.current(), age_days=live.current().dncm.max_age_days + 1)
    ok, detail = _list_health(live)
    assert (ok, "list_stale" in detail) == (False, True)


@pytest.mark.asyncio
async def test_log_check_follows_the_last_recording(live: LiveSettings) -> None:
    """Healthy after a recorded decision; unhealthy after one that could not be recorded."""
    log_file = live.current().data_dir / "audit" / "decisions.sqlite"
    async with open_services(live) as services:
        check = log_check(services.checker, live.current)
        await services.checker.check(CallRequest("0470999999", "spring-promo", "test"))
        before = check()
        with contextlib.closing(sqlite3.connect(log_file, isolation_level=None)) as conn:
            conn.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON chain "
                "BEGIN SELECT RAISE(ABORT, 'no space left'); END"
            )
        await services.checker.check(CallRequest("0470999999", "spring-promo", "test"))
        after = check()
    assert isinstance(before, tuple)
    assert isinstance(after, tuple)
    assert (before[0], after[0], "no space left" in after[1]) == (True, False, True)
