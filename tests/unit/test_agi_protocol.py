"""The sans-IO FastAGI protocol: recorded sessions, caps, malformed input and the encoder."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from gatekeeper.agi.protocol import (
    MAX_HEADER_BYTES,
    MAX_HEADER_LINES,
    MAX_LINE_BYTES,
    MAX_USAGE_LINES,
    AgiConnection,
    CommandError,
    EndOfStream,
    Environment,
    Event,
    Hangup,
    NeedData,
    Reply,
    encode_command,
    encode_set_variable,
)
from gatekeeper.common.errors import AgiProtocolError
from hypothesis import given, settings
from hypothesis import strategies as st

SESSIONS = Path(__file__).resolve().parent.parent / "agi_sessions"
SESSION_NAMES = sorted(path.stem for path in SESSIONS.glob("*.agi"))
MINIMAL_HEADER = b"agi_network: yes\nagi_network_script: check\n\n"


def drain(connection: AgiConnection) -> list[Event]:
    """Every event available now, ending with the NeedData or EndOfStream that stopped it."""
    events: list[Event] = []
    while True:
        event = connection.next_event()
        events.append(event)
        if isinstance(event, NeedData | EndOfStream):
            return events


def feed(chunks: Iterable[bytes], *, eof: bool = True) -> list[Event]:
    """Feed chunks one at a time, collecting every event except the NeedData pauses."""
    connection = AgiConnection()
    events: list[Event] = []
    for chunk in chunks:
        connection.receive_data(chunk)
        events.extend(drain(connection))
    if eof:
        connection.receive_data(b"")
        events.extend(drain(connection))
    return [event for event in events if not isinstance(event, NeedData)]


def as_json(events: list[Event]) -> list[dict[str, Any]]:
    """Events in the shape of the `.events.json` files."""
    shaped = []
    for event in events:
        if isinstance(event, Environment):
            fields = {"variables": dict(event.variables), "arguments": list(event.arguments)}
        else:
            fields = asdict(event)
        shaped.append({"event": type(event).__name__, **fields})
    return shaped


def session(name: str) -> tuple[bytes, list[dict[str, Any]]]:
    """A recorded session's bytes and the events it must yield."""
    raw = (SESSIONS / f"{name}.agi").read_bytes()
    expected = json.loads((SESSIONS / f"{name}.events.json").read_text(encoding="utf-8"))
    return raw, expected


def one_error(data: bytes, *, eof: bool = False, bytewise: bool = False) -> AgiProtocolError:
    """The protocol error that feeding `data` (whole or byte by byte, then EOF) raises."""
    chunks = [data[i : i + 1] for i in range(len(data))] if bytewise else [data]
    with pytest.raises(AgiProtocolError) as caught:
        feed(chunks, eof=eof)
    return caught.value


def replies_to(lines: bytes) -> list[Event]:
    """Events for reply lines following a minimal environment, without EOF."""
    return feed([MINIMAL_HEADER + lines], eof=False)[1:]


def test_sessions_are_present() -> None:
    """The recorded sessions the table-driven tests iterate over exist."""
    assert SESSION_NAMES == ["check_allow", "hangup_before_reply", "usage_error"]


@pytest.mark.parametrize("name", SESSION_NAMES)
def test_session_fed_whole(name: str) -> None:
    """A recorded session fed in one chunk yields its recorded events."""
    raw, expected = session(name)
    assert as_json(feed([raw])) == expected


@pytest.mark.parametrize("name", SESSION_NAMES)
def test_session_fed_byte_by_byte(name: str) -> None:
    """A recorded session fed one byte at a time yields the same events."""
    raw, expected = session(name)
    assert as_json(feed([raw[i : i + 1] for i in range(len(raw))])) == expected


@pytest.mark.parametrize("name", SESSION_NAMES)
def test_session_with_trailing_partial_line(name: str) -> None:
    """Trailing bytes of an unfinished line leave the session's events intact and wait."""
    raw, expected = session(name)
    connection = AgiConnection()
    connection.receive_data(raw + b"200 resu")
    events = drain(connection)
    assert as_json(events[:-1]) == expected[:-1]
    assert isinstance(events[-1], NeedData)


