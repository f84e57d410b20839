"""Hostile and broken peers and handlers: each hurts only its own call, and calls fail closed."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Mapping

import pytest
from gatekeeper.agi.protocol import MAX_HEADER_BYTES
from gatekeeper.agi.server import AgiHandler, AgiLimits, AgiRequest, AgiServer
from structlog.testing import capture_logs

from agi_support import SAFETY_NET, place_call, recorded_environment
from agi_support import running as running_server

PATIENT = AgiLimits(header_timeout=SAFETY_NET * 2, reply_timeout=SAFETY_NET * 2)
"""Limits that never cut a stalled peer off while a test runs, so stalls stay in flight."""
ALLOW = {"GK_DECISION": "ALLOW", "GK_REASON": "not_listed"}
FAILED_CLOSED = [
    b'SET VARIABLE "GK_REASON" "internal_error"\n',
    b'SET VARIABLE "GK_DECISION" "BLOCK"\n',
]
"""The fail-closed answer, GK_DECISION last so one cut short leaves it unset."""


async def allow(request: AgiRequest) -> Mapping[str, str]:
    """A handler that allows every call."""
    return ALLOW


def held_handler() -> tuple[AgiHandler, asyncio.Event, asyncio.Event]:
    """A handler that allows once `release` is set; `entered` is set when a call reaches it."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def held(request: AgiRequest) -> Mapping[str, str]:
        entered.set()
        await release.wait()
        return ALLOW

    return held, entered, release


def running(
    handler: AgiHandler, limits: AgiLimits = PATIENT
) -> contextlib.AbstractAsyncContextManager[AgiServer]:
    """A started server that, by default, never cuts a stalled peer off during a test."""
    return running_server(handler, limits)


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    with contextlib.suppress(ConnectionResetError):
        return await reader.read()
    return b""


HALF_HEADER = b"agi_network: yes\nagi_network_script: check\nagi_chan"
OVERSIZE_HEADER = b"agi_network: yes\nagi_x: " + b"x" * MAX_HEADER_BYTES
GARBAGE = bytes(range(256)) * 4


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "hostile",
    [HALF_HEADER, OVERSIZE_HEADER, GARBAGE, b"\xe9\xe8\xe0\n\n"],
    ids=["closes_mid_header", "oversize_header", "garbage", "latin1_without_colon"],
)
async def test_broken_peer_is_dropped_and_honest_call_answered(hostile: bytes) -> None:
    """A peer sending a broken header (then EOF) is closed unanswered; the next call is answered."""
    async with running(allow) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(hostile)
        writer.write_eof()
        assert await read_until_closed(reader) == b""
        writer.close()
        assert len(await place_call(server.port, recorded_environment())) == len(ALLOW)


@pytest.mark.asyncio
async def test_stalled_peers_do_not_delay_an_honest_call() -> None:
    """Peers stalling mid-header stay connected while an honest call is answered."""
    async with running(allow) as server:
        stalled = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(20)]
        for _, writer in stalled:
            writer.write(HALF_HEADER)
            await writer.drain()
        answered = await place_call(server.port, recorded_environment())
        still_open = [not reader.at_eof() for reader, _ in stalled]
        for _, writer in stalled:
            writer.close()
    assert len(answered) == len(ALLOW)
    assert all(still_open)


