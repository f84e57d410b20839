"""Which event loop `serve` runs on: uvloop by default, asyncio's own on request.

Theory of operation
-------------------
Every call `serve` answers costs a connection accepted, a few reads and writes, a close, a task
and a few timers: event-loop work. uvloop runs that part in C on libuv; measured with
callgrind on the FastAGI benchmark (docs/agi.md) it takes about a third of the instructions
out of a trivial call and a seventh out of a checked one. The program is the same on either
loop: same deadlines, same order of recording and answering; the whole test suite runs `serve`
on uvloop, and the server's own tests run on asyncio's loop.

``GATEKEEPER_EVENT_LOOP=asyncio`` (for example in a systemd drop-in) runs asyncio's loop
instead, a way out if a platform ever misbehaves under uvloop; any other value than
``uvloop`` or ``asyncio`` is refused at start, naming the variable.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from typing import Final

import uvloop

from gatekeeper.common import ConfigError, shown

EVENT_LOOP_VARIABLE: Final = "GATEKEEPER_EVENT_LOOP"
_FACTORIES: Final[Mapping[str, Callable[[], asyncio.AbstractEventLoop]]] = {
    "uvloop": uvloop.new_event_loop,
    "asyncio": asyncio.new_event_loop,
}


def event_loop_choice(environ: Mapping[str, str] = os.environ) -> str:
    """The loop named by `GATEKEEPER_EVENT_LOOP` (unset or empty: uvloop); refuses others."""
    name = environ.get(EVENT_LOOP_VARIABLE, "") or "uvloop"
    if name not in _FACTORIES:
        choices = " or ".join(_FACTORIES)
        raise ConfigError(f"{EVENT_LOOP_VARIABLE}={shown(name)}: expected {choices}")
    return name


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The function that makes a new loop of the kind `event_loop_choice` named."""
    return _FACTORIES[name]
