"""The journal names a number only by its pseudonym, and an officer can link the two back."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from gatekeeper.common.clock import today
from tools.gatekeeper_run import gatekeeper, write_run_config

LISTED_DIALLED = "0470 12 34 56"
LISTED_E164 = "+32470123456"
LISTED_SINCE = "2019-03-14"
"""The sample list's registration date of that number."""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The example config in a temporary folder with the sample list imported today."""
    path = write_run_config(tmp_path, agi_port=4573, ami_port=5038, ami_secret="unused")
    gatekeeper(path, "sync", "--list-date", today().isoformat())
    return path


def _decision_line(stderr: str) -> tuple[str, dict[str, object]]:
    lines = [line for line in stderr.splitlines() if '"event": "decision"' in line]
    assert len(lines) == 1, stderr
    return lines[0], json.loads(lines[0])


def _check(config: Path) -> tuple[str, dict[str, object], str]:
    done = gatekeeper(config, "check", LISTED_DIALLED, "--campaign", "spring-promo", "--json")
    text, line = _decision_line(done.stderr)
    return text, line, str(json.loads(done.stdout)["decision_id"])


def test_decision_line_has_no_number_and_no_listing_date(config: Path) -> None:
    """A real check's log line holds neither the number nor its listing date, in any form."""
    text, _, _ = _check(config)
    leaks = [
        part for part in (LISTED_E164, LISTED_DIALLED, "470123456", LISTED_SINCE) if part in text
    ]
    assert leaks == []


def test_decision_line_carries_decision_id_and_stable_pseudonym(config: Path) -> None:
    """Two checks of one number log their own decision ids under one and the same pseudonym."""
    _, first, first_id = _check(config)
    _, second, second_id = _check(config)
    assert (first["decision_id"], second["decision_id"], first["pseudonym"]) == (
        first_id,
        second_id,
        second["pseudonym"],
    )


def test_pseudonym_command_gives_the_logged_pseudonym(config: Path) -> None:
    """`audit pseudonym NUMBER`, in another written form, prints the pseudonym of the line."""
    _, line, _ = _check(config)
    done = gatekeeper(config, "audit", "pseudonym", "0032470123456")
    assert done.stdout.strip() == line["pseudonym"]


def test_show_by_pseudonym_finds_the_decisions(config: Path) -> None:
    """`audit show --pseudonym P` lists that number's decisions and no other's."""
    _, line, decision_id = _check(config)
    gatekeeper(config, "check", "0470999999", "--campaign", "spring-promo")
    shown = gatekeeper(config, "audit", "show", "--pseudonym", str(line["pseudonym"])).stdout
    assert (decision_id in shown, LISTED_E164 in shown, shown.splitlines()[-1]) == (
        True,
        True,
        "1 decision(s)",
    )


def test_pseudonym_key_is_private_to_the_service(config: Path) -> None:
    """The key is made on the first recorded decision, owner-only (0600)."""
    _check(config)
    key = config.parent / "data" / "audit" / "pseudonym.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
