"""A manager peer that splits characters across reads or never ends a message."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from gatekeeper.ami.client import LINK_DOWN, MAX_MESSAGE_BYTES, AmiClient

from ami_support import EVENT_WAIT_S

pytestmark = [pytest.mark.asyncio]

CHANNEL = "Local/0470123456@d\u00e9mo-00000001;1"


class HostilePeer:
    """Answers the Login, then writes what the test hands it, as it is told to."""

    def __init__(self) -> None:
        self.writer: asyncio.StreamWriter | None = None
        self.logged_in = asyncio.Event()

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Greet, accept any Login, keep the writer for the test."""
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        request = await reader.readuntil(b"\r\n\r\n")
        action_id = next(
            line.partition(b": ")[2]
            for line in request.split(b"\r\n")
            if line.startswith(b"ActionID: ")
        )
        writer.write(b"Response: Success\r\nActionID: " + action_id + b"\r\n\r\n")
        await writer.drain()
        self.writer = writer
        self.logged_in.set()


@pytest_asyncio.fixture
async def peer() -> AsyncIterator[tuple[HostilePeer, int]]:
    """A fake manager on a loopback port."""
    hostile = HostilePeer()
    server = await asyncio.start_server(hostile.accept, "127.0.0.1", 0)
    yield hostile, server.sockets[0].getsockname()[1]
    if hostile.writer is not None:
        hostile.writer.close()
    server.close()
    await server.wait_closed()


async def test_a_character_split_across_two_reads_is_kept(peer: tuple[HostilePeer, int]) -> None:
    """An event whose UTF-8 character arrives in two TCP reads is read whole."""
    hostile, port = peer
    client = await AmiClient.connect("127.0.0.1", port, "u", "s", ping_interval=60)
    try:
        async with client.subscription() as events:
            await hostile.logged_in.wait()
            assert hostile.writer is not None
            wire = f"Event: Newchannel\r\nChannel: {CHANNEL}\r\n\r\n".encode()
            cut = wire.index("\u00e9".encode()) + 1
            hostile.writer.write(wire[:cut])
            await hostile.writer.drain()
            await asyncio.sleep(0.1)
            hostile.writer.write(wire[cut:])
            async with asyncio.timeout(EVENT_WAIT_S):
                event = await events.get()
                while event.name != "Newchannel":
                    event = await events.get()
    finally:
        await client.close()
    assert event.get("Channel") == CHANNEL


async def test_a_message_without_end_drops_the_link(peer: tuple[HostilePeer, int]) -> None:
    """A peer sending more than MAX_MESSAGE_BYTES without ending a message loses the link."""
    hostile, port = peer
    client = await AmiClient.connect("127.0.0.1", port, "u", "s", ping_interval=60)
    try:
        async with client.subscription() as events:
            await hostile.logged_in.wait()
            assert hostile.writer is not None
            hostile.writer.write(b"Event: Flood\r\nPadding: " + b"x" * (MAX_MESSAGE_BYTES + 1024))
            async with asyncio.timeout(EVENT_WAIT_S):
                event = await events.get()
                while event.name != LINK_DOWN:
                    event = await events.get()
    finally:
        await client.close()