@pytest.mark.parametrize("name", SESSION_NAMES)
@settings(deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=30))
def test_session_fed_in_any_chunks(name: str, cuts: list[int]) -> None:
    """However a recorded session is split into chunks, the events are the same."""
    raw, expected = session(name)
    bounds = [0, *sorted(c % (len(raw) + 1) for c in cuts), len(raw)]
    chunks = [raw[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    assert as_json(feed(chunks)) == expected


def test_latin1_caller_name_is_replaced_not_raised() -> None:
    """Latin-1 bytes in a value decode with U+FFFD instead of failing the call."""
    raw, _ = session("check_allow")
    environment = feed([raw])[0]
    assert isinstance(environment, Environment)
    assert environment.variables["agi_calleridname"] == "Fran\ufffdoise Dupr\ufffd"


def test_arguments_follow_their_numbers_not_line_order() -> None:
    """agi_arg_N values land in `arguments` by N, whatever order the lines came in."""
    header = b"".join(f"agi_arg_{n}: v{n}\n".encode() for n in (2, 10, 1, 3, 4, 5, 6, 7, 8, 9))
    environment = feed([header + b"\n"], eof=False)[0]
    assert isinstance(environment, Environment)
    assert environment.arguments == tuple(f"v{n}" for n in range(1, 11))


def test_environment_values_keep_inner_spaces_and_may_be_empty() -> None:
    """Only the one space after the colon is dropped; an empty value stays empty."""
    environment = feed([b"agi_calleridname: Jan  De Smet \nagi_accountcode: \n\n"], eof=False)[0]
    assert isinstance(environment, Environment)
    assert dict(environment.variables) == {
        "agi_calleridname": "Jan  De Smet ",
        "agi_accountcode": "",
    }


def test_crlf_line_endings_are_accepted() -> None:
    """Lines ending in CRLF parse like lines ending in LF."""
    events = feed([b"agi_network: yes\r\n\r\n200 result=1\r\n"])
    assert events == [
        Environment(variables={"agi_network": "yes"}, arguments=()),
        Reply(code=200, result="1"),
        EndOfStream(),
    ]


def test_mixed_line_endings_read_like_lf() -> None:
    """An environment mixing CRLF and LF line ends keeps no CR in its values."""
    environment = feed([b"agi_a: 1\r\nagi_b: 2\n\n"], eof=False)[0]
    assert isinstance(environment, Environment)
    assert dict(environment.variables) == {"agi_a": "1", "agi_b": "2"}


def test_environment_variables_are_read_only() -> None:
    """The environment mapping handed to the server cannot be changed behind its back."""
    environment = feed([MINIMAL_HEADER], eof=False)[0]
    assert isinstance(environment, Environment)
    with pytest.raises(TypeError):
        environment.variables["agi_network"] = "no"  # type: ignore[index]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"200 result=1", Reply(200, "1")),
        (b"200 result=0", Reply(200, "0")),
        (b"200 result=-1", Reply(200, "-1")),
        (b"200 result=1 (timeout)", Reply(200, "1", data="timeout")),
        (b"200 result=1 (a (b) c)", Reply(200, "1", data="a (b) c")),
        (b"200 result=-1 endpos=1234", Reply(200, "-1", extra="endpos=1234")),
        (b"200 result=49 (dtmf) endpos=8000", Reply(200, "49", data="dtmf", extra="endpos=8000")),
        (b"510 Invalid or unknown command", CommandError(510, "Invalid or unknown command")),
        (
            b"511 Command Not Permitted on a dead channel or intercept routine",
            CommandError(511, "Command Not Permitted on a dead channel or intercept routine"),
        ),
        (
            b"520 Invalid command syntax.  Proper usage not available.",
            CommandError(520, "Invalid command syntax.  Proper usage not available."),
        ),
        (b"520", CommandError(520, "")),
        (b"200 result=1 (a)b", Reply(200, "1", data="a", extra="b")),
        (b"HANGUP", Hangup()),
    ],
)
def test_reply_lines(line: bytes, expected: Event) -> None:
    """Each reply form Asterisk writes becomes its typed event."""
    assert replies_to(line + b"\n") == [expected]


