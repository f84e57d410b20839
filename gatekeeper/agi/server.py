"""Asyncio FastAGI server: a thin loop around `AgiConnection`, with a deadline on every await.

Theory of operation
-------------------
Each accepted connection is one call, served by its own task:

1. read the AGI environment under ONE deadline for the whole block, so a peer that drips
   bytes or stalls is cut off like one that sends nothing;
2. ask the handler for the channel variables under a deadline; any `Exception` or a timeout
   fails closed to ``GK_DECISION=BLOCK``, ``GK_REASON=internal_error`` (and is logged);
3. send one ``SET VARIABLE`` per variable and read its reply under a deadline per command;
   an unsolicited ``HANGUP`` before the reply is noted and skipped; EOF ends the call;
4. close the socket in ``finally`` and wait for the close under a deadline.

A peer can only hurt its own task: protocol errors, timeouts and socket errors end that
call and are logged with the call's context. Past ``max_concurrent_connections`` new
connections are closed at once, which Asterisk reports as an AGI failure (the dialplan
fails closed). `close()` stops accepting, gives in-flight calls a grace period, then
cancels what is left. Each call ends with one canonical ``agi_call`` log line.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Self

import structlog
from structlog.contextvars import bound_contextvars

from gatekeeper.agi.protocol import (
    MAX_HEADER_BYTES,
    AgiConnection,
    CommandError,
    EndOfStream,
    Environment,
    Hangup,
    NeedData,
    Reply,
    encode_command,
    encode_set_variable,
)
from gatekeeper.errors import AgiProtocolError

READ_CHUNK_BYTES: Final = 64 * 1024
LISTEN_BACKLOG: Final = 1024
FAIL_CLOSED: Final[Mapping[str, str]] = MappingProxyType(
    {"GK_DECISION": "BLOCK", "GK_REASON": "internal_error"}
)

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class AgiLimits:
    """Deadlines (seconds) and caps that bound what one peer can cost the server."""

    header_timeout: float = 5.0
    handler_timeout: float = 2.0
    reply_timeout: float = 5.0
    close_timeout: float = 2.0
    shutdown_grace: float = 5.0
    max_header_bytes: int = MAX_HEADER_BYTES
    max_concurrent_connections: int = 1000

    def __post_init__(self) -> None:
        for name in ("header_timeout", "handler_timeout", "reply_timeout", "close_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"AgiLimits.{name} must be positive")
        if self.shutdown_grace < 0:
            raise ValueError("AgiLimits.shutdown_grace must not be negative")
        if self.max_header_bytes <= 0 or self.max_concurrent_connections <= 0:
            raise ValueError("AgiLimits caps must be positive")


@dataclass(frozen=True, slots=True)
class AgiRequest:
    """One call's question, taken from the AGI environment Asterisk sent."""

    script: str
    arguments: tuple[str, ...]
    channel: str
    uniqueid: str
    linkedid: str
    callerid: str
    environment: Mapping[str, str]
    peer: str

    @classmethod
    def from_environment(cls, environment: Environment, peer: str) -> AgiRequest:
        """Pick the fields the gatekeeper uses; a missing variable reads as ``""``."""
        variables = environment.variables
        return cls(
            script=variables.get("agi_network_script", ""),
            arguments=environment.arguments,
            channel=variables.get("agi_channel", ""),
            uniqueid=variables.get("agi_uniqueid", ""),
            linkedid=variables.get("agi_linkedid", ""),
            callerid=variables.get("agi_callerid", ""),
            environment=variables,
            peer=peer,
        )


AgiHandler = Callable[[AgiRequest], Awaitable[Mapping[str, str]]]
"""Answers one call with the channel variables to set, in order."""

_Answer = Reply | CommandError | EndOfStream

_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_+.:@/-]*")
SET_VARIABLE_SUCCESS = "1"
EXEC_SUCCESS = "0"


@dataclass(frozen=True, slots=True)
class _Command:
    """One AGI command to send, what it sets, and the `result=` that means it worked."""

    sets: str
    line: bytes
    success: str


def answer_commands(variables: Mapping[str, str], *, batch: bool = True) -> tuple[_Command, ...]:
    """The commands that set `variables` on the channel, in order.

    When every name and value is plain (no comma, quote, space or backslash), one
    `EXEC MSet a=1,b=2` sets them all in one round trip instead of one `SET VARIABLE` each: a
    quarter of the socket writes and wake-ups per call, on both sides. Anything else falls back
    to `SET VARIABLE`, which quotes safely.
    """
    if (
        batch
        and variables
        and all(
            _PLAIN_NAME.fullmatch(name) and _PLAIN_VALUE.fullmatch(value)
            for name, value in variables.items()
        )
    ):
        assignments = ",".join(f"{name}={value}" for name, value in variables.items())
        line = encode_command("EXEC", "MSet", assignments)
        return (_Command(",".join(variables), line, EXEC_SUCCESS),)
    return tuple(
        _Command(name, encode_set_variable(name, value), SET_VARIABLE_SUCCESS)
        for name, value in variables.items()
    )


