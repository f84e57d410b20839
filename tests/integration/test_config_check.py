"""`gatekeeper config check` on files the parser chokes on: one clear line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from tools.gatekeeper_run import gatekeeper, write_run_config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The example config in a temporary folder, its AGI on port 4573."""
    return write_run_config(tmp_path, agi_port=4573, ami_port=5038, ami_secret="unused")


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ("data_dir: data", "data_dir: " + "[" * 1000 + "]" * 1000, "nested deeper than 32"),
        (":4573", ":457\u00b3", "agi.listen: expected HOST:PORT"),
        ("max_age_days: 5", "max_age_days: '\u0665'", "dncm.max_age_days: expected a whole"),
    ],
)
def test_unparsable_file_is_a_configuration_error(
    config: Path, old: str, new: str, said: str
) -> None:
    """Deep nesting or a non-ASCII digit: exit 2 with the reason, no traceback."""
    text = config.read_text(encoding="utf-8")
    assert old in text
    config.write_text(text.replace(old, new), encoding="utf-8")
    done = gatekeeper(config, "config", "check", check=False)
    assert (done.returncode, said in done.stderr, "Traceback" in done.stderr) == (2, True, False)