def test_usage_block_is_one_event_even_when_fed_byte_by_byte() -> None:
    """A 520- block yields nothing until its closing line, then one CommandError."""
    block = (
        b"520-Invalid command syntax.  Proper usage follows:\nUsage: X\n520 End of proper usage.\n"
    )
    connection = AgiConnection()
    connection.receive_data(MINIMAL_HEADER)
    drain(connection)
    events: list[Event] = []
    for i in range(len(block)):
        connection.receive_data(block[i : i + 1])
        events.extend(e for e in drain(connection) if not isinstance(e, NeedData))
    assert events == [
        CommandError(
            520,
            "Invalid command syntax.  Proper usage follows:\nUsage: X\nEnd of proper usage.",
        )
    ]


def test_usage_block_closed_by_a_bare_code() -> None:
    """A 520- block ended by a bare `520` line is one CommandError, its last line empty."""
    assert replies_to(b"520-Invalid\nUsage: X\n520\n") == [CommandError(520, "Invalid\nUsage: X\n")]


def test_hangup_before_reply_then_reply() -> None:
    """An unsolicited HANGUP is its own event and the reply after it is still read."""
    assert replies_to(b"HANGUP\n200 result=1\n") == [Hangup(), Reply(200, "1")]


def test_eof_before_any_byte_is_a_clean_end() -> None:
    """A peer that connects and closes without a byte ends the stream cleanly."""
    assert feed([]) == [EndOfStream()]


def test_end_of_stream_repeats() -> None:
    """After EndOfStream the connection keeps answering EndOfStream."""
    connection = AgiConnection()
    connection.receive_data(b"")
    assert [connection.next_event() for _ in range(3)] == [EndOfStream()] * 3


def test_data_after_eof_is_a_caller_bug() -> None:
    """Feeding bytes after EOF is a programming error, not a peer error."""
    connection = AgiConnection()
    connection.receive_data(b"")
    with pytest.raises(RuntimeError, match=r"^receive_data\(\) called with data after EOF$"):
        connection.receive_data(b"x")


@pytest.mark.parametrize(
    ("data", "eof", "message"),
    [
        (
            b"agi_network: yes\nagi_chan",
            True,
            "connection closed inside the AGI environment after 1 lines",
        ),
        (b"agi_network: yes\n", True, "connection closed inside the AGI environment"),
        (b"agi_network: yes\nno colon here\n", False, "AGI environment line 2 has no ':'"),
        (b"agi_network: yes\nno colon here\n\n", False, "AGI environment line 2 has no ':'"),
        (b"agi_a: 1\nagi_a: 2\n\n", False, "AGI environment line 2 repeats 'agi_a'"),
        (b"agi_a: 1\r\n\r\n\r\n", False, "unexpected line from Asterisk"),
        (b"\x00\xff\xfe garbage\n", False, "AGI environment line 1 has no ':'"),
        (b"\n", False, "AGI environment is empty"),
        (b"\n\nagi_a: 1\n\n", False, "AGI environment is empty"),
        (b"\nagi_a: 1\n\n", False, "AGI environment is empty"),
        (b"\r\n\n", False, "AGI environment is empty"),
        (b"agi x: 1\n", False, "AGI environment line 1 has a malformed name"),
        (b": 1\n", False, "AGI environment line 1 has a malformed name"),
        (b"agi_a: 1\nagi_a: 2\n", False, "AGI environment line 2 repeats 'agi_a'"),
        (b"agi_arg_1: a\nagi_arg_3: c\n\n", False, "AGI environment lacks agi_arg_2"),
        (b"agi_arg_2: b\n\n", False, "AGI environment lacks agi_arg_1"),
        (MINIMAL_HEADER + b"200 result=1 (unclosed\n", False, "200 reply with unclosed '('"),
        (MINIMAL_HEADER + b"200 ok\n", False, "200 reply without result="),
        (MINIMAL_HEADER + b"hello\n", False, "unexpected line from Asterisk: 'hello'"),
        (MINIMAL_HEADER + b"2000 result=1\n", False, "unexpected line from Asterisk"),
        (MINIMAL_HEADER + b"\n", False, "unexpected line from Asterisk"),
        (MINIMAL_HEADER + b"\xb2\xb2\xb2 x\n", False, "unexpected line from Asterisk"),
        (MINIMAL_HEADER + b"200 result=1", True, "connection closed inside a reply line"),
        (
            MINIMAL_HEADER + b"520-Invalid\nUsage\n",
            True,
            "connection closed inside a 520- usage block",
        ),
    ],
)
@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "byte_by_byte"])
def test_protocol_errors_name_the_rule(
    data: bytes, eof: bool, message: str, bytewise: bool
) -> None:
    """Malformed input raises AgiProtocolError naming the broken rule first, however it is fed."""
    assert str(one_error(data, eof=eof, bytewise=bytewise)).startswith(message)


