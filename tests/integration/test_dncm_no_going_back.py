"""The live list never goes backwards: a replayed, older or older-dated file is refused."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from gatekeeper.common.clock import today as legal_today
from gatekeeper.dncm.__main__ import main
from gatekeeper.dncm.index import ListIndex

from dncm_support import list_syncs, write_config, write_list

TODAY = legal_today()
DAY_A = TODAY - timedelta(days=3)
DAY_B = TODAY - timedelta(days=2)
OLD = date(2020, 1, 1)
A_ROWS = [(n, OLD) for n in range(1, 201)]
B_ROWS = A_ROWS + [(n, DAY_B - timedelta(days=1)) for n in range(1000, 1005)]
IN_B_ONLY = 32_470_001_000


@pytest.fixture
def synced_a_then_b(tmp_path: Path) -> tuple[Path, Path]:
    """A dated three days ago, then B (five more registrations) two days ago, both synced."""
    config = write_config(tmp_path)
    a = write_list(tmp_path / "A.txt", A_ROWS, modified=DAY_A)
    b = write_list(tmp_path / "B.txt", B_ROWS, modified=DAY_B)
    assert main(["-c", str(config), "sync", "--file", str(a)]) == 0
    assert main(["-c", str(config), "sync", "--file", str(b)]) == 0
    return config, a


def _live(tmp_path: Path) -> tuple[int, date, date | None]:
    index = ListIndex(tmp_path / "data" / "dncm")
    try:
        snapshot = index.snapshot()
        assert snapshot is not None
        return snapshot.snapshot_id, snapshot.list_date, index.listing_date(IN_B_ONLY)
    finally:
        index.close()


def test_a_copy_of_an_earlier_list_is_refused_and_recorded(
    tmp_path: Path, synced_a_then_b: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`cp A A2; sync --file A2` after B: exit 1, B stays live, a failed list_sync says why."""
    config, a = synced_a_then_b
    copy = tmp_path / "A2.txt"
    shutil.copyfile(a, copy)
    capsys.readouterr()
    assert main(["-c", str(config), "sync", "--file", str(copy)]) == 1
    err = capsys.readouterr().err
    assert "already imported" in err
    assert "--force" in err
    assert _live(tmp_path) == (2, DAY_B, DAY_B - timedelta(days=1))
    last = list_syncs(tmp_path / "data")[-1]
    assert (last["status"], last["refused"], "already imported" in last["error"]) == (
        "failed",
        "already_imported",
        True,
    )


def test_a_file_with_older_registrations_than_the_live_list_is_refused(
    tmp_path: Path, synced_a_then_b: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A new file whose newest registration is older than the live list's is refused."""
    config, _ = synced_a_then_b
    older = write_list(tmp_path / "older.txt", [*A_ROWS, (999, OLD)])
    capsys.readouterr()
    assert main(["-c", str(config), "sync", "--file", str(older)]) == 1
    assert "newest registration" in capsys.readouterr().err
    assert _live(tmp_path)[0] == 2
    assert list_syncs(tmp_path / "data")[-1]["refused"] == "older_registrations"


def test_a_list_dated_before_the_live_list_is_refused(
    tmp_path: Path, synced_a_then_b: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A file whose list date is before the live list's date would make every call list_stale."""
    config, _ = synced_a_then_b
    newer = write_list(tmp_path / "C.txt", [*B_ROWS, (999, OLD)])
    earlier = (DAY_B - timedelta(days=1)).isoformat()
    capsys.readouterr()
    assert main(["-c", str(config), "sync", "--file", str(newer), "--list-date", earlier]) == 1
    assert "before the live list's date" in capsys.readouterr().err
    assert _live(tmp_path)[0] == 2
    assert list_syncs(tmp_path / "data")[-1]["refused"] == "older_list_date"


def test_forced_replay_keeps_the_list_date_it_was_imported_with(
    tmp_path: Path, synced_a_then_b: tuple[Path, Path]
) -> None:
    """`--force` puts an earlier list back dated as first imported, not by the copy's mtime."""
    config, a = synced_a_then_b
    copy = tmp_path / "A2.txt"
    shutil.copyfile(a, copy)
    assert main(["-c", str(config), "sync", "--file", str(copy), "--force"]) == 0
    assert _live(tmp_path) == (3, DAY_A, None)
    assert list_syncs(tmp_path / "data")[-1]["list_date"] == DAY_A.isoformat()


def test_the_live_list_again_is_unchanged_and_keeps_its_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The live list's own bytes again (a re-copy) replace nothing and do not freshen its date."""
    config = write_config(tmp_path)
    a = write_list(tmp_path / "A.txt", A_ROWS, modified=DAY_A)
    assert main(["-c", str(config), "sync", "--file", str(a)]) == 0
    copy = tmp_path / "A2.txt"
    shutil.copyfile(a, copy)
    capsys.readouterr()
    assert main(["-c", str(config), "sync", "--file", str(copy)]) == 0
    assert "unchanged" in capsys.readouterr().out
    assert _live(tmp_path)[:2] == (1, DAY_A)
    assert [s["status"] for s in list_syncs(tmp_path / "data")] == ["ok", "unchanged"]
