"""How a calling list's number column and separator are recognised (pure parts of scrub_csv)."""

from __future__ import annotations

import pytest
from gatekeeper.scrub.calling_list import NUMBER_COLUMN_NAMES, header_key, sniff_delimiter


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
