"""The service's limits: the AGI handler waits longer than the checker's own deadlines."""

from __future__ import annotations

from gatekeeper.serve.limits import HANDLER_MARGIN_S, Limits


def test_the_handler_deadline_follows_the_checker_deadlines_given() -> None:
    """Facts 0.2 s and record 0.3 s: the check takes 0.5 s at most, the handler gets the margin."""
    limits = Limits(check_facts_deadline_s=0.2, check_record_deadline_s=0.3)
    assert (limits.check_deadline_s, limits.agi_handler_timeout_s) == (
        0.5,
        0.5 + HANDLER_MARGIN_S,
    )
