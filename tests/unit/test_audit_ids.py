"""Record ids: short, sortable in chain order, unique."""

from __future__ import annotations

import pytest
from gatekeeper.audit.ids import millis_of, record_id


def test_id_is_thirteen_characters() -> None:
    """An id is 13 characters whatever its time and sequence."""
    assert {len(record_id(m, s)) for m, s in ((0, 0), (1_741_000_000_000, 7), (2**44, 2**30))} == {
        13
    }


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ((1_741_000_000_000, 1), (1_741_000_000_000, 2)),
        ((1_741_000_000_000, 31), (1_741_000_000_000, 32)),
        ((1_741_000_000_000, 999), (1_741_000_000_001, 1000)),
    ],
)
def test_ids_sort_in_chain_order(earlier: tuple[int, int], later: tuple[int, int]) -> None:
    """A later record (same or later millisecond, next sequence) has a greater id."""
    assert record_id(*earlier) < record_id(*later)


@pytest.mark.slow
def test_ids_of_consecutive_sequences_are_unique() -> None:
    """A million consecutive records in one millisecond never share an id."""
    ids = {record_id(1_741_000_000_000, seq) for seq in range(1, 2**20 + 1)}
    assert len(ids) == 2**20


def test_millis_round_trip() -> None:
    """The time part of an id decodes back to its millisecond."""
    assert millis_of(record_id(1_741_000_123_456, 42)) == 1_741_000_123_456


@pytest.mark.parametrize(
    ("millis", "seq", "text"),
    [
        (0, 0, "0000000000000"),
        (1_741_000_123_456, 42, "1JNDV3920001A"),
        (2**45 - 1, 2**20 - 1, "ZZZZZZZZZZZZZ"),
    ],
)
def test_id_text_is_crockford_base32(millis: int, seq: int, text: str) -> None:
    """An id is the time (9) and sequence (4) in Crockford base32, most significant first."""
    assert record_id(millis, seq) == text
