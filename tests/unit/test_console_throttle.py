"""The login throttle: failed logins per client address, in a sliding window, bounded."""

from __future__ import annotations

from gatekeeper.console.security import LoginThrottle


def test_refuses_after_the_limit_until_failures_leave_the_window() -> None:
    """The limit's worth of failures refuses the address; a window later it may try again."""
    throttle = LoginThrottle(attempts=3, window_s=60.0)
    for moment in (0.0, 1.0, 2.0):
        throttle.failed("10.0.0.1", moment)
    assert (
        throttle.allow("10.0.0.1", 30.0),
        throttle.allow("10.0.0.2", 30.0),
        throttle.allow("10.0.0.1", 60.5),
    ) == (False, True, True)


def test_remembers_a_bounded_number_of_addresses() -> None:
    """Beyond `max_clients` the least recently seen addresses are forgotten."""
    throttle = LoginThrottle(attempts=1, window_s=60.0, max_clients=2)
    for client in ("a", "b", "c"):
        throttle.failed(client, 0.0)
    assert (throttle.allow("c", 1.0), throttle.allow("b", 1.0), throttle.allow("a", 1.0)) == (
        False,
        False,
        True,
    )
