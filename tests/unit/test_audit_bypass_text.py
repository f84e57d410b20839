"""A bypass record as the audit readers tell it: one sentence, dialled text quoted and cut."""

from __future__ import annotations

import pytest
from gatekeeper.audit.bypass_view import MAX_SHOWN_DIALLED, bypass_sentence, names_number


@pytest.mark.parametrize(
    ("details", "text"),
    [
        (
            {
                "context": "trunk",
                "exten": "0470123456",
                "reason": "no_allow",
                "action": "alert",
                "provider_reached": True,
                "provider_channel": "IAX2/provider-1",
            },
            (
                "a call dialled '0470123456' into trunk context 'trunk' without any ALLOW: "
                "reported only, not hung up (on_bypass: alert); the provider leg was reached "
                "('IAX2/provider-1')."
            ),
        ),
        (
            {
                "context": "trunk",
                "exten": "0470123456",
                "reason": "no_allow",
                "action": "hangup",
                "hung_up": False,
                "error": "AMI action Hangup refused: No such channel",
            },
            (
                "a call dialled '0470123456' into trunk context 'trunk' without any ALLOW: the "
                "watchdog's hangup failed ('AMI action Hangup refused: No such channel'); "
                "whether the provider leg was reached is not known."
            ),
        ),
        (
            {
                "context": "trunk",
                "exten": "0470123456",
                "reason": "no_allow",
                "action": "hangup",
                "hung_up": False,
                "already_gone": True,
                "provider_reached": False,
            },
            (
                "a call dialled '0470123456' into trunk context 'trunk' without any ALLOW: "
                "already ended (by the trunk guard or the dialplan) when the watchdog hung up; "
                "the provider leg was not reached."
            ),
        ),
    ],
)
def test_sentence_says_what_was_done_and_whether_the_provider_was_reached(
    details: dict[str, object], text: str
) -> None:
    """The action taken and the provider leg are told in words."""
    assert bypass_sentence(details) == text


def test_dialled_text_is_quoted_escaped_and_cut() -> None:
    """A dialled string with control characters is shown escaped and bounded."""
    sentence = bypass_sentence({"exten": "\x1b[2J" + "9" * 100, "context": "trunk"})
    shown = sentence.split("dialled ")[1].split(" into")[0]
    assert (shown.startswith("'\\x1b[2J"), len(shown)) == (True, MAX_SHOWN_DIALLED)


@pytest.mark.parametrize(
    ("details", "named"),
    [
        ({"exten": "0032 470 12 34 56"}, True),
        ({"exten": "0470999999", "allowed_number": "+32470123456"}, True),
        ({"exten": "0470999999", "allowed_number": "+32470555555"}, False),
        ({"exten": "not a number"}, False),
    ],
)
def test_a_bypass_names_the_number_it_dialled_or_was_allowed(
    details: dict[str, object], named: bool
) -> None:
    """`--number` finds a bypass by the number dialled (any form) or the number allowed."""
    assert names_number(details, "+32470123456") is named
