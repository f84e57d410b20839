"""`serve` runs on uvloop unless GATEKEEPER_EVENT_LOOP asks for asyncio's own loop."""

from __future__ import annotations

import asyncio

import pytest
import uvloop
from gatekeeper.common import ConfigError
from gatekeeper.serve.loop import EVENT_LOOP_VARIABLE, event_loop_choice, loop_factory


def test_unset_means_uvloop() -> None:
    """Without the variable, serve runs on uvloop."""
    assert event_loop_choice({}) == "uvloop"


def test_empty_means_uvloop() -> None:
    """An empty value (a drop-in that clears it) is the default too."""
    assert event_loop_choice({EVENT_LOOP_VARIABLE: ""}) == "uvloop"


def test_asyncio_can_be_asked_for() -> None:
    """`asyncio` is the way out to the standard loop."""
    assert event_loop_choice({EVENT_LOOP_VARIABLE: "asyncio"}) == "asyncio"


def test_any_other_value_is_refused_naming_the_variable_and_the_choices() -> None:
    """A typo is an error naming the variable and the two choices, never a silent default."""
    with pytest.raises(ConfigError) as refused:
        event_loop_choice({EVENT_LOOP_VARIABLE: "trio"})
    assert str(refused.value) == f"{EVENT_LOOP_VARIABLE}=trio: expected uvloop or asyncio"


def test_a_refused_value_is_shown_escaped() -> None:
    """The refused value reaches the terminal as text, its control characters escaped."""
    with pytest.raises(ConfigError) as refused:
        event_loop_choice({EVENT_LOOP_VARIABLE: "\x1b[2J"})
    assert "\x1b" not in str(refused.value)


@pytest.mark.parametrize(
    ("name", "kind"), [("uvloop", uvloop.Loop), ("asyncio", asyncio.BaseEventLoop)]
)
def test_each_choice_makes_its_own_kind_of_loop(name: str, kind: type) -> None:
    """Each name makes the loop it names."""
    loop = loop_factory(name)()
    try:
        assert (isinstance(loop, kind), isinstance(loop, uvloop.Loop)) == (True, name == "uvloop")
    finally:
        loop.close()
