"""The DNCM index recovers from a lost snapshot file and is not freshened by a re-copied file."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from gatekeeper.common.errors import ListRefusedError
from gatekeeper.dncm.index import ListIndex
from gatekeeper.dncm.sync import ImportLimits, import_list_file

LIST_DAY = date(2026, 11, 20)


def _list_file(path: Path, rows: int) -> Path:
    path.write_text("".join(f"04701{n:05d};2020-01-01\n" for n in range(rows)), encoding="ascii")
    return path


def _set_mtime(path: Path, day: date) -> None:
    stamp = (day - date(1970, 1, 1)).days * 86400 + 12 * 3600
    os.utime(path, (stamp, stamp))


def test_import_succeeds_when_the_live_snapshot_file_is_gone(tmp_path: Path) -> None:
    """CURRENT naming a deleted snapshot does not block the next import, which goes live."""
    directory = tmp_path / "dncm"
    first = import_list_file(
        directory, _list_file(tmp_path / "a.txt", 200), source="t", list_date=LIST_DAY
    )
    next(directory.rglob(f"{first.record.snapshot_id}.sqlite")).unlink()
    second = import_list_file(
        directory,
        _list_file(tmp_path / "b.txt", 201),
        source="t",
        list_date=LIST_DAY + timedelta(days=1),
    )
    index = ListIndex(directory)
    try:
        live = index.snapshot()
    finally:
        index.close()
    assert live is not None
    assert (live.snapshot_id, live.rows) == (second.record.snapshot_id, 201)


def test_identical_file_with_a_newer_mtime_keeps_the_old_list_date(tmp_path: Path) -> None:
    """The same bytes re-copied later are not a newer list: the list date stays where it was."""
    directory = tmp_path / "dncm"
    source = _list_file(tmp_path / "list.txt", 200)
    _set_mtime(source, LIST_DAY)
    import_list_file(directory, source, source="t")
    _set_mtime(source, LIST_DAY + timedelta(days=4))
    again = import_list_file(directory, source, source="t")
    assert again.record.list_date == LIST_DAY


def test_changed_file_is_dated_by_its_mtime(tmp_path: Path) -> None:
    """A file that differs from the live list is dated by its modification time, as before."""
    directory = tmp_path / "dncm"
    source = _list_file(tmp_path / "list.txt", 200)
    _set_mtime(source, LIST_DAY)
    import_list_file(directory, source, source="t")
    _list_file(source, 201)
    _set_mtime(source, LIST_DAY + timedelta(days=1))
    again = import_list_file(directory, source, source="t")
    assert again.record.list_date == LIST_DAY + timedelta(days=1)


def _with_trailer(path: Path, rows: int) -> Path:
    _list_file(path, rows)
    with path.open("a", encoding="ascii") as out:
        out.write(f"{rows}\n")
    return path


def test_file_without_the_trailer_the_last_one_had_is_refused(tmp_path: Path) -> None:
    """After a file ending with a record count, one cut at a line boundary without it is refused."""
    directory = tmp_path / "dncm"
    import_list_file(
        directory, _with_trailer(tmp_path / "a.txt", 1000), source="t", list_date=LIST_DAY
    )
    cut = _list_file(tmp_path / "b.txt", 990)
    with pytest.raises(ListRefusedError, match="record count"):
        import_list_file(directory, cut, source="t", list_date=LIST_DAY + timedelta(days=1))


def test_forced_import_accepts_a_file_without_the_trailer(tmp_path: Path) -> None:
    """--force accepts a supplier's change of layout that drops the trailer."""
    directory = tmp_path / "dncm"
    import_list_file(
        directory, _with_trailer(tmp_path / "a.txt", 1000), source="t", list_date=LIST_DAY
    )
    report = import_list_file(
        directory,
        _list_file(tmp_path / "b.txt", 1000),
        source="t",
        list_date=LIST_DAY + timedelta(days=1),
        force=True,
    )
    assert report.record.rows == 1000


def test_number_with_an_unreadable_date_stays_on_the_list(tmp_path: Path) -> None:
    """A readable number whose date is broken is reported, and still listed as of the list date."""
    directory = tmp_path / "dncm"
    source = tmp_path / "list.txt"
    good = "".join(f"04701{n:05d};2020-01-01\n" for n in range(20))
    source.write_text(good + "0471111111;2019-13-45\n0471111113;2030-01-01\n", encoding="ascii")
    report = import_list_file(
        directory,
        source,
        source="t",
        list_date=LIST_DAY,
        limits=ImportLimits(max_rejected_lines=5),
    )
    index = ListIndex(directory)
    try:
        dates = [index.lookup(key).listing_date for key in (32471111111, 32471111113)]
    finally:
        index.close()
    assert (report.record.rows, len(report.rejects), dates) == (22, 2, [LIST_DAY, LIST_DAY])
