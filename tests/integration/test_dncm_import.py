"""Importing list files into real SQLite snapshots: layouts, refusals, history, file modes."""

from __future__ import annotations

import os
import stat
from datetime import date
from pathlib import Path

import pytest
from gatekeeper.common.errors import ListFormatError, ListRefusedError
from gatekeeper.dncm.dates import DateFormat
from gatekeeper.dncm.history import sync_history
from gatekeeper.dncm.index import ListIndex
from gatekeeper.dncm.layout import LayoutPin
from gatekeeper.dncm.storage import IndexPaths
from gatekeeper.dncm.sync import ImportLimits, ImportReport, import_list_file

LIST_DATE = date(2024, 5, 1)
ROWS = [
    ("0470123456", date(2019, 3, 14)),
    ("025551234", date(2020, 12, 25)),
    ("0497654321", date(2015, 1, 31)),
    ("092345678", date(2021, 7, 4)),
    ("0485112233", date(2018, 2, 13)),
    ("016223344", date(2022, 11, 5)),
]
KEYS = [32470123456, 3225551234, 32497654321, 3292345678, 32485112233, 3216223344]


def _write(path: Path, lines: list[str], *, encoding: str = "utf-8", newline: str = "\n") -> Path:
    path.write_bytes(newline.join(lines).encode(encoding) + newline.encode())
    return path


def _lines(
    fmt: str = "{n};{iso}", rows: list[tuple[str, date]] | None = None, **extra: str
) -> list[str]:
    return [
        fmt.format(n=n, m=n[1:], iso=d.isoformat(), dmy=d.strftime("%d/%m/%Y"), **extra)
        for n, d in (rows or ROWS)
    ]


def _import(
    directory: Path, file: Path, *, pin: LayoutPin | None = None, **kwargs: object
) -> ImportReport:
    return import_list_file(
        directory,
        file,
        source="test",
        list_date=LIST_DATE,
        layout=pin,
        **kwargs,  # type: ignore[arg-type]
    )


def _daily(folder: Path, day: int) -> Path:
    """Another day's list: the rows plus one registration of that day (new bytes each day)."""
    return _write(folder / f"day{day}.txt", [*_lines(), f"04700001{day:02d};2024-04-30"])


def _listed(directory: Path) -> list[date | None]:
    index = ListIndex(directory)
    try:
        return [index.listing_date(key) for key in KEYS]
    finally:
        index.close()


EXPECTED = [d for _, d in ROWS]


@pytest.mark.parametrize(
    ("lines", "encoding", "newline"),
    [
        (_lines("{n};{iso}"), "utf-8", "\n"),
        (["numéro;date", *_lines("{n};{iso}")], "latin-1", "\r\n"),
        (["\ufeffnumero,date", *_lines("+32{m},{dmy}")], "utf-8", "\n"),
        (_lines("0032{m}\t{iso} 00:00:00"), "utf-8", "\n"),
        (_lines("32{m}|{iso}"), "utf-8", "\r\n"),
        (_lines("{n}  {iso}T10:00:00Z"), "utf-8", "\n"),
        ([*_lines('"{n}";"{dmy}"'), "TOTAL;6"], "utf-8", "\n"),
    ],
)
def test_every_layout_imports_the_same_listing(
    tmp_path: Path, lines: list[str], encoding: str, newline: str
) -> None:
    """Whatever the layout, every number ends up listed with its registration date."""
    file = _write(tmp_path / "list.txt", lines, encoding=encoding, newline=newline)
    report = _import(tmp_path / "dncm", file)
    assert report.record.rows == len(ROWS)
    assert _listed(tmp_path / "dncm") == EXPECTED


def test_a_number_not_in_the_file_is_not_listed(tmp_path: Path) -> None:
    """A lookup of an absent number answers None from a present snapshot."""
    _import(tmp_path / "dncm", _write(tmp_path / "l.txt", _lines()))
    assert ListIndex(tmp_path / "dncm").listing_date(32470999999) is None