async def hostile_peer(port: int, sent: bytes, *, close_after: bool) -> bytes:
    """Send `sent` (then EOF if asked); return what the server sent before closing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(sent)
        if close_after:
            writer.write_eof()
        return await read_until_closed(reader)
    finally:
        writer.close()


@pytest.mark.asyncio
async def test_crowd_of_hostile_peers_at_once_with_honest_calls() -> None:
    """Broken, stalled and Latin-1 peers all at once: the honest calls are answered meanwhile."""
    latin1 = recorded_environment().replace(b"Fran\xe7oise", b"\xc9lodie \xc0 c\xf4t\xe9")
    async with running(allow) as server:
        stalled = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(5)]
        for _, writer in stalled:
            writer.write(HALF_HEADER)
        broken = [
            asyncio.create_task(hostile_peer(server.port, HALF_HEADER, close_after=True)),
            asyncio.create_task(hostile_peer(server.port, OVERSIZE_HEADER, close_after=False)),
            asyncio.create_task(hostile_peer(server.port, GARBAGE, close_after=False)),
        ]
        honest = await asyncio.gather(
            place_call(server.port, recorded_environment()),
            place_call(server.port, latin1),
        )
        stalled_open = [not reader.at_eof() for reader, _ in stalled]
        broken_sent = await asyncio.gather(*broken)
        for _, writer in stalled:
            writer.close()
    assert [len(commands) for commands in honest] == [len(ALLOW), len(ALLOW)]
    assert all(stalled_open)
    assert broken_sent == [b"", b"", b""]


@pytest.mark.asyncio
async def test_peer_silent_after_connect_does_not_delay_an_honest_call() -> None:
    """A peer that connects and sends nothing does not hold up the next call."""
    async with running(allow) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        answered = await place_call(server.port, recorded_environment())
        silent_still_open = not reader.at_eof()
        writer.close()
    assert len(answered) == len(ALLOW)
    assert silent_still_open


@pytest.mark.asyncio
async def test_peer_that_never_replies_does_not_delay_an_honest_call() -> None:
    """A peer that takes a command and never answers it does not hold up other calls."""
    async with running(allow) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(recorded_environment())
        first = await reader.readline()
        answered = await place_call(server.port, recorded_environment())
        writer.close()
    assert first == b'SET VARIABLE "GK_DECISION" "ALLOW"\n'
    assert len(answered) == len(ALLOW)


@pytest.mark.asyncio
async def test_stalled_header_is_cut_at_the_deadline() -> None:
    """A peer that never finishes its header is disconnected once the header deadline passes."""
    limits = AgiLimits(header_timeout=0.2)
    async with running(allow, limits) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        with capture_logs() as logs:
            writer.write(HALF_HEADER)
            assert await read_until_closed(reader) == b""
        writer.close()
    assert [e["stage"] for e in logs if e["event"] == "agi_peer_timeout"] == ["environment"]


@pytest.mark.asyncio
async def test_missing_reply_is_cut_at_the_deadline() -> None:
    """A peer that never answers a command is disconnected once the reply deadline passes."""
    limits = AgiLimits(reply_timeout=0.2)
    async with running(allow, limits) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        with capture_logs() as logs:
            writer.write(recorded_environment())
            sent = await read_until_closed(reader)
        writer.close()
    assert sent == b'SET VARIABLE "GK_DECISION" "ALLOW"\n'
    assert [e["stage"] for e in logs if e["event"] == "agi_peer_timeout"] == ["replies"]


@pytest.mark.asyncio
async def test_garbage_reply_ends_the_call() -> None:
    """A reply that is not AGI ends the call with a logged protocol error."""
    async with running(allow) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        with capture_logs() as logs:
            writer.write(recorded_environment())
            await reader.readline()
            writer.write(b"\x00\xffnonsense\n")
            assert await read_until_closed(reader) == b""
        writer.close()
    assert [e["stage"] for e in logs if e["event"] == "agi_protocol_error"] == ["replies"]


class HandlerBugError(Exception):
    """Stands for any bug inside the decision path."""


async def raises(request: AgiRequest) -> Mapping[str, str]:
    """A handler with a bug."""
    raise HandlerBugError


async def hangs(request: AgiRequest) -> Mapping[str, str]:
    """A handler that never answers."""
    await asyncio.Event().wait()
    return ALLOW


async def newline_value(request: AgiRequest) -> Mapping[str, str]:
    """A handler whose answer AGI cannot carry."""
    return {"GK_DECISION": "ALLOW", "GK_REASON": "two\nlines"}


async def not_text(request: AgiRequest) -> Mapping[str, str]:
    """A handler that breaks its type contract at run time."""
    return {"GK_DECISION": 1}  # type: ignore[dict-item]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("handler", "logged"),
    [
        (raises, "agi_handler_failed"),
        (hangs, "agi_handler_timeout"),
        (newline_value, "agi_handler_failed"),
        (not_text, "agi_handler_failed"),
    ],
    ids=["raises", "times_out", "newline_in_value", "not_text"],
)
async def test_broken_handler_fails_closed(handler: AgiHandler, logged: str) -> None:
    """A handler that raises, hangs or answers badly gets BLOCK/internal_error, and is logged."""
    async with running(handler, AgiLimits(handler_timeout=0.2)) as server:
        with capture_logs() as logs:
            commands = await place_call(server.port, recorded_environment())
    assert commands == FAILED_CLOSED
    assert logged in [e["event"] for e in logs]


@pytest.mark.asyncio
async def test_handler_cancellation_is_not_swallowed() -> None:
    """A handler ending in CancelledError is not turned into an answer: the call gets none."""

    async def cancelled(request: AgiRequest) -> Mapping[str, str]:
        raise asyncio.CancelledError

    async with running(cancelled) as server:
        commands = await place_call(server.port, recorded_environment())
    assert commands == []


@pytest.mark.asyncio
async def test_connections_over_the_cap_are_closed_at_once() -> None:
    """Past max_concurrent_connections a new peer is closed unanswered; later calls work."""
    held, entered, release = held_handler()

    async with running(held, AgiLimits(max_concurrent_connections=1)) as server:
        first = asyncio.create_task(place_call(server.port, recorded_environment()))
        await entered.wait()
        with capture_logs() as logs:
            over = await place_call(server.port, recorded_environment())
        release.set()
        assert len(await first) == len(ALLOW)
        assert len(await place_call(server.port, recorded_environment())) == len(ALLOW)
    assert over == []
    assert [e["event"] for e in logs] == ["agi_connection_refused"]


@pytest.mark.asyncio
async def test_bug_inside_the_server_is_logged_and_the_call_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An unexpected error in the server's own code ends that call, closed and logged."""

    def broken(environment: object, peer: str) -> AgiRequest:
        raise RuntimeError("server bug")

    monkeypatch.setattr(AgiRequest, "from_environment", broken)
    async with running(allow) as server:
        with capture_logs() as logs:
            assert await place_call(server.port, recorded_environment()) == []
            await server.close()
    [crash] = [e for e in logs if e["event"] == "agi_call_crashed"]
    assert "server bug" in str(crash["exc_info"])


