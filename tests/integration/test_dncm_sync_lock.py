"""Syncs run one at a time; one that cannot get the lock in time is refused, naming the holder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gatekeeper.dncm.storage import IndexPaths

from dncm_support import REPO, list_syncs, run_gatekeeper, write_config

SAMPLE = REPO / "config" / "sample-dncm.txt"
_HOLD_LOCK = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from gatekeeper.dncm.storage import IndexPaths, import_lock\n"
    "with import_lock(IndexPaths(Path(sys.argv[1]))):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(120)\n"
)


def test_a_sync_waiting_past_the_bound_is_refused_naming_the_holder(tmp_path: Path) -> None:
    """While another process holds the lock, `sync` gives up after its bound naming that pid."""
    config = write_config(tmp_path, source=f"{{file: {SAMPLE}}}")
    directory = tmp_path / "data" / "dncm"
    IndexPaths(directory).create()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(directory)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline() == b"held\n"
        done = run_gatekeeper(config, "sync", timeout=60)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert done.returncode == 1
    assert f"pid {holder.pid}" in done.stderr
    assert "sync.lock" in done.stderr
    assert list_syncs(tmp_path / "data")[-1]["status"] == "failed"
