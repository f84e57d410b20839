"""The console's language: the switch, the remembered choice, then Accept-Language."""

from __future__ import annotations

import pytest
from gatekeeper.console.i18n import LANGUAGES, WORDS, choose


@pytest.mark.parametrize(
    ("query", "cookie", "header", "expected"),
    [
        (None, None, "fr-BE,fr;q=0.9,en;q=0.8", "fr"),
        (None, None, "de-DE,nl;q=0.5,fr;q=0.7", "fr"),
        (None, None, "de-DE", "en"),
        (None, None, None, "en"),
        (None, "nl", "fr-BE", "nl"),
        ("fr", "nl", "en", "fr"),
        ("xx", None, "nl-BE", "nl"),
        (None, None, "nl;q=0,fr;q=0.1", "fr"),
        (None, None, "fr;q=abc,nl", "nl"),
    ],
)
def test_language_is_chosen_in_order(
    query: str | None, cookie: str | None, header: str | None, expected: str
) -> None:
    """The switch wins, then the cookie, then the best-weighted supported browser language."""
    assert choose(query, cookie, header) == expected


def test_every_word_has_the_three_languages() -> None:
    """No entry lacks a translation (an empty one would show nothing)."""
    assert [
        key for key, words in WORDS.items() if len(words) != len(LANGUAGES) or not all(words)
    ] == []