def test_header_cap_applies_before_a_newline_arrives() -> None:
    """An environment growing past the byte cap fails even while its line is unfinished."""
    error = one_error(b"agi_x: " + b"a" * MAX_HEADER_BYTES)
    assert f"larger than {MAX_HEADER_BYTES} bytes" in str(error)


def test_header_cap_counts_the_whole_block() -> None:
    """Many short lines adding up past the byte cap fail."""
    lines = b"".join(b"agi_%04d: %s\n" % (n, b"v" * 100) for n in range(200))
    assert f"larger than {MAX_HEADER_BYTES} bytes" in str(one_error(lines))


@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "byte_by_byte"])
def test_header_exactly_at_the_cap_is_accepted(bytewise: bool) -> None:
    """An environment of exactly the cap, blank line included, is accepted however it is fed."""
    line = b"agi_a: 1\nagi_x: "
    data = line + b"a" * (MAX_HEADER_BYTES - len(line) - 2) + b"\n\n"
    chunks = [data[i : i + 1] for i in range(len(data))] if bytewise else [data]
    events = feed(chunks, eof=False)
    assert isinstance(events[0], Environment)


def test_header_cap_counts_every_read() -> None:
    """An environment over the cap fails even when no single read is over it."""
    first = b"agi_a: 1\n"
    second = b"agi_x: " + b"a" * (MAX_HEADER_BYTES - 10) + b"\n\n"
    with pytest.raises(AgiProtocolError, match=f"larger than {MAX_HEADER_BYTES} bytes"):
        feed([first, second], eof=False)


@pytest.mark.parametrize(
    ("rest", "message"),
    [
        (b"agi_b: 2\nagi_a: 3\n\n", "AGI environment line 3 repeats 'agi_a'"),
        (b"agi_b: 2\nno colon\n\n", "AGI environment line 3 has no ':'"),
        (
            b"".join(b"a%d:\n" % n for n in range(MAX_HEADER_LINES)) + b"\n",
            f"more than {MAX_HEADER_LINES} lines",
        ),
    ],
)
def test_rest_of_an_environment_after_a_partial_read_keeps_the_rules(
    rest: bytes, message: str
) -> None:
    """The lines after a read that ended inside the environment are checked, numbered on."""
    with pytest.raises(AgiProtocolError, match=message):
        feed([b"agi_a: 1\n", rest], eof=False)


def test_complete_header_over_the_cap_in_one_read_fails() -> None:
    """A whole environment one byte over the cap, blank line included, fails even in one read."""
    line = b"agi_x: "
    padding = MAX_HEADER_BYTES - len(line) - 2
    error = one_error(line + b"a" * (padding + 1) + b"\n\n")
    assert f"larger than {MAX_HEADER_BYTES} bytes" in str(error)


