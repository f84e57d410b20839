"""A robust Asterisk manager (AMI) client: login with a deadline, checked pings, reconnects.

Theory of operation: panoramisk's `AMIProtocol` parses the wire (messages split on blank lines,
actions matched to replies by ActionID); everything around it is ours, because its `Manager`
reconnects on a fixed delay, never checks ping replies, and runs event callbacks as orphan
futures. One supervisor task owns the connection: it connects and logs in (each with a deadline),
then pings every `ping_interval` seconds and treats a missing or wrong reply as a dead peer; when
the link drops it reconnects with exponential backoff and full jitter, forever, until `close()`.
Replies are awaited with deadlines; anything pending when the link drops fails with `AmiError`.

Events are the bulk of the traffic (a handful per call, all day), so they skip panoramisk's
`Message` (a case-insensitive dict built header by header, which we then copied): `_Protocol`
splits the stream into messages itself and turns each plain event into a dict in one pass.
Replies, and events that carry an ActionID (the items of a list action), still go through
panoramisk, which matches them to their actions. Bytes are decoded per whole message, so a UTF-8
character split across two reads survives, and a message larger than `MAX_MESSAGE_BYTES` drops
the link (the supervisor reconnects) instead of growing the buffer without bound.

Events never run user code inside the protocol: each subscriber gets its own bounded queue, and
subscriptions survive reconnects (events sent while the link is down are lost, nothing more). A
subscriber that falls too far behind is told so (`AmiError`) instead of growing memory without
bound. Link state changes are also delivered as synthetic events (`LINK_UP`, `LINK_DOWN`) so
consumers can resynchronise. The secret is held in memory only and never logged or echoed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Any, Self

import structlog
from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from gatekeeper.common import AmiError, jittered_backoff

LOGIN_TIMEOUT_S = 5.0
ACTION_TIMEOUT_S = 5.0
PING_INTERVAL_S = 2.0
PING_TIMEOUT_S = 2.0
BACKOFF_FIRST_S = 0.2
BACKOFF_CAP_S = 30.0
SUBSCRIPTION_LIMIT = 100_000
LINK_UP = "Gatekeeper.LinkUp"
LINK_DOWN = "Gatekeeper.LinkDown"
_REPLY_HEADERS = frozenset({"Response", "ActionID", "Message", "content"})
MAX_MESSAGE_BYTES = 1 << 20
"""The largest manager message read; a peer sending more without an end drops the link."""
_END = b"\r\n\r\n"

log = structlog.get_logger("gatekeeper.ami")

# panoramisk logs whole actions (a Login carries the secret) on some error paths: silence it.
_WIRE_LOG = logging.getLogger("gatekeeper.ami.wire")
_WIRE_LOG.disabled = True


@dataclass(frozen=True, slots=True)
class AmiEvent:
    """One manager event, as Asterisk sent it.

    `fields` repeats the event's headers (repeated headers joined with newlines);
    `received_at` is its arrival on `time.monotonic()`, 0.0 for events not read from the wire.
    """

    name: str
    fields: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    received_at: float = 0.0

    def get(self, key: str, default: str = "") -> str:
        """A field's value, or `default` when the event does not carry it."""
        return self.fields.get(key, default)


class _Everything:
    """A container holding every action name: panoramisk must never requeue or log ours."""

    def __contains__(self, item: object) -> bool:
        return True


def _text(value: object) -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value)


def parse_event(text: str) -> dict[str, str]:
    """The headers of one event message (`Key: value` lines); repeated keys joined by newlines."""
    fields: dict[str, str] = {}
    for line in text.split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        if key in fields:
            fields[key] = f"{fields[key]}\n{value}"
        else:
            fields[key] = value
    return fields


