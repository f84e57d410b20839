"""Asyncio FastAGI server: a thin loop around `AgiConnection`, with a deadline on every await.

Theory of operation
-------------------
Each accepted connection is checked before a byte is read (`_on_connection`):

* the peer must be allowed (`PeerGate`: on loopback, the user owning the peer's socket; else
  the peer's address), so only Asterisk can ask about a number or make a decision be recorded;
* it must fit under `max_concurrent_connections` and, counted under its peer key (a uid on
  loopback, an address elsewhere), under `max_connections_per_peer`, so one peer that holds
  idle connections cannot take every slot.

A refused connection is aborted unanswered and counted in `Refusals` (by reason, logged at a
bounded rate; a refusal at a cap marks the server saturated for the health check). Asterisk
reports the abort as an AGI failure, and the dialplan fails closed.

An admitted connection is one call, served by its own task:

1. read the AGI environment under ONE deadline for the whole block (`header_timeout`, half a
   second by default: Asterisk sends the block at once on connect), so a peer that drips bytes
   or stays silent gives its slot back quickly; such endings are refusals too;
2. look the requested script up among the handlers: an unknown script gets
   ``GK_DECISION=BLOCK``, ``GK_REASON=internal_error`` without any handler running;
3. ask the handler for the channel variables under a deadline; any `Exception` or a timeout
   fails closed to ``GK_DECISION=BLOCK``, ``GK_REASON=internal_error`` (and is logged);
4. send the variables (one ``EXEC MSet``, or one ``SET VARIABLE`` each) and read each reply
   under a deadline; an unsolicited ``HANGUP`` before the reply is noted and skipped; EOF
   ends the call;
5. close the socket in ``finally``; when bytes are still unsent, wait for the close under a
   deadline (with nothing unsent the transport closes on the next loop turn, peer or no peer,
   so no timer is armed).

A peer can only hurt its own task: protocol errors, timeouts and socket errors end that
call and are logged with the call's context. `close()` stops accepting, gives in-flight calls a
grace period, then cancels what is left. Each call ends with one canonical ``agi_call`` line.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Self
from urllib.parse import parse_qsl

import structlog
from structlog.contextvars import bound_contextvars

from gatekeeper.agi.call import AgiCall
from gatekeeper.agi.codes import EXEC_SUCCESS, SET_VARIABLE_SUCCESS
from gatekeeper.agi.peer_uid import open_lookup
from gatekeeper.agi.peers import Admission, PeerGate, PeerRules, Refusal
from gatekeeper.agi.protocol import (
    MAX_HEADER_BYTES,
    CommandError,
    EndOfStream,
    Environment,
    Hangup,
    NeedData,
    Reply,
    encode_command,
    encode_set_variable,
)
from gatekeeper.agi.refusals import Refusals
from gatekeeper.common import AgiProtocolError, CallLogger

LISTEN_BACKLOG: Final = 1024
HEADER_TIMEOUT_S: Final = 0.5
"""Longest wait for the whole AGI environment; Asterisk sends it at once on connect."""
MAX_CONNECTIONS: Final = 1000
MAX_CONNECTIONS_PER_PEER: Final = 500
MAX_URL_PARAMETERS: Final = 8
"""Open connections one peer (one loopback user, one remote address) may hold."""
SATURATION_WINDOW_S: Final = 60.0
"""How long after a connection cap was hit the server still reports itself saturated."""
FAIL_CLOSED: Final[Mapping[str, str]] = MappingProxyType(
    {"GK_REASON": "internal_error", "GK_DECISION": "BLOCK"}
)
"""The server's own answer when the handler cannot give one; GK_DECISION last, like every
answer, so one cut short leaves it unset and the dialplan subroutine blocks."""

log = structlog.get_logger()
_call_log = CallLogger()
"""The logger of the line every call ends with (module notes in gatekeeper/common/logs.py)."""


@dataclass(frozen=True, slots=True)
class AgiLimits:
    """Deadlines (seconds) and caps that bound what one peer can cost the server."""

    header_timeout: float = HEADER_TIMEOUT_S
    handler_timeout: float = 2.0
    reply_timeout: float = 5.0
    close_timeout: float = 2.0
    shutdown_grace: float = 5.0
    max_header_bytes: int = MAX_HEADER_BYTES
    max_concurrent_connections: int = MAX_CONNECTIONS
    max_connections_per_peer: int = MAX_CONNECTIONS_PER_PEER

    def __post_init__(self) -> None:
        for name in ("header_timeout", "handler_timeout", "reply_timeout", "close_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"AgiLimits.{name} must be positive")
        if self.shutdown_grace < 0:
            raise ValueError("AgiLimits.shutdown_grace must not be negative")
        caps = (self.max_header_bytes, self.max_concurrent_connections)
        if min(*caps, self.max_connections_per_peer) <= 0:
            raise ValueError("AgiLimits caps must be positive")


@dataclass(frozen=True, slots=True)
class AgiStatus:
    """What the health check reports: load, and how long ago a connection cap was hit."""

    port: int | None
    active: int
    max_connections: int
    seconds_since_saturated: float | None
    refused: Mapping[str, int]

    @property
    def saturated(self) -> bool:
        """Whether a connection cap was hit within `SATURATION_WINDOW_S`."""
        since = self.seconds_since_saturated
        return since is not None and since < SATURATION_WINDOW_S


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
    parameters: Mapping[str, str] = field(default_factory=dict)
    """The URL's query (`agi://host/check?pbx=NAME`): the last value of each name."""

    @classmethod
    def from_environment(cls, environment: Environment, peer: str) -> AgiRequest:
        """Pick the fields the gatekeeper uses; a missing variable reads as ``""``."""
        variables = environment.variables
        script, _, query = variables.get("agi_network_script", "").partition("?")
        return cls(
            script=script,
            parameters=url_parameters(query),
            arguments=environment.arguments,
            channel=variables.get("agi_channel", ""),
            uniqueid=variables.get("agi_uniqueid", ""),
            linkedid=variables.get("agi_linkedid", ""),
            callerid=variables.get("agi_callerid", ""),
            environment=variables,
            peer=peer,
        )


