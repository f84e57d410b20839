"""The fast number reader accepts exactly what `normalise` accepts, with the same key."""

from __future__ import annotations

import pytest
from gatekeeper.dncm.fastpath import fast_key
from gatekeeper.numbers import BelgianNumber, normalise
from hypothesis import given, settings
from hypothesis import strategies as st

FORMS = ("0{n}", "32{n}", "+32{n}", "0032{n}", "{n}", "00{n}", "+320{n}", "3{n}")


def _expected(text: str) -> int | None:
    found = normalise(text)
    return found.key if isinstance(found, BelgianNumber) else None


@settings(max_examples=3000, deadline=None)
@given(
    national=st.text(alphabet="0123456789", min_size=6, max_size=11), form=st.sampled_from(FORMS)
)
def test_fast_key_never_disagrees_with_normalise(national: str, form: str) -> None:
    """Whatever digits, in whatever form: an accepted number has normalise's key."""
    text = form.format(n=national)
    key = fast_key(text.encode())
    if key is not None:
        assert key == _expected(text)


@settings(max_examples=2000, deadline=None)
@given(
    prefix=st.sampled_from(["4", "45", "47", "48", "49", "2", "3", "9", "1", "5", "6", "7", "8"]),
    rest=st.text(alphabet="0123456789", min_size=7, max_size=8),
    form=st.sampled_from(FORMS[:4]),
)
def test_fast_key_accepts_every_valid_plain_number(prefix: str, rest: str, form: str) -> None:
    """A plain valid Belgian number in any of the four list forms is read without normalise."""
    text = form.format(n=(prefix + rest)[:9])
    assert fast_key(text.encode()) == _expected(text)


@pytest.mark.parametrize(
    "text",
    ["0470 12 34 56", "0470/12.34.56", "+32 470 123456", "tel:+32470123456", "", "+33612345678"],
)
def test_fast_key_leaves_unusual_forms_to_normalise(text: str) -> None:
    """Anything but plain digits in a list form is not decided by the fast path."""
    assert fast_key(text.encode()) is None
