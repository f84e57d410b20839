"""The Nodes page's words and durations: every flag translated, silence in a readable unit."""

from __future__ import annotations

import pytest
from gatekeeper.console.i18n import LANGUAGES, word
from gatekeeper.console.nodes import elapsed
from gatekeeper.stores.postgres.nodes import Flag


@pytest.mark.parametrize("flag", list(Flag))
def test_every_flag_has_a_word_in_each_language(flag: Flag) -> None:
    """A flag `compare` can set is shown as a translated word, never as its raw name missing."""
    assert all(word(f"flag_{flag.value.lower()}", language) for language in LANGUAGES)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (-3.0, (0, "s")),
        (59.9, (59, "s")),
        (60.0, (1, "min")),
        (7199.0, (119, "min")),
        (7200.0, (2, "h")),
        (26 * 3600.0, (26, "h")),
        (2 * 86400.0 + 5, (2, "d")),
    ],
)
def test_silence_is_shown_in_a_readable_unit(seconds: float, expected: tuple[int, str]) -> None:
    """Under a minute in seconds, under two hours in minutes, under two days in hours."""
    assert elapsed(seconds) == expected
