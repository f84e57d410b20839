"""Layout detection: every plausible layout is read, ambiguous or unreadable files are refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from gatekeeper.common.errors import ListFormatError, ListRefusedError
from gatekeeper.dncm.dates import DateFieldError, DateFormat, read_date
from gatekeeper.dncm.layout import (
    Encoding,
    FieldOrder,
    Layout,
    LayoutPin,
    Separator,
    detect_layout,
    split_fields,
)

NUMBERS = ["0470123456", "025551234", "0497654321", "092345678", "0485112233", "016223344"]
DATES_ISO = ["2021-04-03", "2019-12-25", "2015-01-31", "2020-02-29", "2018-07-14", "2022-11-05"]


def _file(
    sep: str,
    *,
    number_form: str = "{n}",
    date_of: Callable[[str], str] = lambda iso: iso,
    header: str = "",
) -> bytes:
    lines = [header] if header else []
    for number, iso in zip(NUMBERS, DATES_ISO, strict=True):
        lines.append(f"{number_form.format(n=number)}{sep}{date_of(iso)}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _detect(data: bytes, pin: LayoutPin | None = None) -> Layout:
    return detect_layout(data, at_eof=True, pin=pin or LayoutPin(), where="list.txt")


def _dmy(sep: str) -> Callable[[str], str]:
    return lambda iso: f"{iso[8:10]}{sep}{iso[5:7]}{sep}{iso[0:4]}"


@pytest.mark.parametrize(
    ("sep", "expected"),
    [
        (";", Separator.SEMICOLON),
        (",", Separator.COMMA),
        ("\t", Separator.TAB),
        ("|", Separator.PIPE),
        (" ", Separator.WHITESPACE),
        ("   ", Separator.WHITESPACE),
        (" ; ", Separator.SEMICOLON),
    ],
)
def test_separator_is_detected(sep: str, expected: Separator) -> None:
    """Each plausible separator is recognised (a tab is preferred over plain whitespace)."""
    assert _detect(_file(sep)).separator is expected


@pytest.mark.parametrize("form", ["0{m}", "32{m}", "+32{m}", "0032{m}", '"0{m}"'])
def test_number_forms_are_read(form: str) -> None:
    """Numbers as 0…, 32…, +32…, 0032… (quoted or not) all fit the same layout."""
    lines = [f"{form.format(m=n[1:])};{d}" for n, d in zip(NUMBERS, DATES_ISO, strict=True)]
    layout = _detect(("\n".join(lines) + "\n").encode())
    assert (layout.separator, layout.date_format) == (Separator.SEMICOLON, DateFormat.ISO)


@pytest.mark.parametrize(
    ("date_of", "expected"),
    [
        (lambda iso: iso, DateFormat.ISO),
        (lambda iso: f"{iso} 00:00:00", DateFormat.ISO),
        (lambda iso: f"{iso}T13:45:00+01:00", DateFormat.ISO),
        (_dmy("/"), DateFormat.DAY_FIRST_SLASH),
        (lambda iso: _dmy("/")(iso) + " 08:15", DateFormat.DAY_FIRST_SLASH),
        (_dmy("-"), DateFormat.DAY_FIRST_DASH),
        (lambda iso: iso.replace("-", ""), DateFormat.COMPACT),
        (lambda iso: iso.replace("-", "") + " 101500", DateFormat.COMPACT),
    ],
)
def test_date_format_is_detected(date_of: Callable[[str], str], expected: DateFormat) -> None:
    """Each date form, with or without a time, is recognised."""
    assert _detect(_file(";", date_of=date_of)).date_format is expected


def test_whitespace_separated_dates_with_time_are_read() -> None:
    """A time after the date does not pass for a third field when fields are space-separated."""
    layout = _detect(_file(" ", date_of=lambda iso: f"{iso} 12:00:00"))
    assert (layout.separator, layout.date_format) == (Separator.WHITESPACE, DateFormat.ISO)


def test_date_first_columns_are_detected() -> None:
    """A file giving the date before the number is read in that order."""
    lines = [f"{d};{n}" for n, d in zip(NUMBERS, DATES_ISO, strict=True)]
    assert _detect(("\n".join(lines) + "\n").encode()).order is FieldOrder.DATE_NUMBER


@pytest.mark.parametrize(
    ("header", "expected"), [("", False), ("numero;date_inscription", True), ("Number;Date", True)]
)
def test_header_is_detected(header: str, expected: bool) -> None:
    """A first line with words that does not read as data is a header."""
    assert _detect(_file(";", header=header)).header is expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_file(";", header="numéro;date"), Encoding.UTF8),
        (b"\xef\xbb\xbf" + _file(";", header="numéro;date"), Encoding.UTF8),
        (_file(";", header="numéro;date").decode().encode("latin-1"), Encoding.LATIN1),
        (_file(";").replace(b"\n", b"\r\n"), Encoding.UTF8),
    ],
)
def test_encoding_is_detected(data: bytes, expected: Encoding) -> None:
    """UTF-8 with or without BOM, Latin-1, CRLF line ends are all read."""
    assert _detect(data).encoding is expected


def test_utf16_is_refused() -> None:
    """A UTF-16 file is refused with a clear message rather than misread."""
    with pytest.raises(ListFormatError, match="UTF-16"):
        _detect(b"\xff\xfe" + _file(";").decode().encode("utf-16-le"))


def test_unreadable_file_is_refused() -> None:
    """A file no layout explains is refused, naming the file."""
    with pytest.raises(ListFormatError, match=r"list\.txt:1: no known layout"):
        _detect(b"hello world\nthis is not a list\nat all\n")


def test_layout_fitting_too_few_lines_is_refused() -> None:
    """When the best reading fits no more than half the sample, the layout is not guessed."""
    good = _file(";").splitlines()[:3]
    bad = [b"0470;bad", b"x;y", b"12;13", b"zz"]
    with pytest.raises(ListFormatError, match="reads only"):
        _detect(b"\n".join(good + bad) + b"\n")


def test_empty_file_is_refused() -> None:
    """An empty file is refused as an empty list."""
    with pytest.raises(ListRefusedError, match="no lines"):
        _detect(b"\n\n")


def test_pinned_layout_is_used_instead_of_detection() -> None:
    """A pinned date form is taken as given (month-first is only ever pinned)."""
    data = _file(";", date_of=lambda iso: f"{iso[5:7]}/{iso[8:10]}/{iso[0:4]}")
    pin = LayoutPin(date_format=DateFormat.MONTH_FIRST_SLASH, header=False)
    layout = _detect(data, pin)
    assert (layout.date_format, layout.header) == (DateFormat.MONTH_FIRST_SLASH, False)


def test_month_first_dates_are_not_detected() -> None:
    """Month-first dates with days above 12 fit no detectable form and are refused."""
    data = _file(";", date_of=lambda iso: f"{iso[5:7]}/{iso[8:10]}/{iso[0:4]}")
    with pytest.raises(ListFormatError):
        _detect(data)


@pytest.mark.parametrize(
    ("line", "sep", "order", "expected"),
    [
        (b"0470;2021-01-01", b";", FieldOrder.NUMBER_DATE, (b"0470", b"2021-01-01")),
        (b"0470;2021-01-01;", b";", FieldOrder.NUMBER_DATE, (b"0470", b"2021-01-01")),
        (b'"0470","2021-01-01"', b",", FieldOrder.NUMBER_DATE, (b"0470", b"2021-01-01")),
        (b"2021-01-01 10:00 0470", None, FieldOrder.DATE_NUMBER, (b"0470", b"2021-01-01 10:00")),
    ],
)
def test_split_fields(
    line: bytes, sep: bytes | None, order: FieldOrder, expected: tuple[bytes, bytes]
) -> None:
    """Fields are split by the layout, trailing separators and quotes dropped."""
    assert split_fields(line, sep, order) == expected


@pytest.mark.parametrize(
    ("text", "form"),
    [
        (b"2021-02-30", DateFormat.ISO),
        (b"31/13/2021", DateFormat.DAY_FIRST_SLASH),
        (b"2021", DateFormat.COMPACT),
    ],
)
def test_impossible_dates_are_errors(text: bytes, form: DateFormat) -> None:
    """A date that is not on the calendar or not of the form raises, naming the value."""
    with pytest.raises(DateFieldError, match="date"):
        read_date(text, form)
