"""`Checker.decide_only`: the decision `check` makes, on real stores, without a record."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from gatekeeper.audit.store import reading
from gatekeeper.check.checker import CallRequest
from gatekeeper.cli import main
from gatekeeper.common.clock import today
from gatekeeper.config import LiveSettings
from gatekeeper.serve.app import open_services

CONFIG = """\
licensee: {name: Example Contact NV, role: service_provider, licence_valid_until: 2099-06-30}
data_dir: data
dncm: {source: {file: dncm.txt}}
advertisers: {acme: {name: ACME Energy BV}}
campaigns:
  spring-promo: {purpose: commercial, advertiser: acme}
"""
DIALLED = ("0470 12 34 56", "0470 99 99 99", "02 511 22 33", "+33 1 23 45 67 89", "12")


@pytest.fixture(autouse=True)
def _default_logging() -> Iterator[None]:
    """`cli.main` points structlog at this test's captured stderr: put the default back after."""
    yield
    structlog.reset_defaults()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config with a list imported today, a consent and an objection stored."""
    path = tmp_path / "gatekeeper.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    (tmp_path / "dncm.txt").write_text("0470123456;2019-03-14\n0486993908;2015-02-19\n")
    for argv in (
        ("sync", "--list-date", today().isoformat()),
        ("consent", "add", "0470123456", "--advertiser", "acme", "--date", "2024-01-05"),
        ("objection", "add", "025112233", "--advertiser", "acme", "--date", "2024-01-05"),
    ):
        assert main(["-c", str(path), *argv]) == 0
    return path


def records_in(config: Path) -> int:
    """How many records the decision log holds."""
    with reading(config.parent / "data" / "audit" / "decisions.sqlite") as conn:
        return int(conn.execute("SELECT count(*) FROM chain").fetchone()[0])


@pytest.mark.asyncio
async def test_decide_only_decides_as_check_does(config: Path) -> None:
    """For every number, decide_only's reason, rule, number and snapshot equal check's."""
    async with open_services(LiveSettings(config)) as services:
        for dialled in DIALLED:
            request = CallRequest(dialled, "spring-promo", "test")
            alone = await services.checker.decide_only(request)
            checked = await services.checker.check(request)
            assert (alone.decision, alone.e164, alone.snapshot) == (
                checked.decision,
                checked.e164,
                checked.snapshot,
            )


@pytest.mark.asyncio
async def test_decide_only_records_nothing(config: Path) -> None:
    """decide_only adds nothing to the decision log (check, for contrast, adds its record)."""
    request = CallRequest("0470999999", "spring-promo", "test")
    async with open_services(LiveSettings(config)) as services:
        before = records_in(config)
        result = await services.checker.decide_only(request)
        after_decide_only = records_in(config)
        await services.checker.check(request)
        after_check = records_in(config)
    assert (result.decision_id, after_decide_only, after_check) == (None, before, before + 1)
