"""One FastAGI connection as an `asyncio.Protocol`: admission, the environment, then the replies.

Theory of operation
-------------------
The event loop calls this object as bytes arrive; no stream reader or writer sits between
the socket and the sans-IO `AgiConnection`, so a call costs one task and one future per read
it actually waits for, not a reader, a writer, a close waiter and a future per read.

* `connection_made`: the host admits the connection (peer rules, caps) or it is aborted
  unanswered. An admitted call arms ONE timer for the whole environment (`header_timeout`).
* Until the environment is complete, `data_received` feeds the bytes and parses them in the
  callback itself: a complete environment cancels the timer and the host starts the call's
  task; a broken one, an EOF before it, a lost connection or the timer end the connection as
  a refusal.
* After the environment the task drives the conversation (`write`, `next_event`,
  `wait_readable`). Bytes that arrive while nobody waits are kept, up to `READ_LIMIT_BYTES`;
  past that, reading pauses until the task asks for more, so a peer cannot grow the buffer
  while the handler runs.
* `close` closes the transport; when bytes are still unsent it arms a timer that aborts it
  after `close_timeout`. The call is over for the host (`call_ended`) once the connection is
  lost AND its task, if any, is done: a decision being recorded after the peer hung up still
  holds its slot, and shutdown waits for it.

Every callback catches what it did not expect, logs ``agi_call_crashed`` and aborts the
connection, so a bug in one call never reaches the event loop's generic handler.
"""

from __future__ import annotations

import asyncio
from typing import Final, Protocol, cast

import structlog

from gatekeeper.agi.peers import Refusal
from gatekeeper.agi.protocol import AgiConnection, EndOfStream, Environment, Event
from gatekeeper.agi.refusals import Refusals
from gatekeeper.common import AgiProtocolError

READ_LIMIT_BYTES: Final = 64 * 1024
"""Bytes kept unread by the task before the socket stops being read."""

log = structlog.get_logger()


class CallHost(Protocol):
    """What a connection asks of the server that accepted it."""

    def admit_call(self, call: AgiCall) -> bool:
        """Whether `call` may go on (then counted until `call_ended`); the host logs a refusal."""

    def start_call(self, call: AgiCall, environment: Environment) -> asyncio.Task[None]:
        """Start answering `call`, whose environment is complete."""

    def call_ended(self, call: AgiCall) -> None:
        """`call` holds no connection and no task any more."""