class AgiServer:
    """Accepts FastAGI connections and answers each call with the handler's variables."""

    def __init__(
        self,
        handler: AgiHandler,
        host: str,
        port: int,
        *,
        limits: AgiLimits = AgiLimits(),
        batch_variables: bool = True,
    ) -> None:
        """Serve `handler` on host:port.

        `batch_variables` sets plain variables with one `EXEC MSet` (see `answer_commands`);
        False sends one `SET VARIABLE` per variable.
        """
        self._handler = handler
        self._batch_variables = batch_variables
        self._host = host
        self._requested_port = port
        self._limits = limits
        self._server: asyncio.Server | None = None
        self._calls: set[asyncio.Task[None]] = set()
        self._accepting = False

    @property
    def port(self) -> int:
        """The port actually bound (useful after asking for port 0)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("AgiServer.port read before start()")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        """Bind and start accepting calls."""
        if self._server is not None:
            raise RuntimeError("AgiServer.start() called twice")
        self._server = await asyncio.start_server(
            self._on_connection, self._host, self._requested_port, backlog=LISTEN_BACKLOG
        )
        self._accepting = True
        log.info("agi_listening", host=self._host, port=self.port)

    async def close(self) -> None:
        """Stop accepting, let in-flight calls finish within the grace period, then close."""
        if self._server is None:
            return
        self._accepting = False
        self._server.close()
        in_flight = set(self._calls)
        if in_flight:
            _, late = await asyncio.wait(in_flight, timeout=self._limits.shutdown_grace)
            for task in late:
                task.cancel()
            if late:
                log.warning("agi_calls_cancelled_at_shutdown", count=len(late))
                await asyncio.wait(late, timeout=self._limits.close_timeout)
        try:
            async with asyncio.timeout(self._limits.close_timeout):
                await self._server.wait_closed()
        except TimeoutError:
            log.warning("agi_server_close_timeout")
        self._server = None
        log.info("agi_closed")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        await self.close()

    def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer_name(writer)
        if not self._accepting or len(self._calls) >= self._limits.max_concurrent_connections:
            log.warning("agi_connection_refused", peer=peer, active=len(self._calls))
            writer.transport.abort()
            return
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer, peer))
        self._calls.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._calls.discard(task)
        if not task.cancelled() and (crash := task.exception()) is not None:
            log.error("agi_call_crashed", exc_info=crash)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        connection = AgiConnection(max_header_bytes=self._limits.max_header_bytes)
        try:
            request = await self._receive_request(connection, reader, peer)
            if request is not None:
                with bound_contextvars(channel=request.channel, uniqueid=request.uniqueid):
                    await self._answer(request, connection, reader, writer)
        finally:
            await self._close_writer(writer)

    async def _receive_request(
        self, connection: AgiConnection, reader: asyncio.StreamReader, peer: str
    ) -> AgiRequest | None:
        try:
            async with asyncio.timeout(self._limits.header_timeout):
                while True:
                    event = connection.next_event()
                    if isinstance(event, Environment):
                        return AgiRequest.from_environment(event, peer)
                    if isinstance(event, EndOfStream):
                        log.info("agi_closed_before_environment", peer=peer)
                        return None
                    connection.receive_data(await reader.read(READ_CHUNK_BYTES))
        except (AgiProtocolError, OSError) as err:
            _log_peer_failure("environment", peer, err)
            return None

    async def _answer(
        self,
        request: AgiRequest,
        connection: AgiConnection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        variables, commands = await self._decide(request)
        outcome = "answered"
        hung_up = False
        try:
            for command in commands:
                answer, hangup_seen = await self._exchange(command.line, connection, reader, writer)
                hung_up = hung_up or hangup_seen
                if isinstance(answer, EndOfStream):
                    outcome = "peer_closed"
                    break
                if isinstance(answer, CommandError) or answer.result != command.success:
                    outcome = "command_failed"
                    log.warning(
                        "agi_set_variable_failed", variable=command.sets, answer=repr(answer)
                    )
                    break
        except (AgiProtocolError, OSError) as err:
            _log_peer_failure("replies", request.peer, err)
            outcome = "peer_failed"
        report = log.debug if outcome == "answered" else log.warning
        report(
            "agi_call",
            script=request.script,
            peer=request.peer,
            outcome=outcome,
            hung_up=hung_up,
            duration_ms=round((loop.time() - started) * 1000, 3),
            variables=dict(variables),
        )

    async def _decide(self, request: AgiRequest) -> tuple[Mapping[str, str], tuple[_Command, ...]]:
        try:
            async with asyncio.timeout(self._limits.handler_timeout):
                variables = dict(await self._handler(request))
            commands = answer_commands(variables, batch=self._batch_variables)
        except TimeoutError:
            log.exception("agi_handler_timeout", timeout=self._limits.handler_timeout)
        except Exception:
            log.exception("agi_handler_failed")
        else:
            return variables, commands
        return FAIL_CLOSED, answer_commands(FAIL_CLOSED, batch=self._batch_variables)

    async def _exchange(
        self,
        command: bytes,
        connection: AgiConnection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> tuple[_Answer, bool]:
        hung_up = False
        async with asyncio.timeout(self._limits.reply_timeout):
            writer.write(command)
            await writer.drain()
            while True:
                event = connection.next_event()
                if isinstance(event, NeedData):
                    connection.receive_data(await reader.read(READ_CHUNK_BYTES))
                elif isinstance(event, Hangup):
                    hung_up = True
                elif isinstance(event, Reply | CommandError | EndOfStream):
                    return event, hung_up
                else:
                    raise AgiProtocolError("a second AGI environment arrived")

    async def _close_writer(self, writer: asyncio.StreamWriter) -> None:
        writer.close()
        try:
            async with asyncio.timeout(self._limits.close_timeout):
                await writer.wait_closed()
        except TimeoutError:
            writer.transport.abort()
        except OSError:
            pass


def _peer_name(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


def _log_peer_failure(stage: str, peer: str, err: Exception) -> None:
    if isinstance(err, AgiProtocolError):
        log.warning("agi_protocol_error", stage=stage, peer=peer, error=str(err))
    elif isinstance(err, TimeoutError):
        log.warning("agi_peer_timeout", stage=stage, peer=peer)
    else:
        log.warning("agi_connection_lost", stage=stage, peer=peer, error=repr(err))