def url_parameters(query: str) -> dict[str, str]:
    """The first MAX_URL_PARAMETERS `name=value` pairs of a URL query, decoded; never raises."""
    kept = "&".join(query.split("&", MAX_URL_PARAMETERS)[:MAX_URL_PARAMETERS])
    return dict(parse_qsl(kept))


AgiHandler = Callable[[AgiRequest], Awaitable[Mapping[str, str]]]
"""Answers one call with the channel variables to set, in order."""

_Answer = Reply | CommandError | EndOfStream

_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_+.:@/-]*")


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
    """Accepts FastAGI connections and answers each call with its script's handler."""

    def __init__(  # noqa: PLR0913 - each keyword is one independent knob
        self,
        handlers: Mapping[str, AgiHandler],
        host: str,
        port: int,
        *,
        limits: AgiLimits = AgiLimits(),
        batch_variables: bool = True,
        peers: PeerRules | None = None,
        refusals: Refusals | None = None,
    ) -> None:
        """Serve `handlers` (script name, as in ``agi://host/NAME``, to handler) on host:port.

        `batch_variables` sets plain variables with one `EXEC MSet` (see `answer_commands`);
        False sends one `SET VARIABLE` per variable. `peers` says who may ask (default:
        `PeerRules()`); `refusals` counts and logs refused connections.
        """
        self._handlers = dict(handlers)
        self._batch_variables = batch_variables
        self._host = host
        self._requested_port = port
        self._limits = limits
        self._rules = peers or PeerRules()
        self._gate: PeerGate | None = None
        self.refusals = refusals or Refusals()
        self._server: asyncio.Server | None = None
        self._calls: set[AgiCall] = set()
        self._per_peer: Counter[str] = Counter()
        self._idle: asyncio.Future[None] | None = None
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
        self._gate = PeerGate(self._rules, open_lookup())
        try:
            self._server = await asyncio.get_running_loop().create_server(
                self._new_call, self._host, self._requested_port, backlog=LISTEN_BACKLOG
            )
        except BaseException:
            self._gate.close()
            self._gate = None
            raise
        self._accepting = True
        log.info(
            "agi_listening",
            host=self._host,
            port=self.port,
            allowed_uids=sorted(self._rules.allowed_uids),
            allowed_peers=[str(network) for network in self._rules.allowed_networks],
        )

    async def close(self) -> None:
        """Stop accepting, let in-flight calls finish within the grace period, then close."""
        if self._server is None:
            return
        self._accepting = False
        self._server.close()
        if not await self._wait_idle(self._limits.shutdown_grace):
            late = list(self._calls)
            for call in late:
                if call.task is not None:
                    call.task.cancel()
                else:
                    call.abort()
            log.warning("agi_calls_cancelled_at_shutdown", count=len(late))
            await self._wait_idle(self._limits.close_timeout)
        try:
            async with asyncio.timeout(self._limits.close_timeout):
                await self._server.wait_closed()
        except TimeoutError:
            log.warning("agi_server_close_timeout")
        self._server = None
        if self._gate is not None:
            self._gate.close()
            self._gate = None
        self.refusals.close()
        log.info("agi_closed")

    def status(self) -> AgiStatus:
        """Connections in use, the cap, and when a cap was last hit."""
        last = self.refusals.last_saturated
        return AgiStatus(
            port=self.port if self._server is not None and self._server.sockets else None,
            active=len(self._calls),
            max_connections=self._limits.max_concurrent_connections,
            seconds_since_saturated=None if last is None else time.monotonic() - last,
            refused={reason.value: count for reason, count in self.refusals.totals.items()},
        )

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        await self.close()

    def _new_call(self) -> AgiCall:
        limits = self._limits
        return AgiCall(
            self,
            self.refusals,
            header_timeout=limits.header_timeout,
            close_timeout=limits.close_timeout,
            max_header_bytes=limits.max_header_bytes,
        )

    def admit_call(self, call: AgiCall) -> bool:
        """Admit `call` under the peer rules and the caps, and count it; log a refusal."""
        admission = self._admit(call.peer_address, call.local_address)
        if admission.refusal is not None:
            self.refusals.refuse(
                admission.refusal,
                "agi_connection_refused",
                peer=call.peer,
                uid=admission.uid,
                active=len(self._calls),
            )
            return False
        call.key = admission.key
        self._calls.add(call)
        self._per_peer[admission.key] += 1
        return True

    def start_call(self, call: AgiCall, environment: Environment) -> asyncio.Task[None]:
        """Answer `call` in its own task."""
        return asyncio.get_running_loop().create_task(self._serve(call, environment))

    def call_ended(self, call: AgiCall) -> None:
        """Free `call`'s slot; wake a shutdown waiting for the last call."""
        self._calls.discard(call)
        self._per_peer[call.key] -= 1
        if self._per_peer[call.key] <= 0:
            del self._per_peer[call.key]
        if not self._calls and self._idle is not None and not self._idle.done():
            self._idle.set_result(None)

    def _admit(self, peer: tuple[str, int], local: tuple[str, int]) -> Admission:
        if not self._accepting or self._gate is None:
            return Admission(refusal=Refusal.SHUTTING_DOWN)
        admission = self._gate.admit(peer, local)
        if admission.refusal is not None:
            return admission
        if len(self._calls) >= self._limits.max_concurrent_connections:
            return Admission(refusal=Refusal.GLOBAL_CAP, uid=admission.uid)
        if self._per_peer[admission.key] >= self._limits.max_connections_per_peer:
            return Admission(refusal=Refusal.PEER_CAP, uid=admission.uid)
        return admission

    async def _wait_idle(self, seconds: float) -> bool:
        """Whether every call ended within `seconds`."""
        if not self._calls:
            return True
        self._idle = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(seconds):
                await self._idle
        except TimeoutError:
            return False
        finally:
            self._idle = None
        return True

    async def _serve(self, call: AgiCall, environment: Environment) -> None:
        try:
            request = AgiRequest.from_environment(environment, call.peer)
            with bound_contextvars(channel=request.channel, uniqueid=request.uniqueid):
                await self._answer(request, call)
        finally:
            call.close()

    async def _answer(self, request: AgiRequest, call: AgiCall) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        variables, commands = await self._decide(request)
        outcome = "answered"
        hung_up = False
        try:
            for command in commands:
                answer, hangup_seen = await self._exchange(command.line, call)
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
        call_log = _call_log.get()
        report = call_log.debug if outcome == "answered" else call_log.warning
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
        handler = self._handlers.get(request.script)
        if handler is None:
            self.refusals.refuse(
                Refusal.UNKNOWN_SCRIPT,
                "agi_unknown_script",
                script=request.script,
                served=sorted(self._handlers),
                peer=request.peer,
            )
            return FAIL_CLOSED, answer_commands(FAIL_CLOSED, batch=self._batch_variables)
        try:
            async with asyncio.timeout(self._limits.handler_timeout):
                variables = dict(await handler(request))
            commands = answer_commands(variables, batch=self._batch_variables)
        except TimeoutError:
            log.exception("agi_handler_timeout", timeout=self._limits.handler_timeout)
        except Exception:
            log.exception("agi_handler_failed")
        else:
            return variables, commands
        return FAIL_CLOSED, answer_commands(FAIL_CLOSED, batch=self._batch_variables)

    async def _exchange(self, command: bytes, call: AgiCall) -> tuple[_Answer, bool]:
        hung_up = False
        async with asyncio.timeout(self._limits.reply_timeout):
            call.write(command)
            while True:
                event = call.next_event()
                if isinstance(event, NeedData):
                    await call.wait_readable()
                elif isinstance(event, Hangup):
                    hung_up = True
                elif isinstance(event, Reply | CommandError | EndOfStream):
                    return event, hung_up
                else:
                    raise AgiProtocolError("a second AGI environment arrived")


def _log_peer_failure(stage: str, peer: str, err: Exception) -> None:
    if isinstance(err, AgiProtocolError):
        log.warning("agi_protocol_error", stage=stage, peer=peer, error=str(err))
    elif isinstance(err, TimeoutError):
        log.warning("agi_peer_timeout", stage=stage, peer=peer)
    else:
        log.warning("agi_connection_lost", stage=stage, peer=peer, error=repr(err))
