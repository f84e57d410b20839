"""Every legal scenario, through `gatekeeper scrub` on real files: the decision `check` gives."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog
from gatekeeper.cli import main
from gatekeeper.common.clock import today
from gatekeeper.common.untrusted import plain_cell
from legal_scenarios import Scenario, load_scenarios
from scenario_setup import customiser, groups, prepare_data
from tools.gatekeeper_run import write_run_config

TABLE = load_scenarios()
GROUPS = groups(TABLE.scenarios)
SCRUBBED = [s for s in TABLE.scenarios if s.campaign in TABLE.campaigns]
"""A scrub for a campaign that is not configured is refused as a whole (a usage error)."""


@dataclass(frozen=True, slots=True)
class Scrubbed:
    """The run folders' configs by group, and each scenario's row in its scrubbed list."""

    configs: dict[tuple[int | None, int], Path]
    rows: dict[str, dict[str, str]]


def _scrub(config: Path, campaign: str, scenarios: list[Scenario]) -> list[dict[str, str]]:
    folder = config.parent
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "number"])
    writer.writerows([s.id, s.number] for s in scenarios)
    source, output = folder / f"{campaign}.csv", folder / f"{campaign}-scrubbed.csv"
    source.write_text(buffer.getvalue(), encoding="utf-8")
    code = main(
        ["-c", str(config), "scrub", str(source), "--campaign", campaign, "--output", str(output)]
    )
    assert code == 0, campaign
    text = output.read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.fixture(scope="module")
def scrubbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scrubbed]:
    """One run folder per group; each of its campaigns' scenarios scrubbed as one list."""
    configs: dict[tuple[int | None, int], Path] = {}
    rows: dict[str, dict[str, str]] = {}
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
        configs[key] = config
        for campaign in sorted({s.campaign for s in scenarios if s.campaign in TABLE.campaigns}):
            mine = [s for s in scenarios if s.campaign == campaign]
            rows.update((row["id"], row) for row in _scrub(config, campaign, mine))
    yield Scrubbed(configs, rows)
    structlog.reset_defaults()


@pytest.mark.parametrize("scenario", SCRUBBED, ids=[s.id for s in SCRUBBED])
def test_scrubbed_row_is_the_scenarios_decision_and_checks(
    scenario: Scenario, scrubbed: Scrubbed, capsys: pytest.CaptureFixture[str]
) -> None:
    """A scenario's scrubbed row has its reason, and `check`'s verdict, reason and number."""
    row = scrubbed.rows[scenario.id]
    config = scrubbed.configs[scenario.list_age, scenario.licence_end]
    capsys.readouterr()
    code = main(
        ["-c", str(config), "check", scenario.number, "--campaign", scenario.campaign, "--json"]
    )
    answer = json.loads(capsys.readouterr().out)
    checked = (answer["decision"].upper(), answer["reason"], answer["number"] or "")
    scrubbed_row = (row["gk_decision"], row["gk_reason"], plain_cell(row["gk_number"]))
    assert code == 0
    assert row["gk_reason"] == scenario.expect.value, scenario.why
    assert scrubbed_row == checked, scenario.why
