"""Structured logging: JSON lines when not on a terminal, readable lines on one."""

from __future__ import annotations

import logging
import sys
from typing import TextIO, cast

import structlog


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
    renderer: structlog.typing.Processor
    if out.isatty():
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        renderer = structlog.processors.JSONRenderer(sort_keys=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(cast("TextIO", out)),
        cache_logger_on_first_use=False,
    )