def test_rejected_lines_beyond_tolerance_refuse_the_file(tmp_path: Path) -> None:
    """Rejected lines are reported with line number and reason; over tolerance nothing changes."""
    lines = [*_lines(), "0470;2021-01-01", "0470123457;2021-13-01"]
    with pytest.raises(ListRefusedError, match=r"line 7: not a Belgian number.*line 8: date"):
        _import(tmp_path / "dncm", _write(tmp_path / "l.txt", lines))
    assert ListIndex(tmp_path / "dncm").snapshot() is None


def test_rejected_lines_within_tolerance_are_reported(tmp_path: Path) -> None:
    """Within the configured tolerance, the file is imported and each reject reported."""
    lines = [*_lines(), "33612345678;2021-01-01", "0470123457;2021-01-01"]
    report = _import(
        tmp_path / "dncm",
        _write(tmp_path / "l.txt", lines),
        limits=ImportLimits(max_rejected_lines=1),
    )
    assert [r.line for r in report.rejects] == [7]
    assert report.record.rejected == 1


def test_registration_after_the_list_date_is_rejected(tmp_path: Path) -> None:
    """A registration dated after the list itself cannot be right and is rejected."""
    lines = [*_lines(), "0470123457;2024-05-02", "0470123458;2024-05-01"]
    with pytest.raises(ListRefusedError, match="line 7: registration date 2024-05-02"):
        _import(tmp_path / "dncm", _write(tmp_path / "l.txt", lines))


@pytest.mark.parametrize("trailer", ["TOTAL;7", "EOF 5", "5", "TRAILER;2024-05-01;9"])
def test_trailer_count_must_match(tmp_path: Path, trailer: str) -> None:
    """A trailer whose count differs from the records read refuses the file as truncated."""
    with pytest.raises(ListRefusedError, match="trailer counts"):
        _import(tmp_path / "dncm", _write(tmp_path / "l.txt", [*_lines(), trailer]))


def test_trailer_with_date_and_right_count_is_accepted(tmp_path: Path) -> None:
    """A trailer carrying a date and the count is read as a count, not a record."""
    report = _import(
        tmp_path / "dncm", _write(tmp_path / "l.txt", [*_lines(), "TRAILER;2024-05-01;6"])
    )
    assert (report.trailer_count, report.record.rows) == (6, 6)


def test_truncated_last_line_is_a_reject(tmp_path: Path) -> None:
    """A file cut in the middle of its last line is refused, not silently shortened."""
    with pytest.raises(ListRefusedError, match="line 7"):
        _import(tmp_path / "dncm", _write(tmp_path / "l.txt", [*_lines(), "0470111222;2021-0"]))


def test_shrunk_list_is_refused_unless_forced(tmp_path: Path) -> None:
    """A list with more than 5% fewer numbers than the current one is refused; --force takes it."""
    _import(tmp_path / "dncm", _write(tmp_path / "a.txt", _lines()))
    shorter = _write(tmp_path / "b.txt", _lines()[:5])
    with pytest.raises(ListRefusedError, match="probably truncated"):
        _import(tmp_path / "dncm", shorter)
    assert ListIndex(tmp_path / "dncm").snapshot().rows == 6  # type: ignore[union-attr]
    assert _import(tmp_path / "dncm", shorter, force=True).record.rows == 5


def test_shrink_within_limit_is_accepted(tmp_path: Path) -> None:
    """A shrink within dncm.max_shrink_percent is normal list maintenance."""
    _import(tmp_path / "dncm", _write(tmp_path / "a.txt", _lines()))
    report = _import(
        tmp_path / "dncm",
        _write(tmp_path / "b.txt", _lines()[1:]),
        limits=ImportLimits(max_shrink_percent=20),
    )
    assert (report.record.added, report.record.removed) == (0, 1)


def test_file_without_any_number_is_refused(tmp_path: Path) -> None:
    """A header-only file is an empty list and is refused."""
    with pytest.raises(ListRefusedError):
        _import(tmp_path / "dncm", _write(tmp_path / "l.txt", ["numero;date"]))


