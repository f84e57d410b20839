"""A sync killed right after the list swap: the next start records which list is live."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from gatekeeper.common.clock import today as legal_today
from gatekeeper.dncm.index import ListIndex
from tools.asterisk_sandbox import free_port
from tools.gatekeeper_run import GATEKEEPER, write_run_config

from dncm_support import REPO, list_syncs, run_gatekeeper, write_list

TODAY = legal_today()
A_ROWS = [(n, TODAY - timedelta(days=400)) for n in range(1, 101)]
B_ROWS = [*A_ROWS, (500, TODAY - timedelta(days=1))]
C_ROWS = [*B_ROWS, (600, TODAY - timedelta(days=1))]
_KILL_AFTER_SWAP = (
    "import os, signal, sys\n"
    "from gatekeeper.dncm.storage import IndexPaths\n"
    "from gatekeeper.dncm.__main__ import main\n"
    "swap = IndexPaths.write_current\n"
    "def swap_then_die(paths, snapshot_id):\n"
    "    swap(paths, snapshot_id)\n"
    "    os.kill(os.getpid(), signal.SIGKILL)\n"
    "IndexPaths.write_current = swap_then_die\n"
    "main(sys.argv[1:])\n"
)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _config(tmp_path: Path) -> Path:
    return write_run_config(
        tmp_path, agi_port=free_port(), ami_port=free_port(), ami_secret="unused"
    )


def _kill_after_swap(config: Path, file: Path) -> None:
    """Sync `file` in a child that is SIGKILLed just after CURRENT names the new snapshot."""
    done = subprocess.run(
        [sys.executable, "-c", _KILL_AFTER_SWAP, "-c", str(config), "sync", "--file", str(file)],
        env=_env(),
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr


def _live_id(config: Path) -> int:
    index = ListIndex(config.parent / "data" / "dncm")
    try:
        snapshot = index.snapshot()
    finally:
        index.close()
    assert snapshot is not None
    return snapshot.snapshot_id


def _synced_then_killed(tmp_path: Path) -> tuple[Path, Path]:
    config = _config(tmp_path)
    a = write_list(tmp_path / "A.txt", A_ROWS, modified=TODAY - timedelta(days=1))
    assert run_gatekeeper(config, "sync", "--file", str(a)).returncode == 0
    b = write_list(tmp_path / "B.txt", B_ROWS)
    _kill_after_swap(config, b)
    assert _live_id(config) == 2
    assert [s.get("snapshot_id") for s in list_syncs(config.parent / "data")] == [1]
    return config, b


def test_next_sync_records_the_unrecorded_live_list_as_recovered(tmp_path: Path) -> None:
    """The next sync first records the live list (recovered, its date and fingerprint)."""
    config, b = _synced_then_killed(tmp_path)
    c = write_list(tmp_path / "C.txt", C_ROWS)
    assert run_gatekeeper(config, "sync", "--file", str(c)).returncode == 0
    syncs = list_syncs(config.parent / "data")
    recovered = syncs[1]
    assert [(s["status"], s["snapshot_id"], s.get("recovered")) for s in syncs] == [
        ("ok", 1, None),
        ("ok", 2, True),
        ("ok", 3, None),
    ]
    assert (recovered["list_date"], recovered["source"]) == (TODAY.isoformat(), f"file:{b}")
    assert len(recovered["sha256"]) == 64


def test_serve_start_records_the_unrecorded_live_list_as_recovered(tmp_path: Path) -> None:
    """`serve` records the live list at start when the chain does not show it in force."""
    config, _ = _synced_then_killed(tmp_path)
    serve = subprocess.Popen(
        [str(GATEKEEPER), "-c", str(config), "serve"],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while len(list_syncs(config.parent / "data")) < 2 and time.monotonic() < deadline:
            assert serve.poll() is None, "serve stopped"
            time.sleep(0.1)
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
    syncs = list_syncs(config.parent / "data")
    assert [(s["status"], s["snapshot_id"], s.get("recovered")) for s in syncs] == [
        ("ok", 1, None),
        ("ok", 2, True),
    ]