class AgiCall(asyncio.Protocol):
    """The server's side of one FastAGI connection (see the module notes)."""

    def __init__(
        self,
        host: CallHost,
        refusals: Refusals,
        *,
        header_timeout: float,
        close_timeout: float,
        max_header_bytes: int,
    ) -> None:
        self._host = host
        self._refusals = refusals
        self._header_timeout = header_timeout
        self._close_timeout = close_timeout
        self.connection = AgiConnection(max_header_bytes=max_header_bytes)
        self._transport: asyncio.Transport | None = None
        self.peer = ""
        self.peer_address: tuple[str, int] = ("", 0)
        self.local_address: tuple[str, int] = ("", 0)
        self.key = ""
        """The peer's key under the per-peer cap, set by the host when it admits the call."""
        self._counted = False
        self._reading_environment = False
        self._timer: asyncio.TimerHandle | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._unread = 0
        self._paused = False
        self._lost = False
        self._error: OSError | None = None
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Admit the connection or abort it; an admitted one waits for its environment."""
        self._transport = transport = cast("asyncio.Transport", transport)
        try:
            self.peer_address = _address(transport, "peername")
            self.local_address = _address(transport, "sockname")
            self.peer = f"{self.peer_address[0]}:{self.peer_address[1]}"
            if not self._host.admit_call(self):
                transport.abort()
                return
            self._counted = self._reading_environment = True
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._header_timeout, self._header_timed_out)
        except Exception as crash:  # noqa: BLE001 - a bug must end this call, not the loop
            self._crashed(crash)

    def data_received(self, data: bytes) -> None:
        """Bytes from the peer: parsed at once before the environment, kept for the task after."""
        try:
            self.connection.receive_data(data)
            if self.task is None:
                if self._reading_environment:
                    self._read_environment()
                return
            if self._waiter is not None:
                self._wake()
                return
            self._unread += len(data)
            if self._unread > READ_LIMIT_BYTES and self._transport is not None:
                self._transport.pause_reading()
                self._paused = True
        except Exception as crash:  # noqa: BLE001 - a bug must end this call, not the loop
            self._crashed(crash)

    def eof_received(self) -> bool:
        """The peer closed its side; the transport stays open until the call closes it."""
        try:
            self.connection.receive_data(b"")
            if self.task is None:
                if self._reading_environment:
                    self._read_environment()
            elif self._waiter is not None:
                self._wake()
        except Exception as crash:  # noqa: BLE001 - a bug must end this call, not the loop
            self._crashed(crash)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        """The socket is closed: stop the timers, wake the task, tell the host when all is done."""
        self._lost = True
        self._cancel_timer()
        if self._reading_environment and exc is not None:
            self._reading_environment = False
            self._refusals.refuse(
                Refusal.HEADER_MISSING,
                "agi_connection_lost",
                stage="environment",
                peer=self.peer,
                error=repr(exc),
            )
        if isinstance(exc, OSError):
            self._error = exc
        else:
            self.connection.receive_data(b"")
        if self._waiter is not None:
            self._wake()
        self._maybe_ended()

    def write(self, data: bytes) -> None:
        """Send `data` (dropped by the transport when the connection is already lost)."""
        if self._transport is not None:
            self._transport.write(data)

    def next_event(self) -> Event:
        """The next protocol event; raises the socket's error when the connection broke."""
        event = self.connection.next_event()
        self._unread = 0
        if self._paused and self._transport is not None and not self._lost:
            self._paused = False
            self._transport.resume_reading()
        return event

    async def wait_readable(self) -> None:
        """Return when more bytes, EOF or a loss arrived; raises the socket's error if it broke."""
        if self._error is not None:
            raise self._error
        if self._lost:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            await waiter
        finally:
            self._waiter = None
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Close the connection; abort it `close_timeout` later if bytes are still unsent."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        unsent = transport.get_write_buffer_size()
        transport.close()
        if unsent and not self._lost:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._close_timeout, transport.abort)

    def abort(self) -> None:
        """Drop the connection at once (shutdown past its grace period)."""
        if self._transport is not None:
            self._transport.abort()

    def task_done(self, task: asyncio.Task[None]) -> None:
        """The call's task ended: log a crash, and end the call if the socket is closed too."""
        if not task.cancelled() and (crash := task.exception()) is not None:
            log.error("agi_call_crashed", peer=self.peer, exc_info=crash)
            self.abort()
        self._maybe_ended()

    def _read_environment(self) -> None:
        try:
            event = self.connection.next_event()
        except AgiProtocolError as err:
            self._refuse_header(
                Refusal.HEADER_INVALID, "agi_protocol_error", stage="environment", error=str(err)
            )
            return
        if isinstance(event, Environment):
            self._reading_environment = False
            self._cancel_timer()
            self.task = self._host.start_call(self, event)
            self.task.add_done_callback(self.task_done)
        elif isinstance(event, EndOfStream):
            self._refuse_header(Refusal.HEADER_MISSING, "agi_closed_before_environment")

    def _header_timed_out(self) -> None:
        self._timer = None
        self._refuse_header(
            Refusal.HEADER_TIMEOUT,
            "agi_peer_timeout",
            stage="environment",
            timeout=self._header_timeout,
        )

    def _refuse_header(self, reason: Refusal, event: str, **fields: object) -> None:
        self._cancel_timer()
        self._reading_environment = False
        self._refusals.refuse(reason, event, peer=self.peer, **fields)
        self.close()

    def _wake(self) -> None:
        waiter = self._waiter
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _maybe_ended(self) -> None:
        if self._lost and self._counted and (self.task is None or self.task.done()):
            self._counted = False
            self._host.call_ended(self)

    def _crashed(self, crash: Exception) -> None:
        log.error("agi_call_crashed", peer=self.peer, exc_info=crash)
        self._cancel_timer()
        self._reading_environment = False
        self.abort()


def _address(transport: asyncio.BaseTransport, which: str) -> tuple[str, int]:
    address = transport.get_extra_info(which)
    if isinstance(address, tuple) and len(address) >= 2:
        return str(address[0]), int(address[1])
    return "", 0
