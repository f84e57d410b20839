"""An Asterisk-like FastAGI client and a running server, shared by the AGI server's tests.

The servers here send one `SET VARIABLE` per variable (batch_variables=False): these tests pin
that exchange; the batched default has its own test.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
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


_AS_USER = """
import asyncio, concurrent.futures.thread, encodings.idna, os, pwd, socket, sys
entry = pwd.getpwnam(sys.argv[1])
os.setgroups([])
os.setgid(entry.pw_gid)
os.setuid(entry.pw_uid)
port = int(sys.argv[2])
"""
_CALL = (
    _AS_USER
    + """
header, received = sys.stdin.buffer.read(), b""
try:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(header)
        for line in sock.makefile("rb"):
            received += line
            sock.sendall(sys.argv[3].encode())
except ConnectionResetError:
    pass
sys.stdout.buffer.write(received)
"""
)
_FLOOD = (
    _AS_USER
    + """
count, pause = int(sys.argv[3]), float(sys.argv[4])
tried = 0
async def hold(ready):
    global tried
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            reader = writer = None
        tried += 1
        if tried == count:
            ready.set()
        if reader is not None:
            try:
                await reader.read()
            except OSError:
                pass
            writer.close()
        await asyncio.sleep(pause)
async def main():
    ready = asyncio.Event()
    holders = [asyncio.create_task(hold(ready)) for _ in range(count)]
    await ready.wait()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(main())
"""
)


def call_as(user: str, port: int, header: bytes) -> bytes:
    """Send `header` from a process running as `user`, answer each command; return the commands.

    Runs in a child that drops to `user` before it opens its socket, so the socket is that
    user's (the child imports what it needs first: the interpreter's files may be unreadable
    to `user`). Blocking: from a test's event loop, call it in a thread.
    """
    done = subprocess.run(
        [sys.executable, "-I", "-c", _CALL, user, str(port), SET_VARIABLE_DONE.decode()],
        input=header,
        capture_output=True,
        timeout=SAFETY_NET,
        check=True,
    )
    return done.stdout


@contextlib.asynccontextmanager
async def flooding(
    user: str, port: int, connections: int, pause: float = 0.2
) -> AsyncIterator[None]:
    """`connections` idle connections held by `user`, each reopened `pause` s after it ends."""
    flood = await asyncio.create_subprocess_exec(
        *(sys.executable, "-I", "-c", _FLOOD, user, str(port), str(connections), str(pause)),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert flood.stdout is not None
    try:
        assert await flood.stdout.readline() == b"ready\n"
        yield
    finally:
        flood.kill()
        await flood.wait()
