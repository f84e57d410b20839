"""What the console reads from a browser: search filters, cursors and redirect targets."""

from __future__ import annotations

import pytest
from gatekeeper.console.forms import FormError, local_path, search_query
from gatekeeper.console.reader import CursorError, seq_cursor
from starlette.datastructures import QueryParams


@pytest.mark.parametrize("written", ["0470 12 34 56", "+32 470 12.34.56", "0032470123456"])
def test_a_number_in_any_form_searches_its_e164(written: str) -> None:
    """The number is normalised like the CLI's `audit show --number`."""
    query, _ = search_query(QueryParams({"number": written}))
    assert (query.filters.e164, query.filters.dialled) == ("+32470123456", None)


def test_a_string_that_is_no_number_searches_the_dialled_text() -> None:
    """Something that is not a number is matched as the dialled string, exactly."""
    query, _ = search_query(QueryParams({"number": "<script>"}))
    assert (query.filters.e164, query.filters.dialled) == (None, "<script>")


@pytest.mark.parametrize(
    ("field", "value"), [("verdict", "maybe"), ("reason", "whim"), ("since", "yesterday")]
)
def test_a_bad_filter_names_its_field(field: str, value: str) -> None:
    """An unknown verdict or reason, or a date that is no date, is refused naming the field."""
    with pytest.raises(FormError, match=rf"^{field}:"):
        search_query(QueryParams({field: value}))


@pytest.mark.parametrize("cursor", ["-1", "1e3", "٣", "9" * 19])
def test_a_cursor_is_ascii_digits(cursor: str) -> None:
    """The local reader's page cursor is a sequence number in ASCII digits, nothing else."""
    with pytest.raises(CursorError, match=r"^before:"):
        seq_cursor(cursor)


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/search?x=1", "/search?x=1"), ("//evil.example", ""), ("https://evil", ""), ("/\\x", "")],
)
def test_login_redirects_only_to_this_site(target: str, expected: str) -> None:
    """After login, only a path on the console is followed (no open redirect)."""
    assert local_path(target) == expected
