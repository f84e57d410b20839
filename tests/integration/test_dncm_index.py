"""The read side against real snapshots: swaps seen across threads and processes, failures loud."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import pytest
from gatekeeper.common.errors import IndexUnavailableError
from gatekeeper.dncm.index import ListIndex
from gatekeeper.dncm.storage import IndexPaths
from gatekeeper.dncm.sync import import_list_file

LISTED = 32470123456
REGISTERED = date(2019, 3, 14)


def _list_file(path: Path, extra_rows: int) -> Path:
    with path.open("w") as out:
        out.write("0470123456;2019-03-14\n")
        out.writelines(f"049{i:07d};2020-01-01\n" for i in range(extra_rows))
    return path


def _import(directory: Path, file: Path) -> None:
    import_list_file(directory, file, source="test", list_date=date(2024, 5, 1), force=True)


def test_no_snapshot_means_none_and_lookups_fail_closed(tmp_path: Path) -> None:
    """Before any import there is no snapshot; a lookup raises rather than say 'not listed'."""
    index = ListIndex(tmp_path / "dncm")
    assert index.snapshot() is None
    with pytest.raises(IndexUnavailableError):
        index.listing_date(LISTED)


def test_missing_snapshot_file_is_an_error(tmp_path: Path) -> None:
    """CURRENT naming a snapshot that is gone makes the index unavailable, not empty."""
    _import(tmp_path / "dncm", _list_file(tmp_path / "l.txt", 10))
    paths = IndexPaths(tmp_path / "dncm")
    paths.snapshot(1).unlink()
    with pytest.raises(IndexUnavailableError, match="missing"):
        ListIndex(tmp_path / "dncm").listing_date(LISTED)


def test_corrupt_snapshot_is_an_error(tmp_path: Path) -> None:
    """A snapshot file that is not SQLite makes the index unavailable."""
    _import(tmp_path / "dncm", _list_file(tmp_path / "l.txt", 10))
    IndexPaths(tmp_path / "dncm").snapshot(1).write_bytes(b"garbage" * 100)
    with pytest.raises(IndexUnavailableError):
        ListIndex(tmp_path / "dncm").snapshot()


def test_lookups_never_fail_while_imports_swap(tmp_path: Path) -> None:
    """A thread looking up continuously through several swaps always gets the right answer."""
    directory = tmp_path / "dncm"
    _import(directory, _list_file(tmp_path / "a.txt", 1000))
    index = ListIndex(directory)
    done = threading.Event()
    answers: list[date | None] = []
    errors: list[BaseException] = []
    snapshots: set[int] = set()

    def look_up() -> None:
        while not done.is_set():
            try:
                answer = index.lookup(LISTED)
                answers.append(answer.listing_date)
                snapshots.add(answer.snapshot.snapshot_id)
            except BaseException as err:  # noqa: BLE001 - the test records any failure
                errors.append(err)
                return

    reader = threading.Thread(target=look_up)
    reader.start()
    try:
        for round_ in range(4):
            _import(directory, _list_file(tmp_path / f"{round_}.txt", 20000 + round_))
    finally:
        done.set()
        reader.join()
    assert errors == []
    assert set(answers) == {REGISTERED}
    assert len(snapshots) >= 2, "the lookups should have spanned at least one swap"
    assert index.snapshot().snapshot_id == 5  # type: ignore[union-attr]


def test_swap_by_another_process_is_noticed(tmp_path: Path) -> None:
    """An import run by another process (the systemd timer) is seen by a running index."""
    directory = tmp_path / "dncm"
    _import(directory, _list_file(tmp_path / "a.txt", 10))
    index = ListIndex(directory)
    assert index.snapshot().snapshot_id == 1  # type: ignore[union-attr]
    script = (
        "import sys; from datetime import date; from pathlib import Path;"
        "from gatekeeper.dncm.sync import import_list_file;"
        "import_list_file(Path(sys.argv[1]), Path(sys.argv[2]), source='other',"
        " list_date=date(2024, 5, 2))"
    )
    other = _list_file(tmp_path / "b.txt", 11)
    subprocess.run([sys.executable, "-c", script, str(directory), str(other)], check=True)
    snapshot = index.snapshot()
    assert snapshot is not None
    assert (snapshot.snapshot_id, snapshot.rows, snapshot.list_date) == (2, 12, date(2024, 5, 2))