def outcome(chunks: Iterable[bytes]) -> tuple[list[Event], str]:
    """The events feeding `chunks` then EOF yields, and the protocol error it ends with, if any."""
    connection = AgiConnection()
    events: list[Event] = []
    try:
        for chunk in [*chunks, b""]:
            connection.receive_data(chunk)
            event = connection.next_event()
            while not isinstance(event, NeedData | EndOfStream):
                events.append(event)
                event = connection.next_event()
    except AgiProtocolError as error:
        return events, str(error)
    return events, ""


@pytest.mark.parametrize("name", SESSION_NAMES)
def test_session_split_in_two_at_every_byte(name: str) -> None:
    """A recorded session cut into two reads at any byte yields its recorded events."""
    raw, expected = session(name)
    for cut in range(1, len(raw)):
        assert as_json(feed([raw[:cut], raw[cut:]])) == expected, f"cut at byte {cut}"


ENVIRONMENT_LINES = st.one_of(
    st.sampled_from([b"", b"\r"]),
    st.sampled_from(
        [
            b"agi_a: 1",
            b"agi_b: 2",
            b"agi_arg_1: x",
            b"agi_arg_2: y",
            b"agi_c:",
            b"agi_d: caf\xe9",
            b"agi_e",
            b": 3",
            b"agi f: 4",
            b"\tagi_g: 5",
            b"agi_h : 6",
            b"200 result=1",
        ]
    ),
)
"""Environment lines, good and bad, with blank and lone-CR lines drawn as often as all others."""
LINE_ENDINGS = st.sampled_from([b"\n", b"\n", b"\n", b"\r\n"])
"""Mostly LF, as Asterisk writes, so that CR-free blocks the one-pass path takes are common."""


@settings(deadline=None)
@given(
    lines=st.lists(st.tuples(ENVIRONMENT_LINES, LINE_ENDINGS), max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=6),
)
def test_environment_in_any_chunks_reads_as_in_one_piece(
    lines: list[tuple[bytes, bytes]], cuts: list[int]
) -> None:
    """Any environment, good or not, yields the same events and error in chunks as whole."""
    data = b"".join(line + ending for line, ending in lines) + b"\n"
    whole = outcome([data])
    for cut in range(1, len(data)):
        assert outcome([data[:cut], data[cut:]]) == whole, f"cut at byte {cut}"
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    assert outcome([data[a:b] for a, b in itertools.pairwise(bounds) if b > a]) == whole


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"agi_b", "AGI environment line 2 has no ':'"),
        (b": 2", "AGI environment line 2 has a malformed name"),
        (b"agi b: 2", "AGI environment line 2 has a malformed name"),
        (b"\tagi_b: 2", "AGI environment line 2 has a malformed name"),
        (b"agi_b\t: 2", "AGI environment line 2 has a malformed name"),
        (b"agi_a: 2", "AGI environment line 2 repeats 'agi_a'"),
    ],
)
@pytest.mark.parametrize("split", [False, True], ids=["one_read", "second_read"])
def test_bad_line_in_a_complete_block(line: bytes, message: str, *, split: bool) -> None:
    """A bad line in a whole buffered block, in the first read or a later one, is refused."""
    first = b"agi_a: 1\n"
    rest = line + b"\n\n"
    events, error = outcome([first, rest] if split else [first + rest])
    assert events == []
    assert error.startswith(message)


def test_crlf_blank_line_followed_by_a_bare_newline_ends_the_environment() -> None:
    """A CRLF blank line opening a read ends the environment, though an LF line follows it."""
    events, error = outcome([b"agi_a: 1\n", b"\r\n\n"])
    assert events == [Environment(variables={"agi_a": "1"}, arguments=())]
    assert error == "unexpected line from Asterisk: ''"


