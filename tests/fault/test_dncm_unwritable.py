"""A sync that cannot write its index (full disk, read-only, no data folder) fails clearly."""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from gatekeeper.common.clock import today as legal_today
from gatekeeper.dncm.index import ListIndex

from dncm_support import list_syncs, run_gatekeeper, write_config, write_list

TODAY = legal_today()
SMALL = [(n, TODAY - timedelta(days=30)) for n in range(1, 21)]
BIG = [(n, TODAY - timedelta(days=1)) for n in range(1, 200_001)]


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@pytest.fixture
def index_folder(tmp_path: Path) -> Iterator[Path]:
    """The empty data/dncm folder; whatever a test mounts on it is unmounted afterwards."""
    folder = tmp_path / "data" / "dncm"
    folder.mkdir(parents=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False, capture_output=True)


def _sync_small(tmp_path: Path) -> None:
    write_list(tmp_path / "list.txt", SMALL, modified=TODAY - timedelta(days=1))
    assert run_gatekeeper(write_config(tmp_path), "sync").returncode == 0


def _assert_clear_failure(tmp_path: Path, done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "unexpected_error" not in done.stderr
    assert str(tmp_path / "data" / "dncm") in done.stderr


def test_a_full_disk_is_a_clear_failure_recorded_in_the_chain(
    tmp_path: Path, index_folder: Path
) -> None:
    """No room for the new snapshot: exit 1 naming the path, a failed list_sync, old list live."""
    _mount("-t", "tmpfs", "-o", "size=1M", "tmpfs", str(index_folder))
    _sync_small(tmp_path)
    big = write_list(tmp_path / "big.txt", BIG)
    done = run_gatekeeper(write_config(tmp_path), "sync", "--file", str(big))
    _assert_clear_failure(tmp_path, done)
    assert "full" in done.stderr or "No space left" in done.stderr
    last = list_syncs(tmp_path / "data")[-1]
    assert last["status"] == "failed"
    index = ListIndex(index_folder)
    try:
        assert index.snapshot().rows == len(SMALL)  # type: ignore[union-attr]
    finally:
        index.close()


def test_a_read_only_index_is_a_clear_failure_recorded_in_the_chain(
    tmp_path: Path, index_folder: Path
) -> None:
    """A read-only index folder: exit 1 naming the path and the OS error, a failed list_sync."""
    _sync_small(tmp_path)
    _mount("--bind", str(index_folder), str(index_folder))
    _mount("-o", "remount,bind,ro", str(index_folder))
    big = write_list(tmp_path / "big.txt", [*SMALL, (999, TODAY - timedelta(days=1))])
    done = run_gatekeeper(write_config(tmp_path), "sync", "--file", str(big))
    _assert_clear_failure(tmp_path, done)
    assert "Read-only file system" in done.stderr
    assert list_syncs(tmp_path / "data")[-1]["status"] == "failed"


def test_a_missing_data_folder_is_created_private_with_its_inbox(tmp_path: Path) -> None:
    """The first sync creates data_dir 0700 and the inbox folder the shipped config names."""
    data_dir = tmp_path / "lib" / "gatekeeper"
    config = write_config(tmp_path, data_dir=str(data_dir))
    write_list(tmp_path / "list.txt", SMALL)
    assert run_gatekeeper(config, "sync").returncode == 0
    modes = [stat.S_IMODE(p.stat().st_mode) for p in (data_dir, data_dir / "inbox")]
    assert modes == [0o700, 0o700]
