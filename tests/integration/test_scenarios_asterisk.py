"""A subset of the legal scenarios through a real Asterisk: one call per reason code and group."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from gatekeeper.common.clock import today
from legal_scenarios import Scenario, load_scenarios
from scenario_setup import customiser, groups, prepare_data
from tools.asterisk_sandbox import DEFAULT_ROOT, READY_MARK
from tools.calls import CallSpec, place_through
from tools.gatekeeper_run import GatekeeperRun

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

TABLE = load_scenarios()
DIALLABLE = re.compile(r"^\+?[0-9]+$")


def _dialled(scenario: Scenario) -> str:
    return re.sub(r"[\s/.()-]", "", scenario.number)


def _one_per_reason(scenarios: list[Scenario]) -> list[Scenario]:
    chosen: dict[str, Scenario] = {}
    for scenario in scenarios:
        if DIALLABLE.match(_dialled(scenario)) and "(0)" not in scenario.number:
            chosen.setdefault(scenario.expect.value, scenario)
    return list(chosen.values())


SUBSET = {
    key: chosen
    for key, group in groups(TABLE.scenarios).items()
    if (chosen := _one_per_reason(group))
}


@pytest.mark.parametrize("key", list(SUBSET), ids=[f"age{a}-licence{b}" for a, b in SUBSET])
async def test_scenarios_through_asterisk(key: tuple[int | None, int], tmp_path: Path) -> None:
    """Each call's GK_REASON is the scenario's; only ALLOW verdicts reach the trunk."""
    if not (DEFAULT_ROOT / READY_MARK).exists():
        pytest.fail("the Asterisk sandbox is not installed: run `make asterisk`")
    scenarios = SUBSET[key]
    run = GatekeeperRun(
        tmp_path / "run", import_list=False, customise=customiser(TABLE, key[1], today())
    )
    await asyncio.to_thread(prepare_data, run.run_dir / "data", scenarios)
    with run:
        specs = [CallSpec(_dialled(s), s.campaign) for s in scenarios]
        calls = await place_through(run.sandbox, specs, limit_s=60)
    seen = [(c.reason, c.reached_trunk) for c in calls]
    expected = [(s.expect.value, s.expect.verdict.value == "allow") for s in scenarios]
    assert seen == expected