def test_empty_usage_line_after_a_read_opening_with_the_blank_line() -> None:
    """An empty line in a usage block read with the environment's blank line is usage text."""
    usage = b"520-Invalid syntax.\nUsage: SET VARIABLE\n\nSets it.\n520 End of usage.\n"
    events = feed([b"agi_a: 1\n", b"\n" + usage], eof=False)
    assert events == [
        Environment(variables={"agi_a": "1"}, arguments=()),
        CommandError(520, "Invalid syntax.\nUsage: SET VARIABLE\n\nSets it.\nEnd of usage."),
    ]


def padded_to_cap(first: bytes, extra: int) -> bytes:
    """A last environment line and blank line making `first` plus it the cap plus `extra`."""
    return b"agi_x: " + b"a" * (MAX_HEADER_BYTES - len(first) - 9 + extra) + b"\n\n"


def test_header_exactly_at_the_cap_in_a_second_read_is_accepted() -> None:
    """An environment of exactly the cap whose last line comes in a second read is accepted."""
    first = b"agi_a: 1\n"
    events, _ = outcome([first, padded_to_cap(first, 0)])
    assert isinstance(events[0], Environment)


def test_header_one_byte_over_the_cap_in_a_second_read_fails() -> None:
    """An environment one byte over the cap whose last line comes in a second read fails."""
    first = b"agi_a: 1\n"
    _, error = outcome([first, padded_to_cap(first, 1)])
    assert error == f"AGI environment larger than {MAX_HEADER_BYTES} bytes"


def test_unfinished_header_line_exactly_at_the_cap_waits() -> None:
    """A header line not yet ended that fills the byte cap exactly waits for more bytes."""
    assert feed([b"agi_x: " + b"a" * (MAX_HEADER_BYTES - 7)], eof=False) == []


def test_header_line_count_at_the_cap_with_the_blank_line_read_later() -> None:
    """Exactly the capped number of lines, read line by line, is accepted."""
    lines = b"".join(b"a%d:\n" % n for n in range(MAX_HEADER_LINES))
    environment = feed([lines, b"\n"], eof=False)[0]
    assert isinstance(environment, Environment)
    assert len(environment.variables) == MAX_HEADER_LINES


@pytest.mark.parametrize("ending", [b"", b"\n"], ids=["unfinished", "complete_block"])
def test_header_line_count_cap(ending: bytes) -> None:
    """More environment lines than the cap fail, however short."""
    lines = b"".join(b"a%d:\n" % n for n in range(MAX_HEADER_LINES + 1))
    assert f"more than {MAX_HEADER_LINES} lines" in str(one_error(lines + ending))


def test_header_line_count_at_the_cap_is_accepted() -> None:
    """Exactly the capped number of environment lines is accepted."""
    lines = b"".join(b"a%d:\n" % n for n in range(MAX_HEADER_LINES))
    environment = feed([lines + b"\n"], eof=False)[0]
    assert isinstance(environment, Environment)
    assert len(environment.variables) == MAX_HEADER_LINES


def test_reply_line_cap_applies_before_a_newline_arrives() -> None:
    """A reply line growing past the cap fails without waiting for its newline."""
    error = one_error(MINIMAL_HEADER + b"200 result=1 (" + b"x" * MAX_LINE_BYTES)
    assert f"longer than {MAX_LINE_BYTES} bytes" in str(error)


def test_reply_line_at_the_cap_is_accepted() -> None:
    """A reply line of exactly the cap is read."""
    line = b"200 result=1 ("
    line += b"x" * (MAX_LINE_BYTES - len(line) - 1) + b")"
    assert replies_to(line + b"\n") == [Reply(200, "1", data="x" * (MAX_LINE_BYTES - 15))]


def test_reply_line_one_byte_over_the_cap_fails() -> None:
    """A complete reply line one byte longer than the cap fails."""
    line = b"200 result=1 ("
    line += b"x" * (MAX_LINE_BYTES - len(line)) + b")"
    assert f"longer than {MAX_LINE_BYTES} bytes" in str(one_error(MINIMAL_HEADER + line + b"\n"))


def test_usage_block_line_cap() -> None:
    """A 520- block that never closes fails once it exceeds the line cap."""
    block = b"520-x\n" + b"usage\n" * MAX_USAGE_LINES
    assert f"longer than {MAX_USAGE_LINES} lines" in str(one_error(MINIMAL_HEADER + block))