class _Protocol(AMIProtocol):  # type: ignore[misc]  # panoramisk is untyped
    """panoramisk's protocol, reading plain events itself (see the module's docstring)."""

    factory: _Link
    encoding: str
    version: str | None
    transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        *messages, self._buffer = (self._buffer + data).split(_END)
        if len(self._buffer) > MAX_MESSAGE_BYTES:
            log.error("ami_message_too_large", limit_bytes=MAX_MESSAGE_BYTES)
            self._buffer = b""
            self.transport.close()
            return
        for raw in messages:
            text = raw.decode(self.encoding, "replace").strip()
            if self.version is None and text.startswith("Asterisk Call Manager/"):
                greeting, _, text = text.partition("\r\n")
                self.version = greeting.partition("/")[2].strip()
            if text.startswith("Event: ") and "\r\nActionID: " not in text:
                fields = parse_event(text)
                if fields["Event"].lower() == "shutdown":
                    self.connection_lost(None)
                self.factory.event(fields)
                continue
            message = Message.from_line(text)
            if message is not None:
                self.handle_message(message)


def backoff_delays(
    first: float = BACKOFF_FIRST_S, cap: float = BACKOFF_CAP_S, rng: random.Random | None = None
) -> Iterator[float]:
    """Reconnect delays: exponential growth to `cap`, each drawn uniformly below its ceiling."""
    return jittered_backoff(first, cap, rng)