def test_day_first_dates_without_proof_are_refused(tmp_path: Path) -> None:
    """Dates like 03/04/2021 everywhere cannot tell day from month: refused unless pinned."""
    rows = [(n, d.replace(day=min(d.day, 12))) for n, d in ROWS]
    file = _write(tmp_path / "l.txt", _lines("{n};{dmy}", rows))
    with pytest.raises(ListFormatError, match="cannot tell day from month"):
        _import(tmp_path / "dncm", file)
    pin = LayoutPin(date_format=DateFormat.DAY_FIRST_SLASH)
    assert _import(tmp_path / "dncm", file, pin=pin).record.rows == 6


def test_duplicates_are_counted_and_keep_the_latest_date(tmp_path: Path) -> None:
    """A number listed twice is one row, counted as a duplicate, with the later date."""
    lines = [*_lines(), "+32470123456;2023-01-01", "0470123456;2010-01-01"]
    report = _import(tmp_path / "dncm", _write(tmp_path / "l.txt", lines))
    assert (report.record.rows, report.record.duplicates) == (6, 2)
    assert ListIndex(tmp_path / "dncm").listing_date(KEYS[0]) == date(2023, 1, 1)


def test_added_and_removed_are_computed_against_the_previous_snapshot(tmp_path: Path) -> None:
    """DNCM gives no deltas: the import counts them against the previous snapshot."""
    _import(tmp_path / "dncm", _write(tmp_path / "a.txt", _lines()))
    newer = [*_lines()[1:], "0470000001;2024-04-30", "0470000002;2024-04-30"]
    report = _import(tmp_path / "dncm", _write(tmp_path / "b.txt", newer))
    assert (report.record.added, report.record.removed, report.record.rows) == (2, 1, 7)


def test_history_keeps_one_record_per_snapshot(tmp_path: Path) -> None:
    """The sync history lists every imported snapshot with source, fingerprint and counts."""
    first = _import(tmp_path / "dncm", _daily(tmp_path, 1))
    second = _import(tmp_path / "dncm", _daily(tmp_path, 2))
    history = sync_history(tmp_path / "dncm")
    assert [r.snapshot_id for r in history] == [first.record.snapshot_id, 2]
    assert history[1] == second.record
    assert len(history[1].sha256) == 64


def test_old_snapshots_are_cleaned_up(tmp_path: Path) -> None:
    """Only the live snapshot and its predecessor stay on disk."""
    for day in range(4):
        _import(tmp_path / "dncm", _daily(tmp_path, day))
    paths = IndexPaths(tmp_path / "dncm")
    assert sorted(p.name for p in paths.snapshots.iterdir()) == ["3.sqlite", "4.sqlite"]


def test_every_file_of_the_index_is_private(tmp_path: Path) -> None:
    """The list is licensed personal data: the index folder is 0700 and every file 0600."""
    _import(tmp_path / "dncm", _daily(tmp_path, 1))
    _import(tmp_path / "dncm", _daily(tmp_path, 2))
    for root, folders, files in os.walk(tmp_path / "dncm"):
        for name in folders:
            assert stat.S_IMODE((Path(root) / name).stat().st_mode) == 0o700
        for name in files:
            assert stat.S_IMODE((Path(root) / name).stat().st_mode) == 0o600, name


def test_refused_import_leaves_no_partial_file(tmp_path: Path) -> None:
    """A refused file leaves the snapshot folder as it was."""
    _import(tmp_path / "dncm", _write(tmp_path / "a.txt", _lines()))
    with pytest.raises(ListRefusedError):
        _import(tmp_path / "dncm", _write(tmp_path / "b.txt", [*_lines(), "junk;junk"]))
    names = sorted(p.name for p in IndexPaths(tmp_path / "dncm").snapshots.iterdir())
    assert names == ["1.sqlite"]


def test_list_date_defaults_to_the_file_modification_date(tmp_path: Path) -> None:
    """Without a given list date, the file's mtime as a Brussels date (not UTC) is the list date."""
    file = _write(tmp_path / "a.txt", _lines())
    os.utime(file, (1714604400, 1714604400))
    report = import_list_file(tmp_path / "dncm", file, source="test")
    assert report.record.list_date == date(2024, 5, 2)
