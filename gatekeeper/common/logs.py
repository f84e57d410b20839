"""Structured logging: JSON lines when not on a terminal, readable lines on one.

On a terminal every text value goes through `untrusted.shown` first: a log line may carry a
campaign or dialled string from the network, and the console renderer prints text as it is.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO, cast

import structlog

from gatekeeper.common.untrusted import shown


class _StandardStream:
    """sys.stdout or sys.stderr looked up at each write, so a replaced stream is followed."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _stream(self) -> TextIO:
        stream: TextIO = getattr(sys, self._name)
        return stream

    def write(self, text: str) -> int:
        return self._stream().write(text)

    def flush(self) -> None:
        self._stream().flush()

    def isatty(self) -> bool:
        return self._stream().isatty()


def _escape_for_terminal(
    _logger: object, _name: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """Text values escaped for a terminal (the console renderer prints strings as they are).

    A traceback keeps its line breaks; any other value is escaped whole.
    """
    escaped: structlog.typing.EventDict = {}
    for key, value in event.items():
        if isinstance(value, str):
            lines = value.split("\n") if key == "exception" else [value]
            value = "\n".join(shown(line) for line in lines)  # noqa: PLW2901 - escaped in place
        escaped[key] = value
    return escaped


def configure_logging(*, stream: TextIO | None = None, level: int = logging.INFO) -> None:
    """Send structlog output to `stream` (stderr by default; `serve` passes stdout for journald).

    sys.stdout and sys.stderr are looked up at each write rather than captured now.
    """
    out: TextIO | _StandardStream
    if stream is sys.stdout:
        out = _StandardStream("stdout")
    elif stream is None or stream is sys.stderr:
        out = _StandardStream("stderr")
    else:
        out = stream
    renderers: list[structlog.typing.Processor]
    if out.isatty():
        renderers = [_escape_for_terminal, structlog.dev.ConsoleRenderer(colors=False)]
    else:
        renderers = [structlog.processors.JSONRenderer(sort_keys=True)]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            *renderers,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(cast("TextIO", out)),
        cache_logger_on_first_use=False,
    )
