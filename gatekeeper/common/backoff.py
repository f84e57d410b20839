"""Retry delays: doubling from a first delay up to a cap, plain or with jitter.

The exponent is bounded (`MAX_DOUBLINGS`), so a retry loop that runs for months never builds an
enormous number before the cap applies.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

MAX_DOUBLINGS = 32


def ceiling(attempt: int, first: float, cap: float) -> float:
    """The delay before retry `attempt` (1 = the first): first · 2^(attempt-1), capped."""
    return min(cap, first * (1 << min(max(attempt - 1, 0), MAX_DOUBLINGS)))


def jittered(first: float, cap: float, rng: random.Random | None = None) -> Iterator[float]:
    """Delays for reconnecting: each drawn uniformly between first/2 and its doubling ceiling."""
    draw = rng or random.Random()  # noqa: S311 - jitter, not cryptography
    attempt = 1
    while True:
        yield draw.uniform(first / 2, ceiling(attempt, first, cap))
        attempt += 1
