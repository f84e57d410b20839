"""serve and sync work under the units' system-call filter and MemoryDenyWriteExecute.

PID 1 is not systemd where the tests run, so tools/unit_seccomp.py loads the same seccomp
rules the units ask systemd for (docs/operations.md says what is and is not reproduced). The
tests run as root; a user namespace in which the process is not uid 0 stands in for the units'
User= and PrivateUsers= (as uid 0, SQLite would chown its journal files, which the units'
filter refuses and which never happens as the service user).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from gatekeeper.common.clock import today
from tools.asterisk_sandbox import DEFAULT_ROOT, READY_MARK, REPO
from tools.calls import CallSpec, place_through
from tools.gatekeeper_run import GATEKEEPER, GatekeeperRun

SYSTEM_PYTHON = "/usr/bin/python3"
TOOL = str(REPO / "tools" / "unit_seccomp.py")
SERVICE = str(REPO / "systemd" / "gatekeeper.service")
SYNC_SERVICE = str(REPO / "systemd" / "gatekeeper-sync.service")


def _filtered(unit: str) -> tuple[str, ...]:
    user_namespace = ("unshare", "--user", "--map-user=999", "--map-group=999", "--")
    return (*user_namespace, SYSTEM_PYTHON, TOOL, unit, "--")


@pytest.fixture
def seccomp_ready() -> None:
    """The libseccomp binding and systemd-analyze are installed."""
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import seccomp"], capture_output=True, check=False
    )
    analyze = subprocess.run(["systemd-analyze", "--version"], capture_output=True, check=False)
    if probe.returncode or analyze.returncode:
        pytest.fail("python3-seccomp or systemd-analyze is missing: run tools/system-deps.sh")


@pytest.fixture
def filtered_run(tmp_path: Path, seccomp_ready: None) -> Iterator[GatekeeperRun]:
    """`gatekeeper serve` under gatekeeper.service's seccomp rules, a real Asterisk in front."""
    if not (DEFAULT_ROOT / READY_MARK).exists():
        pytest.fail("the Asterisk sandbox is not installed: run `make asterisk`")
    with GatekeeperRun(tmp_path / "run", serve_prefix=_filtered(SERVICE)) as run:
        yield run


def _health(port: int) -> tuple[int, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        return response.status, json.loads(response.read())["status"]


def _seccomp_filters(pid: int) -> str:
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    return next(line.split()[1] for line in status.splitlines() if line.startswith("Seccomp_f"))


@pytest.mark.asterisk
@pytest.mark.asyncio
async def test_serve_decides_under_the_service_filter(filtered_run: GatekeeperRun) -> None:
    """Under the filters, a listed number is blocked, an unlisted one allowed, health is 200."""
    assert filtered_run.serve is not None
    allowed, blocked = await place_through(
        filtered_run.sandbox,
        [CallSpec("0470999999", "spring-promo"), CallSpec("0470123456", "spring-promo")],
    )
    health = await asyncio.to_thread(_health, filtered_run.health_port)
    assert (
        _seccomp_filters(filtered_run.serve.pid),
        allowed.decision,
        blocked.decision,
        health,
        filtered_run.serve.poll(),
    ) == ("2", "ALLOW", "BLOCK", (200, "ok"), None)


def test_sync_imports_under_the_sync_unit_filter(tmp_path: Path, seccomp_ready: None) -> None:
    """`gatekeeper sync` imports the sample list under gatekeeper-sync.service's rules."""
    run = GatekeeperRun(tmp_path / "run", import_list=False)
    done = subprocess.run(
        [
            *_filtered(SYNC_SERVICE),
            str(GATEKEEPER),
            "-c",
            str(run.config),
            "sync",
            "--list-date",
            today().isoformat(),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_filters_refuse_writable_executable_memory(seccomp_ready: None) -> None:
    """The rules are in force: mmap asking for write and execute fails with EPERM."""
    probe = (
        "import mmap\n"
        "try:\n    mmap.mmap(-1, 4096, prot=mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
        "except PermissionError:\n    print('refused')\n"
    )
    done = subprocess.run(
        [*_filtered(SERVICE), SYSTEM_PYTHON, "-c", probe],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.strip() == "refused"
