"""A sync killed with SIGKILL in the middle of a build leaves the old index working."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from gatekeeper.dncm.index import ListIndex
from gatekeeper.dncm.storage import PARTIAL_SUFFIX, IndexPaths
from gatekeeper.dncm.sync import import_list_file

ROWS = 400_000
_IMPORT = (
    "import sys; from datetime import date; from pathlib import Path;"
    "from gatekeeper.dncm.sync import import_list_file;"
    "import_list_file(Path(sys.argv[1]), Path(sys.argv[2]), source='killed',"
    " list_date=date(2024, 5, 2))"
)


def _big_file(path: Path) -> Path:
    with path.open("w") as out:
        out.write("0470123456;2019-03-14\n")
        out.writelines(f"049{i:07d};2020-01-01\n" for i in range(ROWS))
    return path


def _wait_for_partial(paths: IndexPaths, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not paths.snapshot_ids(PARTIAL_SUFFIX):
        assert process.poll() is None, "the import ended before it could be killed"
        assert time.monotonic() < deadline, "no build started"
        time.sleep(0.005)


def test_sigkill_mid_build_keeps_the_old_index_and_the_next_import_works(tmp_path: Path) -> None:
    """Killed mid-build: lookups still answer from the old snapshot; a later import succeeds."""
    directory = tmp_path / "dncm"
    (tmp_path / "old.txt").write_text("0470123456;2018-01-01\n0470000001;2018-01-01\n")
    import_list_file(directory, tmp_path / "old.txt", source="old", list_date=date(2024, 5, 1))
    index = ListIndex(directory)
    big = _big_file(tmp_path / "big.txt")
    paths = IndexPaths(directory)
    process = subprocess.Popen([sys.executable, "-c", _IMPORT, str(directory), str(big)])
    try:
        _wait_for_partial(paths, process)
        time.sleep(0.3)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert paths.snapshot_ids(PARTIAL_SUFFIX), "the kill should have left a partial build"
    assert index.listing_date(32470123456) == date(2018, 1, 1)
    assert ListIndex(directory).snapshot().snapshot_id == 1  # type: ignore[union-attr]
    report = import_list_file(directory, big, source="again", list_date=date(2024, 5, 2))
    assert report.record.rows == ROWS + 1
    assert paths.snapshot_ids(PARTIAL_SUFFIX) == []
    assert index.listing_date(32470123456) == date(2019, 3, 14)