class Subscription:
    """Every event after subscribing, in order; an async iterator and a context manager."""

    def __init__(self, owner: AmiClient, limit: int) -> None:
        self._owner = owner
        self._queue: asyncio.Queue[AmiEvent | None] = asyncio.Queue()
        self._limit = limit
        self._overrun = False

    def _deliver(self, event: AmiEvent) -> None:
        if self._overrun:
            return
        if self._queue.qsize() >= self._limit:
            self._overrun = True
            self._queue.put_nowait(None)
            return
        self._queue.put_nowait(event)

    def _end(self) -> None:
        self._queue.put_nowait(None)

    async def get(self) -> AmiEvent:
        """The next event; raises AmiError when the client closed or this subscriber lagged."""
        event = await self._queue.get()
        if event is None:
            self._queue.put_nowait(None)
            if self._overrun:
                raise AmiError(f"AMI subscriber fell {self._limit} events behind; events lost")
            raise AmiError("AMI client closed")
        return event

    def close(self) -> None:
        """Stop receiving events."""
        self._owner._unsubscribe(self)  # noqa: SLF001 - the owner's own bookkeeping
        self._end()

    def __aiter__(self) -> AsyncIterator[AmiEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[AmiEvent]:
        while True:
            try:
                event = await self.get()
            except AmiError:
                if self._overrun:
                    raise
                return
            yield event

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Link:
    """One TCP connection: the panoramisk protocol and what it needs from its 'factory'."""

    forgetable_actions = _Everything()

    def __init__(self, on_event: Callable[[AmiEvent], None]) -> None:
        self.awaiting_actions: deque[Action] = deque()
        self.lost = asyncio.Event()
        self.protocol: _Protocol | None = None
        self._on_event = on_event

    async def open(self, host: str, port: int, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(deadline):
                _, protocol = await loop.create_connection(_Protocol, host, port)
        except TimeoutError as err:
            raise AmiError(f"AMI at {host}:{port}: no connection within {deadline:g} s") from err
        except OSError as err:
            reason = err.strerror or str(err)
            raise AmiError(f"AMI at {host}:{port}: cannot connect: {reason}") from err
        protocol.factory = self
        protocol.log = _WIRE_LOG
        protocol.encoding = "utf-8"
        self.protocol = protocol

    # Called by _Protocol, for plain events.
    def event(self, fields: dict[str, str]) -> None:
        name = fields.get("Event", "")
        self._on_event(AmiEvent(name, MappingProxyType(fields), time.monotonic()))

    # Called by AMIProtocol, for events that carry an ActionID.
    def dispatch(self, message: Any) -> None:  # noqa: ANN401 - panoramisk's untyped Message
        self.event({str(k): _text(v) for k, v in message.items() if k != "content"})

    # Called by AMIProtocol.
    def connection_lost(self, exc: object) -> None:  # noqa: ARG002 - panoramisk's signature
        self.lost.set()

    async def request(self, fields: Mapping[str, str | list[str]], deadline: float) -> Any:  # noqa: ANN401
        """Send one action and return panoramisk's reply message, within `deadline` seconds."""
        protocol = self.protocol
        if protocol is None or protocol.closed or self.lost.is_set():
            raise AmiError("AMI link is down")
        action = Action(dict(fields), as_list=False)
        future: asyncio.Future[Any] = protocol.send(action, as_list=False)
        lost = asyncio.ensure_future(self.lost.wait())
        try:
            async with asyncio.timeout(deadline):
                await asyncio.wait({future, lost}, return_when=asyncio.FIRST_COMPLETED)
        except TimeoutError as err:
            name = fields.get("Action")
            raise AmiError(f"AMI action {name} got no reply within {deadline:g} s") from err
        finally:
            lost.cancel()
            if not future.done():
                future.cancel()
                protocol.responses.pop(action.id, None)
        if future.cancelled() or not future.done():
            raise AmiError(f"AMI link lost during action {fields.get('Action')}")
        return future.result()

    def close(self) -> None:
        if self.protocol is not None and not self.protocol.closed:
            self.protocol.close()
        self.lost.set()


@dataclass(frozen=True, slots=True)
class _Options:
    host: str
    port: int
    username: str
    secret: str = field(repr=False)
    timeout: float
    ping_interval: float
    ping_timeout: float
    on_link_change: Callable[[bool], None] | None
    event_filters: tuple[str, ...] = ()


class AmiClient:
    """A logged-in manager session that keeps itself alive; build it with `connect()`."""

    def __init__(self, options: _Options) -> None:
        self.host = options.host
        self.port = options.port
        self.username = options.username
        self._secret = options.secret
        self._timeout = options.timeout
        self._ping_interval = options.ping_interval
        self._ping_timeout = options.ping_timeout
        self._on_link_change = options.on_link_change
        self._event_filters = options.event_filters
        self._subscribers: list[Subscription] = []
        self._link: _Link | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self.reconnects = 0

    def __repr__(self) -> str:
        return f"AmiClient({self.host}:{self.port}, user={self.username!r})"

    @classmethod
    async def connect(  # noqa: PLR0913 - where and who (five), then keyword-only tuning
        cls,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        timeout: float = LOGIN_TIMEOUT_S,  # noqa: ASYNC109 - the deadline of each AMI action
        ping_interval: float = PING_INTERVAL_S,
        ping_timeout: float = PING_TIMEOUT_S,
        on_link_change: Callable[[bool], None] | None = None,
        event_filters: tuple[str, ...] = (),
    ) -> AmiClient:
        """Connect and log in, or raise AmiError saying why (refused, timeout, no listener).

        `event_filters` are AMI `Filter` rules (regular expressions over an event's text) for the
        only events this session needs; Asterisk then sends just those (a busy PBX emits dozens
        of events per call that would be parsed for nothing). Empty: every event.
        """
        client = cls(
            _Options(
                host,
                port,
                username,
                secret,
                timeout,
                ping_interval,
                ping_timeout,
                on_link_change,
                event_filters,
            )
        )
        client._link = await client._open_link()
        client._set_link_state(up=True)
        client._supervisor = asyncio.create_task(client._supervise(), name="ami-supervisor")
        return client

    @property
    def connected(self) -> bool:
        """Whether a logged-in link is up right now."""
        link = self._link
        return link is not None and not link.lost.is_set()

    def subscribe(self, limit: int = SUBSCRIPTION_LIMIT) -> Subscription:
        """Receive every event from now on (across reconnects) until the subscription closes."""
        subscription = Subscription(self, limit)
        self._subscribers.append(subscription)
        return subscription

    def subscription(self, limit: int = SUBSCRIPTION_LIMIT) -> Subscription:
        """The same as `subscribe()`, read as `async with client.subscription() as events:`."""
        return self.subscribe(limit)

    def _unsubscribe(self, subscription: Subscription) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(subscription)

    def _publish(self, event: AmiEvent) -> None:
        for subscriber in tuple(self._subscribers):
            subscriber._deliver(event)  # noqa: SLF001 - the subscription's feed

    async def originate(  # noqa: PLR0913 - keyword-only Originate fields
        self,
        channel: str,
        *,
        application: str,
        data: str = "",
        variables: Mapping[str, str] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - Asterisk's ring timeout, not an await deadline
        channel_id: str = "",
        other_channel_id: str = "",
        account: str = "",
    ) -> str:
        """Queue an asynchronous Originate; returns its ActionID (OriginateResponse carries it).

        `channel_id` and `other_channel_id` choose the uniqueids of the new channel (and of a
        Local channel's second half), so a caller can follow the call's events by them.
        `account` is the channel's account code (a Local channel's second half has it too).
        """
        fields: dict[str, str | list[str]] = {
            "Action": "Originate",
            "Channel": channel,
            "Application": application,
            "Data": data,
            "Async": "true",
            "Timeout": str(int(timeout * 1000)),
        }
        if channel_id:
            fields["ChannelId"] = channel_id
        if other_channel_id:
            fields["OtherChannelId"] = other_channel_id
        if account:
            fields["Account"] = account
        if variables:
            fields["Variable"] = [f"{key}={value}" for key, value in variables.items()]
        reply = await self._action(fields)
        return _text(reply.get("ActionID", ""))

    async def hangup(self, channel: str, cause: int = 16) -> None:
        """Hang a channel up with a Q.850 cause; raises AmiError if Asterisk refuses."""
        await self._action({"Action": "Hangup", "Channel": channel, "Cause": str(cause)})

    async def ping(self) -> None:
        """One checked round trip; raises AmiError when the reply is missing or wrong."""
        reply = await self._action({"Action": "Ping"}, deadline=self._ping_timeout)
        if _text(reply.get("Ping", "")) != "Pong":
            raise AmiError("AMI ping got an unexpected reply")

    async def getvar(self, name: str) -> str:
        """A global variable or dialplan function value (empty if unset); AmiError if refused."""
        reply = await self._action({"Action": "Getvar", "Variable": name})
        return _text(reply.get("Value", ""))

    async def actions(self) -> frozenset[str]:
        """The names of the actions this user may run (AMI ListCommands)."""
        reply = await self._action({"Action": "ListCommands"})
        return frozenset(key for key in reply if key not in _REPLY_HEADERS)

    async def list_action(
        self, fields: Mapping[str, str], *, complete: str, limit: int
    ) -> list[AmiEvent]:
        """An action answered by a list of events (ShowDialPlan): the events before `complete`.

        AmiError when refused, when the list is not complete within the client's timeout per
        event, or when it holds more than `limit` events (a bound, not a truncation).
        """
        async with self.subscription(limit + 16) as events:
            reply = await self._action(fields)
            action_id = _text(reply.get("ActionID", ""))
            items: list[AmiEvent] = []
            while True:
                try:
                    async with asyncio.timeout(self._timeout):
                        event = await events.get()
                except TimeoutError:
                    raise AmiError(f"AMI action {fields['Action']}: its list stopped") from None
                if event.get("ActionID") != action_id:
                    continue
                if event.name == complete:
                    return items
                if len(items) >= limit:
                    raise AmiError(f"AMI action {fields['Action']}: more than {limit} events")
                items.append(event)

    async def _action(
        self, fields: Mapping[str, str | list[str]], deadline: float | None = None
    ) -> Any:  # noqa: ANN401 - panoramisk's untyped Message
        link = self._link
        if link is None or self._closing.is_set():
            raise AmiError("AMI client is closed")
        reply = await link.request(fields, self._timeout if deadline is None else deadline)
        if _text(reply.get("Response", "")) != "Success":
            message = _text(reply.get("Message", "")) or "no reason given"
            raise AmiError(f"AMI action {fields['Action']} refused: {message}")
        return reply

    async def _open_link(self) -> _Link:
        link = _Link(self._publish)
        await link.open(self.host, self.port, self._timeout)
        where = f"AMI at {self.host}:{self.port}"
        try:
            reply = await link.request(
                {
                    "Action": "Login",
                    "Username": self.username,
                    "Secret": self._secret,
                    "Events": "on",
                },
                self._timeout,
            )
        except AmiError as err:
            link.close()
            raise AmiError(f"{where}: login for user {self.username!r} failed: {err}") from None
        if _text(reply.get("Response", "")) != "Success":
            link.close()
            raise AmiError(f"{where}: authentication refused for user {self.username!r}")
        log.info("ami_logged_in", host=self.host, port=self.port, user=self.username)
        if self._event_filters and not await self._filter_events(link, self._event_filters):
            link.close()
            self._event_filters = ()
            log.warning("ami_event_filters_dropped", host=self.host, port=self.port)
            return await self._open_link()
        return link

    async def _filter_events(self, link: _Link, filters: tuple[str, ...]) -> bool:
        """Ask Asterisk for matching events only; False if any rule failed.

        Once one rule is in place Asterisk sends only what some rule matches, so a session
        with only some of its rules would miss events: the caller starts a new session
        without filters instead (more events to read, none missed).
        """
        for rule in filters:
            try:
                reply = await link.request(
                    {"Action": "Filter", "Operation": "Add", "Filter": rule}, self._timeout
                )
            except AmiError as err:
                log.warning("ami_event_filter_failed", filter=rule, error=str(err))
                return False
            if _text(reply.get("Response", "")) != "Success":
                message = _text(reply.get("Message", ""))
                log.warning("ami_event_filter_refused", filter=rule, reply=message)
                return False
        return True

    def _set_link_state(self, *, up: bool) -> None:
        self._publish(AmiEvent(name=LINK_UP if up else LINK_DOWN))
        if self._on_link_change is not None:
            try:
                self._on_link_change(up)
            except Exception:
                log.exception("ami_link_callback_failed")

    async def _supervise(self) -> None:
        while not self._closing.is_set():
            link = self._link
            assert link is not None
            try:
                await self._watch(link)
            except Exception:
                log.exception("ami_supervisor_failed")
            link.close()
            if self._closing.is_set():
                return
            self._set_link_state(up=False)
            log.warning("ami_link_lost", host=self.host, port=self.port)
            self._link = await self._reconnect()
            self.reconnects += 1
            self._set_link_state(up=True)

    async def _watch(self, link: _Link) -> None:
        """Return when the link is lost or a ping goes unanswered."""
        while not link.lost.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._ping_interval):
                    await link.lost.wait()
                return
            try:
                await self.ping()
            except AmiError as err:
                log.warning("ami_ping_failed", host=self.host, port=self.port, error=str(err))
                return

    async def _reconnect(self) -> _Link:
        delays = backoff_delays()
        while True:
            await asyncio.sleep(next(delays))
            try:
                return await self._open_link()
            except AmiError as err:
                log.warning("ami_reconnect_failed", error=str(err))

    async def close(self) -> None:
        """Log off, stop the supervisor and end every subscription."""
        if self._closing.is_set():
            return
        link = self._link
        if link is not None and self.connected:
            with contextlib.suppress(AmiError):
                await link.request({"Action": "Logoff"}, min(self._timeout, 1.0))
        self._closing.set()
        supervisor = self._supervisor
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        if link is not None:
            link.close()
        if self._link is not None:
            self._link.close()
        for subscriber in tuple(self._subscribers):
            subscriber.close()
