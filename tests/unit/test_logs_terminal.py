"""Log lines on a terminal: text from outside never reaches it as control characters."""

from __future__ import annotations

import io

import structlog
from gatekeeper.common.logs import configure_logging


class _Terminal(io.StringIO):
    """A text stream that says it is a terminal, so the console renderer is chosen."""

    def isatty(self) -> bool:
        return True


def test_traceback_on_a_terminal_is_escaped_line_by_line() -> None:
    """An error message holding ESC sequences is printed escaped; the traceback keeps its lines."""
    terminal = _Terminal()
    configure_logging(stream=terminal)
    try:
        raise ValueError("campaign \x1b]0;pwned\x07\x1b[2J")  # noqa: TRY301 - the logged error
    except ValueError:
        structlog.get_logger().exception("unexpected_error")
    lines = terminal.getvalue().splitlines()
    assert (len(lines) > 2, all(line.isprintable() for line in lines)) == (True, True)
