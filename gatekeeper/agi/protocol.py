"""Sans-IO FastAGI protocol: bytes in, typed events out; commands encoded to bytes.

Theory of operation
-------------------
Asterisk opens the TCP connection and speaks first: ``name: value`` lines (the AGI
environment) ended by an empty line. From then on the server sends one command line at a
time and Asterisk answers each with one reply:

* ``200 result=<r> [(<data>)] [<extra>]`` when the command ran;
* ``<code> <message>`` (510, 511, 520, ...) when it did not; ``520-`` opens a usage block
  that runs until a line starting ``520 `` and is reported as ONE `CommandError`;
* ``HANGUP`` is unsolicited: Asterisk sends it when the channel hangs up, possibly before
  the reply to the command in flight; that reply still follows.

`AgiConnection` holds no socket and no clock. Feed it what the socket gave with
`receive_data` (``b""`` means EOF) and call `next_event` until it returns `NeedData` or
`EndOfStream`. Caps are checked as bytes arrive, so a peer that never sends a newline
cannot grow the buffer past them. A peer that breaks the rules raises `AgiProtocolError`
naming the rule; the connection then stays broken. Text is decoded as UTF-8 with
replacement, so Latin-1 caller names never raise.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from gatekeeper.agi.codes import OK
from gatekeeper.common import AgiProtocolError

MAX_HEADER_BYTES: Final = 16 * 1024
"""Largest AGI environment block accepted, blank line included."""
MAX_HEADER_LINES: Final = 256
"""Most environment lines accepted (Asterisk sends about 20 plus one per argument)."""
MAX_LINE_BYTES: Final = 8 * 1024
"""Longest reply line accepted, newline excluded."""
MAX_USAGE_LINES: Final = 64
"""Most lines inside one multi-line ``520-`` usage block."""

_ARGUMENT_NAME: Final = re.compile(r"agi_arg_([1-9][0-9]*)")
_COMMAND_NAME: Final = re.compile(r"[A-Z]+(?: [A-Z]+)*")
_FORBIDDEN_IN_ARGUMENT: Final = ("\n", "\r", "\x00")
_PREVIEW_CHARS: Final = 60


@dataclass(frozen=True, slots=True)
class Environment:
    """The ``agi_*`` block Asterisk sends first; ``agi_arg_N`` values also in `arguments`."""

    variables: Mapping[str, str]
    arguments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reply:
    """A ``200 result=<result> (<data>) <extra>`` reply to a command."""

    code: int
    result: str
    data: str = ""
    extra: str = ""


@dataclass(frozen=True, slots=True)
class CommandError:
    """A reply saying the command did not run (multi-line usage text joined by newlines)."""

    code: int
    message: str


@dataclass(frozen=True, slots=True)
class Hangup:
    """Asterisk's unsolicited notice that the channel hung up."""


@dataclass(frozen=True, slots=True)
class NeedData:
    """No complete event is buffered; feed more bytes."""


@dataclass(frozen=True, slots=True)
class EndOfStream:
    """The peer closed the connection cleanly between events."""


Event = Environment | Reply | CommandError | Hangup | NeedData | EndOfStream

NEED_DATA: Final = NeedData()
END_OF_STREAM: Final = EndOfStream()
HANGUP: Final = Hangup()


class _State(enum.Enum):
    HEADER = enum.auto()
    REPLIES = enum.auto()
    CLOSED = enum.auto()
    BROKEN = enum.auto()


