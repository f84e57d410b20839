"""Retry delays shared by the AMI reconnect loop and the scheduled list sync."""

from __future__ import annotations

import random
from itertools import islice

from gatekeeper.common.backoff import ceiling, jittered


def test_ceiling_doubles_from_the_first_delay_up_to_the_cap() -> None:
    """Retry n waits first · 2^(n-1), never more than the cap."""
    assert [ceiling(n, 60.0, 3600.0) for n in range(1, 9)] == [
        60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 3600.0, 3600.0,
    ]  # fmt: skip


def test_ceiling_of_a_very_long_outage_is_the_cap() -> None:
    """A millionth retry is still a number: the cap, not an overflow."""
    assert ceiling(1_000_000, 60.0, 3600.0) == 3600.0


def test_jittered_delays_stay_between_half_the_first_and_their_ceiling() -> None:
    """Each jittered delay lies between first/2 and the ceiling of its retry."""
    delays = list(islice(jittered(0.2, 3.0, random.Random(3)), 10))
    assert all(0.1 <= d <= ceiling(n, 0.2, 3.0) for n, d in enumerate(delays, start=1))
