"""The shipped subroutine fails closed against a real Asterisk when the gatekeeper misbehaves."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator

import pytest
from tools.asterisk_sandbox import DEFAULT_ROOT, READY_MARK, AsteriskSandbox, free_port
from tools.calls import CallSpec, PlacedCall, place_through

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

Peer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
def sandbox() -> Iterator[AsteriskSandbox]:
    """A real Asterisk whose gatekeeper-check points at a port the test controls."""
    if not (DEFAULT_ROOT / READY_MARK).exists():
        pytest.fail("the Asterisk sandbox is not installed: run `make asterisk`")
    with AsteriskSandbox(agi_port=free_port(), agi_timeout_s=2) as running:
        yield running


async def _call_through(sandbox: AsteriskSandbox, peer: Peer) -> PlacedCall:
    writers: list[asyncio.StreamWriter] = []

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await peer(reader, writer)

    server = await asyncio.start_server(tracked, "127.0.0.1", sandbox.agi_port)
    try:
        [call] = await place_through(sandbox, [CallSpec("0470999999", "spring-promo")])
    finally:
        server.close()
        for writer in writers:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        await server.wait_closed()
    return call


async def _read_environment(reader: asyncio.StreamReader) -> None:
    while (await reader.readline()).strip():
        pass


async def test_stalled_gatekeeper_never_lets_the_call_out(sandbox: AsteriskSandbox) -> None:
    """A gatekeeper that accepts and never answers: the call ends without reaching the trunk."""

    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_environment(reader)
        await reader.read()
        writer.close()

    call = await _call_through(sandbox, stall)
    assert (call.ended, call.reached_trunk, call.decision) == (True, False, "")


async def test_unknown_decision_value_is_a_block(sandbox: AsteriskSandbox) -> None:
    """A GK_DECISION other than ALLOW or BLOCK is treated as BLOCK internal_error."""

    async def confused(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_environment(reader)
        writer.write(b'SET VARIABLE GK_DECISION "MAYBE"\n')
        await writer.drain()
        await reader.readline()
        writer.close()

    call = await _call_through(sandbox, confused)
    assert (call.decision, call.reason, call.reached_trunk) == ("BLOCK", "internal_error", False)


async def test_garbage_from_gatekeeper_is_a_block(sandbox: AsteriskSandbox) -> None:
    """A peer that answers garbage and closes leaves the call blocked."""

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_environment(reader)
        writer.write(b"\xff\xfe HELLO THERE\n\n")
        await writer.drain()
        writer.close()

    call = await _call_through(sandbox, garbage)
    assert (call.decision, call.reached_trunk) == ("BLOCK", False)


async def test_allow_without_decision_id_is_a_block(sandbox: AsteriskSandbox) -> None:
    """An ALLOW without the id of its record is not proof of a check: the call is blocked."""

    async def unrecorded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_environment(reader)
        writer.write(b'SET VARIABLE GK_DECISION "ALLOW"\n')
        await writer.drain()
        await reader.readline()
        writer.close()

    call = await _call_through(sandbox, unrecorded)
    assert (call.decision, call.reason, call.reached_trunk) == ("BLOCK", "internal_error", False)


async def test_srv_name_that_is_not_a_name_is_a_block(sandbox: AsteriskSandbox) -> None:
    """A GATEKEEPER_AGI_SRV with a port (not a DNS name) blocks the call before any AGI."""
    asked: list[int] = []

    async def allow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        asked.append(1)
        await _read_environment(reader)
        writer.write(b'EXEC MSet "GK_DECISION_ID=0000000000000,GK_DECISION=ALLOW"\n')
        await writer.drain()
        await reader.readline()
        writer.close()

    sandbox.cli(f"dialplan set global GATEKEEPER_AGI_SRV 127.0.0.1:{sandbox.agi_port}")
    call = await _call_through(sandbox, allow)
    assert (call.decision, call.reason, call.reached_trunk, asked) == (
        "BLOCK",
        "internal_error",
        False,
        [],
    )