FLOOD_BYTES = 64 * 1024 * 1024
FLOOD_CHUNK = b"x" * (1024 * 1024)
BUFFERED_AT_MOST = 32 * 1024 * 1024
"""Far above the kernel's socket buffers on loopback (a few MB), far below the flood."""


@pytest.mark.asyncio
async def test_bytes_flooded_while_the_handler_runs_are_not_read_into_memory() -> None:
    """A peer that floods while its decision is pending is held back by the socket, not buffered."""
    held, entered, release = held_handler()

    async with running(held) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(recorded_environment())
        await entered.wait()
        sent = 0
        with contextlib.suppress(TimeoutError):
            while sent < FLOOD_BYTES:
                writer.write(FLOOD_CHUNK)
                async with asyncio.timeout(1.0):
                    await writer.drain()
                sent += len(FLOOD_CHUNK)
        release.set()
        await read_until_closed(reader)
        writer.transport.abort()
    assert sent < BUFFERED_AT_MOST


def reset_on_close(writer: asyncio.StreamWriter) -> None:
    """Make closing this client's socket send a reset, which the server reads as a lost link."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.mark.asyncio
async def test_a_call_whose_peer_hung_up_keeps_its_slot_until_its_decision_is_done() -> None:
    """A decision still being made after Asterisk hung up counts against the cap until done."""
    held, entered, release = held_handler()

    async with running(held, AgiLimits(max_concurrent_connections=1)) as server:
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(recorded_environment())
        await entered.wait()
        reset_on_close(writer)
        writer.transport.abort()
        await asyncio.sleep(0.05)
        while_deciding = await place_call(server.port, recorded_environment())
        release.set()
        async with asyncio.timeout(SAFETY_NET):
            while server.status().active:
                await asyncio.sleep(0.01)
        after = await place_call(server.port, recorded_environment())
    assert (while_deciding, len(after)) == ([], len(ALLOW))


@pytest.mark.asyncio
async def test_a_peer_resetting_mid_answer_is_logged_as_a_lost_connection() -> None:
    """A reset while the server waits for a reply ends that call as `agi_connection_lost`."""
    async with running(allow) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        with capture_logs() as logs:
            writer.write(recorded_environment())
            await reader.readline()
            reset_on_close(writer)
            writer.transport.abort()
            async with asyncio.timeout(SAFETY_NET):
                while server.status().active:
                    await asyncio.sleep(0.01)
    lost = [e for e in logs if e["event"] == "agi_connection_lost"]
    assert [(e["stage"], "ConnectionResetError" in e["error"]) for e in lost] == [("replies", True)]
