"""What the audit commands write: private files, results on stdout, nothing raw on a terminal."""

from __future__ import annotations

from pathlib import Path

import pytest
from gatekeeper.common.clock import today
from tools.gatekeeper_run import gatekeeper, write_run_config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The example config with the sample list and one decision recorded."""
    path = write_run_config(tmp_path, agi_port=4573, ami_port=5038, ami_secret="unused")
    gatekeeper(path, "sync", "--list-date", today().isoformat())
    gatekeeper(path, "check", "0470999999", "--campaign", "spring-promo")
    return path


def test_export_file_is_private_and_its_summary_on_stdout(config: Path, tmp_path: Path) -> None:
    """`audit export --output` creates the file owner-only and prints its result on stdout."""
    target = tmp_path / "export.jsonl"
    done = gatekeeper(config, "audit", "export", "--format", "jsonl", "--output", str(target))
    assert (target.stat().st_mode & 0o777, "1 decision(s) written" in done.stdout) == (
        0o600,
        True,
    )


def test_report_file_is_private(config: Path, tmp_path: Path) -> None:
    """The inspector's HTML report holds numbers too: it is created owner-only."""
    target = tmp_path / "report.html"
    day = today().isoformat()
    gatekeeper(config, "audit", "report", "--since", day, "--until", day, "--output", str(target))
    assert target.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("limit", ["0", "-1", "many"])
def test_show_limit_must_be_positive(config: Path, limit: str) -> None:
    """`audit show --limit` below 1 or not a number is a usage error (exit 2)."""
    done = gatekeeper(config, "audit", "show", "--limit", limit, check=False)
    assert done.returncode == 2


def test_show_quotes_a_dialled_string_with_control_characters(config: Path) -> None:
    """A dialled string holding a newline or an escape is shown quoted, on one line."""
    gatekeeper(config, "check", "0470\n12\x1b[31m34", "--campaign", "spring-promo")
    shown = gatekeeper(config, "audit", "show").stdout
    assert ("\x1b" in shown, "'0470\\n12\\x1b[31m34'" in shown) == (False, True)