def test_broken_connection_stays_broken() -> None:
    """After a protocol error every later call raises too, even with good bytes."""
    connection = AgiConnection()
    connection.receive_data(b"garbage\n")
    with pytest.raises(AgiProtocolError):
        connection.next_event()
    connection.receive_data(b"agi_network: yes\n\n")
    with pytest.raises(AgiProtocolError, match=r"already broken: .*no ':'"):
        connection.next_event()


@settings(deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_protocol_errors(data: bytes) -> None:
    """Whatever a peer sends, the parser yields events or raises AgiProtocolError."""
    for prefix in (b"", MINIMAL_HEADER):
        connection = AgiConnection()
        connection.receive_data(prefix + data)
        connection.receive_data(b"")
        with contextlib.suppress(AgiProtocolError):
            drain(connection)


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("SET VARIABLE", ("GK_DECISION", "ALLOW"), b'SET VARIABLE "GK_DECISION" "ALLOW"\n'),
        ("SET VARIABLE", ("GK_REASON", ""), b'SET VARIABLE "GK_REASON" ""\n'),
        ("SET VARIABLE", ("X", 'say "hi"'), b'SET VARIABLE "X" "say \\"hi\\""\n'),
        ("SET VARIABLE", ("X", "a\\b"), b'SET VARIABLE "X" "a\\\\b"\n'),
        ("SET VARIABLE", ("X", "Fran\u00e7oise"), b'SET VARIABLE "X" "Fran\xc3\xa7oise"\n'),
        ("ANSWER", (), b"ANSWER\n"),
    ],
)
def test_encode_command(name: str, arguments: tuple[str, ...], expected: bytes) -> None:
    """Commands are upper-case words followed by quoted, escaped UTF-8 arguments."""
    assert encode_command(name, *arguments) == expected


def test_encode_set_variable() -> None:
    """encode_set_variable is SET VARIABLE with the name and value quoted."""
    assert encode_set_variable("GK_DECISION", "BLOCK") == b'SET VARIABLE "GK_DECISION" "BLOCK"\n'


@pytest.mark.parametrize("value", ["two\nlines", "carriage\rreturn", "nul\x00byte"])
def test_encode_refuses_line_breaks_and_nul(value: str) -> None:
    """An argument AGI cannot carry is refused instead of splitting the command."""
    with pytest.raises(ValueError, match="newline or NUL"):
        encode_command("SET VARIABLE", "X", value)


@pytest.mark.parametrize("name", ["", "set variable", "SET  VARIABLE", "SET VARIABLE\n", "EXEC;"])
def test_encode_refuses_malformed_command_names(name: str) -> None:
    """A command name that is not upper-case words is refused."""
    with pytest.raises(ValueError, match="upper-case words"):
        encode_command(name)


def asterisk_parse_args(line: str) -> list[str]:
    """Split a command line the way res_agi's parse_args does (quotes and backslash escapes)."""
    arguments: list[str] = []
    current: list[str] | None = None
    quoted = escaped = False
    for char in line.rstrip("\n"):
        if escaped:
            current = [*(current or []), char]
            escaped = False
        elif char == "\\":
            escaped = True
            current = current or []
        elif char == '"':
            quoted = not quoted
            current = current or []
        elif char in " \t" and not quoted:
            if current is not None:
                arguments.append("".join(current))
            current = None
        else:
            current = [*(current or []), char]
    if current is not None:
        arguments.append("".join(current))
    return arguments


@settings(deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_characters="\n\r\x00", codec="utf-8")),
        max_size=4,
    )
)
def test_encoded_arguments_survive_asterisk_parsing(arguments: list[str]) -> None:
    """Any argument without a line break reaches Asterisk exactly as given."""
    line = encode_command("SET VARIABLE", *arguments).decode()
    assert asterisk_parse_args(line) == ["SET", "VARIABLE", *arguments]
