"""`officers_group`: reports, exports and scrubbed lists readable by that group, nothing else."""

from __future__ import annotations

import grp
import os
import secrets
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gatekeeper.common.clock import today
from tools.gatekeeper_run import gatekeeper, write_run_config

from owner_support import NOBODY, as_nobody, enterable_run_dir

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="creates a group: needs root")


@pytest.fixture
def officers() -> Iterator[str]:
    """A throw-away group on this host, deleted afterwards."""
    name = f"gk-officers-{secrets.token_hex(3)}"
    subprocess.run(["groupadd", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["groupdel", name], check=True)


@pytest.fixture
def run_dir() -> Iterator[Path]:
    """A run folder every user may enter."""
    with enterable_run_dir() as folder:
        yield folder


@pytest.fixture
def config(run_dir: Path, officers: str) -> Path:
    """The example config with `officers_group` set, the sample list and one decision."""

    def customise(config: dict[str, Any]) -> None:
        config["officers_group"] = officers

    path = write_run_config(
        run_dir, agi_port=4573, ami_port=5038, ami_secret="unused", customise=customise
    )
    gatekeeper(path, "sync", "--list-date", today().isoformat())
    gatekeeper(path, "check", "0470999999", "--campaign", "spring-promo")
    return path


def _access(path: Path) -> tuple[str, int]:
    info = path.stat()
    return grp.getgrgid(info.st_gid).gr_name, stat.S_IMODE(info.st_mode)


def test_export_is_readable_by_the_officers_group(config: Path, officers: str) -> None:
    """`audit export --output` creates the file 0640 with the officers group."""
    target = config.parent / "export.csv"
    gatekeeper(config, "audit", "export", "--output", str(target))
    assert _access(target) == (officers, 0o640)


def test_report_is_readable_by_the_officers_group(config: Path, officers: str) -> None:
    """`audit report --output` creates the HTML file 0640 with the officers group."""
    target = config.parent / "report.html"
    day = today().isoformat()
    gatekeeper(config, "audit", "report", "--since", day, "--until", day, "--output", str(target))
    assert _access(target) == (officers, 0o640)


def test_scrubbed_list_is_readable_by_the_officers_group(config: Path, officers: str) -> None:
    """`scrub --output` writes the scrubbed list 0640 with the officers group."""
    source = config.parent / "list.csv"
    source.write_text("name,phone\nA,0470999999\n", encoding="utf-8")
    target = config.parent / "scrubbed.csv"
    gatekeeper(config, "scrub", str(source), "--campaign", "spring-promo", "--output", str(target))
    assert _access(target) == (officers, 0o640)


def test_the_decision_log_stays_private(config: Path) -> None:
    """The decision log is not shared with the officers group: owner-only as before."""
    log = config.parent / "data" / "audit" / "decisions.sqlite"
    assert _access(log) == ("root", 0o600)


def test_an_unknown_group_is_a_configuration_error(tmp_path: Path) -> None:
    """An officers_group that does not exist exits 2 naming the key, and writes no file."""

    def customise(config: dict[str, Any]) -> None:
        config["officers_group"] = "gk-no-such-group"

    path = write_run_config(
        tmp_path, agi_port=4573, ami_port=5038, ami_secret="unused", customise=customise
    )
    gatekeeper(path, "check", "0470999999", "--campaign", "spring-promo")
    target = tmp_path / "export.csv"
    done = gatekeeper(path, "audit", "export", "--output", str(target), check=False)
    assert (done.returncode, "officers_group" in done.stderr, target.exists()) == (2, True, False)


def test_an_output_inside_data_dir_is_refused(config: Path) -> None:
    """An export aimed at the decision log is refused and the log is left whole."""
    log = config.parent / "data" / "audit" / "decisions.sqlite"
    before = log.read_bytes()
    done = gatekeeper(config, "audit", "export", "--output", str(log), check=False)
    assert (done.returncode, "inside data_dir" in done.stderr, log.read_bytes() == before) == (
        1,
        True,
        True,
    )


def test_a_user_outside_the_group_is_told_to_join_it(config: Path, officers: str) -> None:
    """Run by a user outside officers_group, an export is refused with the usermod line."""
    data_dir, out_dir = config.parent / "data", config.parent / "out"
    out_dir.mkdir()
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(data_dir), str(out_dir)], check=True)
    target = out_dir / "export.csv"
    done = as_nobody(config, "audit", "export", "--output", str(target))
    assert (done.returncode, f"usermod -aG {officers} nobody" in done.stderr, target.exists()) == (
        1,
        True,
        False,
    )