class AgiConnection:
    """The server's side of one FastAGI connection, as a state machine without IO."""

    def __init__(
        self,
        *,
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_header_lines: int = MAX_HEADER_LINES,
        max_line_bytes: int = MAX_LINE_BYTES,
        max_usage_lines: int = MAX_USAGE_LINES,
    ) -> None:
        self._max_header_bytes = max_header_bytes
        self._max_header_lines = max_header_lines
        self._max_line_bytes = max_line_bytes
        self._max_usage_lines = max_usage_lines
        self._buffer = bytearray()
        self._scanned = 0
        self._eof = False
        self._state = _State.HEADER
        self._header_bytes = 0
        self._header: dict[str, str] = {}
        self._usage_code = 0
        self._usage: list[str] | None = None
        self._broken_because = ""

    def receive_data(self, data: bytes) -> None:
        """Add bytes read from the peer; ``b""`` says the peer closed its side."""
        if self._eof and data:
            msg = "receive_data() called with data after EOF"
            raise RuntimeError(msg)
        if data:
            self._buffer += data
        else:
            self._eof = True

    def next_event(self) -> Event:
        """The next complete event; `NeedData` when more bytes are needed."""
        if self._state is _State.BROKEN:
            raise AgiProtocolError(f"connection already broken: {self._broken_because}")
        try:
            return self._next_event()
        except AgiProtocolError as err:
            self._state = _State.BROKEN
            self._broken_because = str(err)
            raise

    def _next_event(self) -> Event:
        if self._state is _State.HEADER:
            environment = self._take_rest_of_header()
            if environment is not None:
                return environment
        while self._state is not _State.CLOSED:
            line = self._take_line()
            if line is None:
                return self._at_eof() if self._eof else NEED_DATA
            event = (
                self._on_header_line(line)
                if self._state is _State.HEADER
                else self._on_reply_line(line)
            )
            if event is not None:
                return event
        return END_OF_STREAM

    def _take_rest_of_header(self) -> Environment | None:
        """Fast path: the rest of the environment, up to its blank line, is buffered; one pass.

        Lines before it may have gone through the line-by-line path: Asterisk writes the
        environment a line at a time, so a read can end inside the block. The buffer starts
        at a line, so the block ends at a leading newline or at the first empty line after
        it. Falls back to that path (returns None) for a block not yet complete, over the
        byte cap, or holding CR characters; a line breaking a rule goes to the per-line rules,
        which raise the same error that path would.
        """
        buffer = self._buffer
        if buffer.startswith(b"\n"):
            end, taken = 0, 1
        else:
            end = buffer.find(b"\n\n")
            if end == -1:
                return None
            taken = end + 2
        if self._header_bytes + taken > self._max_header_bytes:
            return None
        text = _decode(buffer[:end])
        if "\r" in text:
            return None
        del buffer[:taken]
        self._scanned = 0
        header, limit = self._header, self._max_header_lines
        for line in text.split("\n") if end else ():
            name, colon, value = line.partition(":")
            if (
                not colon
                or len(header) >= limit
                or name in header
                or not name
                or " " in name
                or name != name.strip()
            ):
                self._add_header_line(line)  # raises, naming the rule the line breaks
            header[name] = value.removeprefix(" ")
        return self._finish_header()

    def _take_line(self) -> bytes | None:
        end = self._buffer.find(b"\n", self._scanned)
        if end < 0:
            self._scanned = len(self._buffer)
            self._check_size(len(self._buffer))
            return None
        self._check_size(end + 1)
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        self._scanned = 0
        if self._state is _State.HEADER:
            self._header_bytes += end + 1
        return line.removesuffix(b"\r")

    def _check_size(self, line_bytes: int) -> None:
        if self._state is _State.HEADER:
            if self._header_bytes + line_bytes > self._max_header_bytes:
                raise AgiProtocolError(
                    f"AGI environment larger than {self._max_header_bytes} bytes"
                )
        elif line_bytes > self._max_line_bytes + 1:
            raise AgiProtocolError(f"reply line longer than {self._max_line_bytes} bytes")

    def _at_eof(self) -> Event:
        if self._state is _State.HEADER and (self._buffer or self._header):
            raise AgiProtocolError(
                f"connection closed inside the AGI environment after {len(self._header)} lines"
            )
        if self._usage is not None:
            raise AgiProtocolError(f"connection closed inside a {self._usage_code}- usage block")
        if self._buffer:
            raise AgiProtocolError(
                "connection closed inside a reply line: " + _preview(_decode(self._buffer))
            )
        self._state = _State.CLOSED
        return END_OF_STREAM

    def _on_header_line(self, line: bytes) -> Event | None:
        if not line:
            return self._finish_header()
        self._add_header_line(_decode(line))
        return None

    def _add_header_line(self, text: str) -> None:
        number = len(self._header) + 1
        if number > self._max_header_lines:
            raise AgiProtocolError(f"AGI environment has more than {self._max_header_lines} lines")
        name, colon, value = text.partition(":")
        if not colon:
            raise AgiProtocolError(f"AGI environment line {number} has no ':': {_preview(text)}")
        if not name or name != name.strip() or " " in name:
            raise AgiProtocolError(
                f"AGI environment line {number} has a malformed name: {_preview(text)}"
            )
        if name in self._header:
            raise AgiProtocolError(f"AGI environment line {number} repeats {name!r}")
        self._header[name] = value.removeprefix(" ")

    def _finish_header(self) -> Environment:
        if not self._header:
            raise AgiProtocolError("AGI environment is empty")
        numbered: dict[int, str] = {}
        for name, value in self._header.items():
            match = _ARGUMENT_NAME.fullmatch(name) if name.startswith("agi_arg_") else None
            if match:
                numbered[int(match.group(1))] = value
        missing = sorted(set(range(1, len(numbered) + 1)) - numbered.keys())
        if missing:
            raise AgiProtocolError(f"AGI environment lacks agi_arg_{missing[0]}")
        arguments = tuple(numbered[index] for index in range(1, len(numbered) + 1))
        self._state = _State.REPLIES
        return Environment(variables=MappingProxyType(dict(self._header)), arguments=arguments)

    def _on_reply_line(self, line: bytes) -> Event | None:
        text = _decode(line)
        if self._usage is not None:
            return self._on_usage_line(text)
        if text == "HANGUP":
            return HANGUP
        code_text, separator, rest = text[:3], text[3:4], text[4:]
        if not (len(code_text) == 3 and code_text.isascii() and code_text.isdigit()):
            raise AgiProtocolError(f"unexpected line from Asterisk: {_preview(text)}")
        code = int(code_text)
        if separator == "-":
            self._usage_code = code
            self._usage = [rest]
            return None
        if separator not in {" ", ""}:
            raise AgiProtocolError(f"unexpected line from Asterisk: {_preview(text)}")
        if code == OK:
            return _parse_success(rest, text)
        return CommandError(code=code, message=rest)

    def _on_usage_line(self, text: str) -> Event | None:
        assert self._usage is not None
        closing = f"{self._usage_code} "
        if text.startswith(closing) or text == closing.rstrip():
            message = "\n".join([*self._usage, text[len(closing) :]])
            event = CommandError(code=self._usage_code, message=message)
            self._usage = None
            return event
        if len(self._usage) >= self._max_usage_lines:
            raise AgiProtocolError(
                f"{self._usage_code}- usage block longer than {self._max_usage_lines} lines"
            )
        self._usage.append(text)
        return None


