"""Every legal scenario, through `gatekeeper check --json` on real files: the scenario's reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gatekeeper.cli import main
from gatekeeper.common.clock import today
from legal_scenarios import Scenario, load_scenarios
from scenario_setup import customiser, groups, prepare_data
from tools.gatekeeper_run import write_run_config

TABLE = load_scenarios()
GROUPS = groups(TABLE.scenarios)


@pytest.fixture(scope="module")
def configs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[int | None, int], Path]:
    """One run folder per (list age, licence end) group, its list imported and acts stored."""
    made = {}
    for key, scenarios in GROUPS.items():
        run_dir = tmp_path_factory.mktemp("scenarios")
        config = write_run_config(
            run_dir,
            agi_port=4573,
            ami_port=5038,
            ami_secret="unused",
            customise=customiser(TABLE, key[1], today()),
        )
        prepare_data(run_dir / "data", scenarios)
        made[key] = config
    return made


@pytest.mark.parametrize("scenario", TABLE.scenarios, ids=[s.id for s in TABLE.scenarios])
def test_check_json_gives_the_scenarios_reason(
    scenario: Scenario,
    configs: dict[tuple[int | None, int], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`gatekeeper check --json` answers the scenario's expected reason code, exit 0."""
    config = configs[scenario.list_age, scenario.licence_end]
    code = main(
        ["-c", str(config), "check", scenario.number, "--campaign", scenario.campaign, "--json"]
    )
    answer = json.loads(capsys.readouterr().out)
    assert (code, answer["reason"]) == (0, scenario.expect.value), scenario.why
