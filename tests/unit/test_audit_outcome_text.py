"""A call's outcome as `audit show` prints it for a compliance officer."""

from __future__ import annotations

import pytest
from gatekeeper.audit.event_view import outcome_text


@pytest.mark.parametrize(
    ("outcome", "text"),
    [
        (None, "-"),
        (
            {"result": "answered", "talk_seconds": 12.54, "reached_network": True},
            "answered, talked 12.5 s",
        ),
        (
            {
                "result": "not_dialled",
                "hangup_cause_text": "Call Rejected",
                "reached_network": False,
            },
            "not dialled, Call Rejected, never reached the network",
        ),
        (
            {"result": "busy", "hangup_cause_text": "User busy", "reached_network": True},
            "busy, User busy",
        ),
        ({"result": "no_answer", "talk_seconds": None}, "no answer"),
    ],
)
def test_outcome_reads_as_a_sentence(outcome: dict[str, object] | None, text: str) -> None:
    """The result first, then talk time or the hang-up cause, and whether it left the PBX."""
    assert outcome_text(outcome) == text
