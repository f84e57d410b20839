"""`gatekeeper check` on real files: the JSON of docs/agi.md, exit codes and stdout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gatekeeper.common.clock import today
from tools.gatekeeper_run import gatekeeper, write_run_config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The example config in a temporary folder with the sample list imported today."""
    path = write_run_config(tmp_path, agi_port=4573, ami_port=5038, ami_secret="unused")
    gatekeeper(path, "sync", "--list-date", today().isoformat())
    return path


def test_check_json_prints_exactly_one_object_with_contract_fields(config: Path) -> None:
    """`check --json` prints one JSON object holding the documented keys, and exits 0."""
    done = gatekeeper(config, "check", "0470 12 34 56", "--campaign", "spring-promo", "--json")
    answer = json.loads(done.stdout)
    assert {k: answer[k] for k in ("decision", "reason", "number", "campaign")} == {
        "decision": "block",
        "reason": "listed",
        "number": "+32470123456",
        "campaign": "spring-promo",
    }


def test_check_json_names_the_list_snapshot_and_record(config: Path) -> None:
    """The answer carries the snapshot it used (dated today) and the decision's record id."""
    done = gatekeeper(config, "check", "0470999999", "--campaign", "spring-promo", "--json")
    answer = json.loads(done.stdout)
    assert answer["snapshot"]["list_date"] == today().isoformat()
    assert answer["decision_id"]


def test_check_of_invalid_number_is_a_decision_with_null_number(config: Path) -> None:
    """An invalid dialled string is still a decision (exit 0): BLOCK invalid_number, number null."""
    done = gatekeeper(config, "check", "12", "--campaign", "spring-promo", "--json")
    answer = json.loads(done.stdout)
    assert (done.returncode, answer["reason"], answer["number"]) == (0, "invalid_number", None)


def test_check_with_broken_config_exits_2_and_names_the_key(tmp_path: Path) -> None:
    """A configuration error exits 2 with the dotted key on stderr and nothing on stdout."""
    broken = tmp_path / "gatekeeper.yaml"
    broken.write_text(
        "licensee: {name: X, role: seller, licence_valid_until: 2027-06-30}\ndata_dir: d\n",
        encoding="utf-8",
    )
    done = gatekeeper(broken, "check", "0470999999", "--campaign", "x", check=False)
    assert (done.returncode, done.stdout, "licensee.role" in done.stderr) == (2, "", True)


def test_an_enormous_dialled_string_is_recorded_cut_short(config: Path) -> None:
    """A 100,000-character dialled string is refused as invalid and recorded cut to 256 + note."""
    done = gatekeeper(config, "check", "0" * 100_000, "--campaign", "spring-promo", "--json")
    exported = gatekeeper(config, "audit", "export", "--format", "jsonl").stdout
    record = json.loads(exported.splitlines()[-1])
    assert (
        json.loads(done.stdout)["reason"],
        record["dialled"].endswith("(100000 characters)"),
    ) == (
        "invalid_number",
        True,
    )
