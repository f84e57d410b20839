"""The shipped units pass `systemd-analyze verify` (systemd is not PID 1 here: a scratch root)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tools.asterisk_sandbox import REPO

SYSTEM_UNITS = Path("/lib/systemd/system")


def test_units_verify_without_warnings(tmp_path: Path) -> None:
    """Every shipped unit loads with no unknown key, bad value or missing command."""
    if shutil.which("systemd-analyze") is None or not SYSTEM_UNITS.is_dir():
        pytest.fail("systemd-analyze is missing: run tools/system-deps.sh")
    root = tmp_path / "root"
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    (root / "lib").symlink_to("usr/lib")
    for command in ("/usr/bin/gatekeeper", "/bin/kill"):
        stub = root / command.lstrip("/")
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\n", encoding="utf-8")
        stub.chmod(0o755)
    units = sorted((REPO / "systemd").iterdir())
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in units:
        shutil.copyfile(unit, root / "etc/systemd/system" / unit.name)
    done = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", *(unit.name for unit in units)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
