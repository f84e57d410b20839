"""An Asterisk-like FastAGI client and a running server, shared by the AGI server's tests.

The servers here send one `SET VARIABLE` per variable (batch_variables=False): these tests pin
that exchange; the batched default has its own test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from gatekeeper.agi.codes import OK, SET_VARIABLE_SUCCESS
from gatekeeper.agi.server import AgiHandler, AgiLimits, AgiServer

SESSIONS = Path(__file__).resolve().parent / "agi_sessions"
CHECK_SCRIPT = "check"
"""The script the recorded sessions ask for (``agi_network_script``)."""
SET_VARIABLE_DONE = f"{OK} result={SET_VARIABLE_SUCCESS}\n".encode()
SAFETY_NET = 30.0
"""Seconds before a hung test fails instead of hanging the suite; never a measured figure."""


def recorded_environment(name: str = "check_allow") -> bytes:
    """The environment block of a recorded Asterisk session."""
    raw = (SESSIONS / f"{name}.agi").read_bytes()
    return raw[: raw.index(b"\n\n") + 2]


async def place_call(
    port: int, header: bytes, *, before_reply: bytes = b"", reply: bytes = SET_VARIABLE_DONE
) -> list[bytes]:
    """Send `header`, answer every command like Asterisk, return the commands in order."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    commands: list[bytes] = []
    try:
        writer.write(header)
        while line := await reader.readline():
            commands.append(line)
            writer.write(before_reply + reply)
            await writer.drain()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return commands


@contextlib.asynccontextmanager
async def running(handler: AgiHandler, limits: AgiLimits | None = None) -> AsyncIterator[AgiServer]:
    """A started server on an ephemeral loopback port, closed afterwards."""
    server = AgiServer(
        {CHECK_SCRIPT: handler}, "127.0.0.1", 0, limits=limits or AgiLimits(), batch_variables=False
    )
    async with asyncio.timeout(SAFETY_NET), server:
        yield server
