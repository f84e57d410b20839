"""Commands that only read the decision log need only `data_dir` from the configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from tools.gatekeeper_run import gatekeeper, write_run_config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The example config with one decision recorded, then broken outside data_dir."""
    path = write_run_config(tmp_path, agi_port=4573, ami_port=5038, ami_secret="unused")
    gatekeeper(path, "check", "0470999999", "--campaign", "spring-promo", check=False)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("advertiser: acme", "advertiser: nobody", 1), encoding="utf-8")
    assert gatekeeper(path, "config", "check", check=False).returncode == 2
    return path


@pytest.mark.parametrize("command", [("events",), ("show",), ("verify",), ("export",)])
def test_reading_commands_warn_and_read(config: Path, command: tuple[str, ...]) -> None:
    """show, events, verify and export read the data_dir of an invalid file, with a warning."""
    done = gatekeeper(config, "audit", *command, check=False)
    assert (done.returncode, "warning: configuration error" in done.stderr) == (0, True)


def test_show_lists_the_log(config: Path) -> None:
    """`audit show` under an invalid configuration prints the decisions that are there."""
    done = gatekeeper(config, "audit", "show", check=False)
    assert "1 decision(s)" in done.stdout


def test_unreadable_data_dir_is_still_an_error(config: Path) -> None:
    """A file whose data_dir itself cannot be read is a configuration error, exit 2."""
    text = config.read_text(encoding="utf-8").replace("data_dir: data", "data_dir: [data]")
    config.write_text(text, encoding="utf-8")
    done = gatekeeper(config, "audit", "events", check=False)
    assert (done.returncode, "configuration error" in done.stderr) == (2, True)
