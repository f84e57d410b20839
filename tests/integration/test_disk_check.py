"""The data folder's free space as a health check and metrics, on a small real tmpfs."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gatekeeper.audit.log import DecisionLog
from gatekeeper.config import LiveSettings
from gatekeeper.serve.health import HealthServer
from gatekeeper.serve.health_checks import disk_check, storage_readings
from gatekeeper.serve.metrics import Metrics
from tools.gatekeeper_run import write_run_config

MIB = 1024 * 1024
FS_MIB = 64
WARN_MIB = 32
FAIL_MIB = 16

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MiB tmpfs, unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_MIB}m", "tmpfs", mount], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", mount], check=True)


@pytest.fixture
def live(small_disk: Path) -> LiveSettings:
    """The example config with its data folder on the small disk, warn at 32 MiB, fail at 16."""

    def limits(config: dict[str, Any]) -> None:
        config["audit"] = {"disk_warn_free_mib": WARN_MIB, "disk_fail_free_mib": FAIL_MIB}

    path = write_run_config(
        small_disk, agi_port=4573, ami_port=5038, ami_secret="s", customise=limits
    )
    settings = LiveSettings(path)
    settings.current().data_dir.mkdir()
    return settings


def _fill_until_free(folder: Path, free_mib: int) -> None:
    """Write a file so that about `free_mib` stay free on the filesystem."""
    stats = os.statvfs(folder)
    room = stats.f_bavail * stats.f_frsize - free_mib * MIB
    (folder / "ballast").write_bytes(b"\0" * room)


def _disk(live: LiveSettings) -> tuple[bool, str]:
    result = disk_check(live.current)()
    assert isinstance(result, tuple)
    return result


def test_disk_check_passes_with_room(live: LiveSettings) -> None:
    """An empty 64 MiB filesystem with limits of 32 and 16 MiB: healthy, no warning."""
    ok, detail = _disk(live)
    assert (ok, "warning" in detail) == (True, False)


def test_disk_check_warns_under_the_warning_limit(live: LiveSettings) -> None:
    """24 MiB free, under the 32 MiB warning limit: still healthy, with a warning."""
    _fill_until_free(live.current().data_dir, 24)
    ok, detail = _disk(live)
    assert (ok, detail.startswith("warning:")) == (True, True)


def test_disk_check_fails_under_the_failing_limit(live: LiveSettings) -> None:
    """8 MiB free, under the 16 MiB failing limit: unhealthy, saying calls would block."""
    _fill_until_free(live.current().data_dir, 8)
    ok, detail = _disk(live)
    assert (ok, "calls block" in detail) == (False, True)


async def _http_get(port: int, path: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer.partition(b"\r\n\r\n")[2]


@pytest.mark.asyncio
async def test_low_disk_shows_in_healthz_and_metrics(live: LiveSettings) -> None:
    """Under the failing limit: /healthz names the disk, /metrics says how full it is."""
    log = await DecisionLog.open(live.current().data_dir / "audit" / "decisions.sqlite")
    _fill_until_free(live.current().data_dir, 8)
    metrics = Metrics()
    metrics.watch_storage(storage_readings(live.current, log))
    server = HealthServer({"disk": disk_check(live.current)}, metrics, "127.0.0.1", 0)
    await server.start()
    try:
        health = json.loads(await _http_get(server.port, "/healthz"))
        exposition = (await _http_get(server.port, "/metrics")).decode()
    finally:
        await server.close()
        await log.close()
    assert (health["checks"]["disk"]["ok"], "gatekeeper_disk_low 2.0" in exposition) == (
        False,
        True,
    )
