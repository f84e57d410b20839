"""How a calling list's number column and separator are recognised (pure parts of scrub_csv)."""

from __future__ import annotations

import pytest
from gatekeeper.common.untrusted import csv_cell
from gatekeeper.scrub.calling_list import (
    NUMBER_COLUMN_NAMES,
    _cells,
    cell,
    header_key,
    sniff_delimiter,
)

HOSTILE_AND_PLAIN = [
    "",
    "Gent",
    "0470 12 34 56",
    "+32 470 12 34 56",
    "=HYPERLINK(1)",
    "-1",
    "@SUM(A1)",
    "'quoted",
    "\tTab first",
    "\rCR first",
    "a\rb",
    "a\x00b",
    "a\nb",
    "a\x9bb",
    "a\u2028b",
    "Françoise",
]


@pytest.mark.parametrize(
    "header",
    [
        "number",
        "Phone",
        "PHONE NUMBER",
        "phone_number",
        "Téléphone",
        "Numéro de téléphone",
        "numero",
        "Nummer",
        "Telefoonnummer",
        "GSM",
        "gsm-nr",
        "Tel.",
        "tel_nr",
        "Mobile",
        "MSISDN",
        " telefoon ",
    ],
)
def test_phone_headers_are_recognised(header: str) -> None:
    """Usual Dutch, French and English phone headers match, whatever their case or accents."""
    assert header_key(header) in NUMBER_COLUMN_NAMES


@pytest.mark.parametrize("header", ["name", "city", "e-mail", "phone 2", "gk_number", "fax"])
def test_other_headers_are_not_taken_for_the_number(header: str) -> None:
    """Headers that are not a phone number, or are ambiguous, do not match."""
    assert header_key(header) not in NUMBER_COLUMN_NAMES


@pytest.mark.parametrize(
    ("lines", "delimiter"),
    [
        (["name,phone\n", "A,0470\n"], ","),
        (["name;phone\n", "Dupont, Jan;0470\n"], ";"),
        (["name\tphone\tcity\n", "A\t0470\tGent, Oost\n"], "\t"),
        (["phone\n", "0470 12 34 56\n"], ","),
        (['"name;x",phone\n', '"A;B",0470\n'], ","),
    ],
)
def test_separator_is_the_one_that_splits_every_row_alike(lines: list[str], delimiter: str) -> None:
    """The separator gives the header the most fields, and every sampled row as many."""
    assert sniff_delimiter(lines) == delimiter


@pytest.mark.parametrize("value", HOSTILE_AND_PLAIN)
def test_the_writers_cell_is_csv_cell(value: str) -> None:
    """The writer's fast cell gives exactly what `csv_cell` gives, for plain and hostile text."""
    assert cell(value) == csv_cell(value)


def test_a_rows_cells_are_csv_cells() -> None:
    """The writer's row of cells is `csv_cell` of each value, plain and hostile alike."""
    values = [*HOSTILE_AND_PLAIN, *(value + "x" for value in HOSTILE_AND_PLAIN)]
    assert _cells(values) == [csv_cell(value) for value in values]