def _parse_success(rest: str, text: str) -> Reply:
    if not rest.startswith("result="):
        raise AgiProtocolError(f"200 reply without result=: {_preview(text)}")
    result, _, remainder = rest.removeprefix("result=").partition(" ")
    remainder = remainder.strip()
    data = ""
    if remainder.startswith("("):
        close = remainder.rfind(")")
        if close < 0:
            raise AgiProtocolError(f"200 reply with unclosed '(': {_preview(text)}")
        data = remainder[1:close]
        remainder = remainder[close + 1 :].strip()
    return Reply(code=OK, result=result, data=data, extra=remainder)


def _decode(data: bytes | bytearray) -> str:
    return data.decode("utf-8", errors="replace")


def _preview(text: str) -> str:
    return repr(text[:_PREVIEW_CHARS])


def encode_command(name: str, *arguments: str) -> bytes:
    r"""One AGI command line: ``NAME "arg" ...\n`` with ``"`` and ``\`` escaped.

    Raises ValueError for a malformed name or an argument holding a newline or NUL,
    which AGI cannot carry.
    """
    if not _COMMAND_NAME.fullmatch(name):
        raise ValueError(f"AGI command name must be upper-case words: {name!r}")
    parts = [name]
    for argument in arguments:
        if any(bad in argument for bad in _FORBIDDEN_IN_ARGUMENT):
            raise ValueError(f"AGI argument cannot hold a newline or NUL: {argument!r}")
        escaped = argument.replace("\\", "\\\\").replace('"', '\\"')
        parts.append(f'"{escaped}"')
    return (" ".join(parts) + "\n").encode()


def encode_set_variable(name: str, value: str) -> bytes:
    r"""``SET VARIABLE "name" "value"\n``."""
    return encode_command("SET VARIABLE", name, value)
