"""Attempt numbers: the checks of one call (its linked id) are counted 1, 2, ... with a bound."""

from __future__ import annotations

from gatekeeper.check import attempts
from gatekeeper.check.attempts import CallAttempts


class Clock:
    """A hand-driven monotonic clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        """The current reading."""
        return self.now


def test_second_check_of_a_call_is_attempt_two() -> None:
    """Two checks with one linked id are attempts 1 and 2; another call starts at 1."""
    counter = CallAttempts(Clock())
    assert [counter.next("L1"), counter.next("L1"), counter.next("L2")] == [1, 2, 1]


def test_check_without_linked_id_is_not_counted() -> None:
    """No linked id, no call to count: attempt 0."""
    assert CallAttempts(Clock()).next("") == 0


def test_memory_is_bounded() -> None:
    """Past its max_calls the oldest call is forgotten; the count never grows without bound."""
    counter = CallAttempts(Clock(), max_calls=3)
    for linkedid in ("a", "b", "c", "d"):
        counter.next(linkedid)
    assert (len(counter), counter.next("a")) == (3, 1)


def test_old_call_starts_again() -> None:
    """A linked id not seen for TTL_S is a new call."""
    clock = Clock()
    counter = CallAttempts(clock)
    counter.next("L1")
    clock.now += attempts.TTL_S + 1
    assert counter.next("L1") == 1


def test_count_does_not_depend_on_the_clocks_reading() -> None:
    """A monotonic clock far from 0 (a host up for weeks) still counts a check a minute later."""
    clock = Clock()
    clock.now = 30 * 86400.0
    counter = CallAttempts(clock)
    counter.next("L1")
    clock.now += 60.0
    assert counter.next("L1") == 2


def test_call_seen_again_exactly_ttl_later_is_the_same_call() -> None:
    """TTL_S is how long a call is remembered: a check exactly TTL_S later is still attempt 2."""
    clock = Clock()
    counter = CallAttempts(clock)
    counter.next("L1")
    clock.now += attempts.TTL_S
    assert counter.next("L1") == 2
