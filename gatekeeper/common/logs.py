"""Structured logging: JSON lines when not on a terminal, readable lines on one.

On a terminal every text value goes through `untrusted.shown` first: a log line may carry a
campaign or dialled string from the network, and the console renderer prints text as it is.

`serve` writes one line per call (the `decision` line), so the two processors every line goes
through are built for that rate: the time stamp renders the date and time of day once per
second (the text is the same as structlog's ``TimeStamper(fmt="iso", utc=True)``), and the JSON
encoder is built once instead of by ``json.dumps`` on every line. Modules that log on every
call take their logger from a `CallLogger`, which keeps the bound logger it assembled for as
long as the configuration it was assembled from is in force.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import TextIO, cast

import structlog
from structlog.typing import FilteringBoundLogger

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


class _UtcTimestamp:
    """Adds ``timestamp``: ISO 8601 UTC with microseconds (none when zero) and a ``Z``."""

    def __init__(self) -> None:
        self._second: tuple[int, str] = (-1, "")

    def __call__(
        self, _logger: object, _name: str, event: structlog.typing.EventDict
    ) -> structlog.typing.EventDict:
        event["timestamp"] = self.text(time.time())
        return event

    def text(self, now: float) -> str:
        """`now` (seconds since the epoch) rounded to the microsecond as `datetime` rounds it."""
        second = int(now)
        micro = round((now - second) * 1e6)
        if micro >= _MICROSECONDS:
            second, micro = second + 1, micro - _MICROSECONDS
        cached = self._second
        if cached[0] != second:
            day_time = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            cached = self._second = (second, day_time)
        return f"{cached[1]}.{micro:06d}Z" if micro else f"{cached[1]}Z"


_MICROSECONDS = 1_000_000


def _json_default(value: object) -> object:
    """What structlog's JSON renderer does with a value JSON has no type for."""
    try:
        return value.__structlog__()  # type: ignore[attr-defined]
    except AttributeError:
        return repr(value)


class _JsonLine:
    """The event as one JSON object with sorted keys, as ``JSONRenderer(sort_keys=True)``."""

    def __init__(self) -> None:
        self._encode = json.JSONEncoder(sort_keys=True, default=_json_default).encode

    def __call__(self, _logger: object, _name: str, event: structlog.typing.EventDict) -> str:
        return self._encode(event)


class CallLogger:
    """A logger for lines written on every call: assembled once per logging configuration.

    ``structlog.get_logger()`` gives a proxy that assembles a new bound logger (a fresh output
    logger, context and wrapper) for every line, because loggers are not cached on first use:
    a later ``structlog.configure`` (a test's, `configure_logging` again) must be followed.
    This one follows it too, more cheaply: it keeps the logger it assembled together with the
    configuration's parts (processors, wrapper class, logger factory, context class) and
    assembles a new one when any of them was replaced. Processors changed in place, as
    ``structlog.testing.capture_logs`` does, are seen by the kept logger itself.
    """

    def __init__(self, name: str | None = None) -> None:
        self._args = () if name is None else (name,)
        self._kept: tuple[object, object, object, object, FilteringBoundLogger] | None = None

    def get(self) -> FilteringBoundLogger:
        """The bound logger for the configuration in force."""
        config = structlog.get_config()
        kept = self._kept
        if (
            kept is None
            or kept[0] is not config["processors"]
            or kept[1] is not config["wrapper_class"]
            or kept[2] is not config["logger_factory"]
            or kept[3] is not config["context_class"]
        ):
            logger: FilteringBoundLogger = structlog.get_logger(*self._args).bind()
            kept = self._kept = (
                config["processors"],
                config["wrapper_class"],
                config["logger_factory"],
                config["context_class"],
                logger,
            )
        return kept[4]


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
        renderers = [_JsonLine()]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _UtcTimestamp(),
            structlog.processors.format_exc_info,
            *renderers,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(cast("TextIO", out)),
        cache_logger_on_first_use=False,
    )
