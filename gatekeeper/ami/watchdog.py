"""The AMI watchdog: hangs up calls that reach a gated context unchecked, and learns outcomes.

Theory of operation: the watchdog holds its state from birth, so the checker can report decisions
before AMI is up; `attach(client)` subscribes to the client's events at once (so nothing between
attaching and `run()` is missed), and `run()` feeds each event, in order, to two pure state
machines: `BypassDetector` (is a gated channel dialling out without an ALLOW?) and `OutcomeTracker`
(what became of each decided call?). Their findings become work: hanging a bypass up over AMI (or
only alerting, per `ami.on_bypass`), recording it as a `bypass` event once the detector's report
says whether a provider leg began (the cut is never delayed by it: only the record waits for the
bypassing leg to hang up), recording outcomes, and recording each time it was blind (link down, or
fallen behind the event stream) as an `ami_watch_gap` event, so the log shows when nothing was
watched. Each piece of work is a task in the watchdog's own TaskGroup, guarded so a failing recorder
or a refused hangup is logged and counted, never fatal, and never blocks the event loop that reads
the next event. The checker calls `allowed()` / `blocked()` before it answers Asterisk, so a grant
always exists before the Dial it permits.

With a `duty` (a standby node, `gatekeeper.ami.standby`), the state machines are fed every event
all the same, but a finding is acted on only while the duty is active; while passive it is only
counted (every call the peer allows is one: a log line each would flood the journal). A finding
after a takeover about a channel seen in a gated context while passive (`InFlight`) is spared
too: that call began under the peer's watch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, Protocol

import structlog

from gatekeeper.ami.bypass import MAX_REPORTS, REPORT_WAIT_S, Bypass, BypassDetector, BypassReport
from gatekeeper.ami.client import (
    LINK_DOWN,
    LINK_UP,
    SUBSCRIPTION_LIMIT,
    AmiClient,
    AmiEvent,
    Subscription,
)
from gatekeeper.ami.outcomes import DECISION_MARKER, MAX_CALLS, Outcome, OutcomeTracker
from gatekeeper.ami.settings import BypassAction
from gatekeeper.ami.standby import MAX_IN_FLIGHT, InFlight
from gatekeeper.audit import EventKind
from gatekeeper.common import AmiError, Pseudonyms, loggable
from gatekeeper.rules import recorded_dialled

BYPASS_EVENT_KIND = EventKind.BYPASS
WATCH_GAP_EVENT_KIND = "ami_watch_gap"
BYPASS_HANGUP_CAUSE = 21
EXPIRY_INTERVAL_S = 0.25
REPORT_DEADLINE_S = REPORT_WAIT_S + 2 * EXPIRY_INTERVAL_S
GONE_CHANNEL_REPLY = "No such channel"
"""Asterisk's refusal to hang up a channel that has already ended (the guard was first)."""

log = structlog.get_logger("gatekeeper.ami.watchdog")


WATCHED_EVENTS = ("Newchannel", "LocalBridge", "DialBegin", "DialEnd", "Hangup")
"""The AMI events the bypass detector and the outcome tracker read in every context."""


def event_filters(gated_contexts: Iterable[str]) -> tuple[str, ...]:
    """The manager user's `eventfilter` lines (manager.conf) for what the watchdog reads.

    `Newexten` (one per dialplan step, the bulk of a PBX's events) is needed only inside gated
    contexts, where it shows a channel that jumped into a trunk context; `VarSet` only of the
    decision id, which places each decision in the event stream. The lines use Asterisk
    22's name and header filters: an event's name is compared by hash and one header's value
    as a plain string, where a legacy `eventfilter = REGEX` line runs each regular expression
    over the whole text of every event the PBX emits (docs/operations.md).
    """
    names = [f"eventfilter(name({name})) =" for name in WATCHED_EVENTS]
    marker = f"eventfilter(name(VarSet),header(Variable),method(exact)) = {DECISION_MARKER}"
    newexten = [
        f"eventfilter(name(Newexten),header(Context),method(exact)) = {context}"
        for context in sorted(gated_contexts)
    ]
    return (*names, marker, *newexten)


class BypassRecorder(Protocol):
    """Where bypasses are recorded (the decision log implements it)."""

    async def record_event(self, kind: str, details: Mapping[str, object]) -> str:
        """Record one event; returns its id once durable."""


class OutcomeRecorder(Protocol):
    """Where call outcomes are recorded (the decision log implements it)."""

    async def record_outcome(self, uniqueid: str, outcome: Mapping[str, object]) -> None:
        """Attach what happened to the call to the decision taken for `uniqueid`."""


class BypassCounter(Protocol):
    """The metric the watchdog bumps for each bypass."""

    def count_bypass(self) -> None:
        """One more call found past the gatekeeper."""


class Duty(Protocol):
    """Whether the watchdog acts on its findings now (a standby node's role)."""

    @property
    def active(self) -> bool:
        """True: cut and record bypasses; False: only count them."""

    def spared(self, when: str) -> None:
        """A finding was not acted on: `standby`, or `in_flight` (began before a takeover)."""


class Watchdog:
    """Guards the gated contexts and reports outcomes; run it with `await watchdog.run()`."""

    def __init__(  # noqa: PLR0913 - the collaborators it wires together, all keyword-only
        self,
        *,
        gated_contexts: Iterable[str],
        on_bypass: BypassAction,
        bypass_recorder: BypassRecorder,
        outcome_recorder: OutcomeRecorder,
        metrics: BypassCounter | None = None,
        clock: Callable[[], float] = time.monotonic,
        subscription_limit: int = SUBSCRIPTION_LIMIT,
        pseudonyms: Pseudonyms | None = None,
        max_open_reports: int = MAX_REPORTS,
        max_followed_calls: int = MAX_CALLS,
        duty: Duty | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self._client: AmiClient | None = None
        self._events: Subscription | None = None
        self._detector = BypassDetector(gated_contexts, clock, max_reports=max_open_reports)
        self.event_filters = event_filters(self._detector.gated_contexts)
        self._tracker = OutcomeTracker(clock, max_calls=max_followed_calls)
        self._on_bypass = on_bypass
        self._bypass_recorder = bypass_recorder
        self._outcome_recorder = outcome_recorder
        self._metrics = metrics
        self._reports: dict[str, asyncio.Future[BypassReport]] = {}
        self._subscription_limit = subscription_limit
        self._pseudonyms = pseudonyms
        self._duty = duty
        self._in_flight = InFlight(self._detector.gated_contexts, max_in_flight)
        self.failures = 0
        self.lags = 0
        if not self._detector.gated_contexts:
            log.warning("ami_watchdog_guards_nothing", hint="set ami.gated_contexts")

    def allowed(
        self,
        uniqueid: str,
        linkedid: str,
        number: str,
        strip_prefix: str = "",
        *,
        decision_id: str = "",
    ) -> None:
        """The checker allowed `number` (E.164) on `uniqueid`: it may dial it into gated contexts.

        `strip_prefix` is the campaign's outside-line prefix, which the dialled extension may
        still carry.
        """
        self._detector.allow(uniqueid, linkedid, number, strip_prefix)
        self._tracker.watch(uniqueid, linkedid, "allow", decision_id)

    def blocked(self, uniqueid: str, linkedid: str, *, decision_id: str = "") -> None:
        """The checker blocked the call on `uniqueid`: follow it to show it never went out."""
        self._tracker.watch(uniqueid, linkedid, "block", decision_id)

    def attach(self, client: AmiClient) -> None:
        """Watch this client's events from now on (the subscription outlives reconnects)."""
        if self._events is not None:
            self._events.close()
        self._client = client
        self._events = client.subscribe(self._subscription_limit)

    async def run(self) -> None:
        """Read events until cancelled (or until the client closes); `attach()` first."""
        if self._events is None or self._client is None:
            raise AmiError("the watchdog has no AMI client: attach() one before run()")
        try:
            async with asyncio.TaskGroup() as tasks:
                expiry = tasks.create_task(self._expire_forever(tasks), name="outcome-expiry")
                try:
                    await self._consume(tasks)
                finally:
                    expiry.cancel()
        finally:
            if self._events is not None:
                self._events.close()

    async def _consume(self, tasks: asyncio.TaskGroup) -> None:
        while self._events is not None and self._client is not None:
            try:
                async for event in self._events:
                    self._handle(event, tasks)
            except AmiError as err:
                log.error("ami_watchdog_lagged", error=str(err))
                self.lags += 1
                self._tracker.link_lost()
                self._events = self._client.subscribe(self._subscription_limit)
                self._spawn(tasks, self._record_gap("watchdog fell behind", str(err)))
            else:
                return

    def _handle(self, event: AmiEvent, tasks: asyncio.TaskGroup) -> None:
        if event.name == LINK_DOWN:
            self._tracker.link_lost()
            self._spawn(tasks, self._record_gap("AMI link down", "events are lost until it is up"))
        elif event.name == LINK_UP:
            self._spawn(tasks, self._record_gap("AMI link up", "watching again"))
        if self._duty is not None:
            self._in_flight.note(event, passive=not self._duty.active)
        for bypass in self._detector.feed(event):
            self._begin(bypass, tasks)
        self._settle_reports()
        for outcome in self._tracker.feed(event):
            self._spawn(tasks, self._record_outcome(outcome))

    def _spared(self, bypass: Bypass) -> bool:
        """Whether a finding is left alone: the node is passive, or the call began before."""
        duty = self._duty
        if duty is None:
            return False
        if not duty.active:
            duty.spared("standby")
            return True
        if self._in_flight.began_before(bypass):
            duty.spared("in_flight")
            details = {"channel": bypass.channel, "context": bypass.context}
            log.warning("ami_bypass_spared_in_flight", **loggable(details, self._pseudonyms))
            return True
        return False

    def _begin(self, bypass: Bypass, tasks: asyncio.TaskGroup) -> None:
        """Cut the bypass now; its outcome is no longer the decision's; record it when known."""
        if self._spared(bypass):
            return
        for uniqueid in (bypass.dialled_by_uniqueid, bypass.uniqueid, bypass.partner_uniqueid):
            if uniqueid:
                self._tracker.diverted(uniqueid)
        waiting: asyncio.Future[BypassReport] = asyncio.get_running_loop().create_future()
        self._reports[bypass.uniqueid] = waiting
        self._spawn(tasks, self._act_on(bypass, waiting))

    def _settle_reports(self) -> None:
        for report in self._detector.reports():
            waiting = self._reports.pop(report.bypass.uniqueid, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(report)

    def _spawn(self, tasks: asyncio.TaskGroup, work: Coroutine[Any, Any, None]) -> None:
        tasks.create_task(self._guarded(work))

    async def _guarded(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:
            self.failures += 1
            log.exception("ami_watchdog_task_failed")

    async def _expire_forever(self, tasks: asyncio.TaskGroup) -> None:
        while True:
            await asyncio.sleep(EXPIRY_INTERVAL_S)
            for bypass in self._detector.expire():
                self._begin(bypass, tasks)
            self._settle_reports()
            for outcome in self._tracker.expire():
                self._spawn(tasks, self._record_outcome(outcome))

    async def _act_on(self, bypass: Bypass, waiting: asyncio.Future[BypassReport]) -> None:
        action = "alert"
        error = ""
        gone = False
        if self._on_bypass is BypassAction.HANGUP and self._client is not None:
            action = "hangup"
            try:
                await self._client.hangup(bypass.channel, cause=BYPASS_HANGUP_CAUSE)
            except AmiError as err:
                error = str(err)
                gone = error.endswith(GONE_CHANNEL_REPLY)
        if self._metrics is not None:
            self._metrics.count_bypass()
        details: dict[str, object] = {
            "channel": bypass.channel,
            "uniqueid": bypass.uniqueid,
            "linkedid": bypass.linkedid,
            "context": bypass.context,
            "exten": recorded_dialled(bypass.exten),
            "reason": bypass.reason,
            "allowed_number": bypass.allowed_number or None,
            "trigger": bypass.trigger,
            "dialled_by": bypass.dialled_by,
            "partner_channel": bypass.partner_channel,
            "action": action,
            "hung_up": action == "hangup" and not error,
        }
        if error:
            details["error"] = error
        if gone:
            details["already_gone"] = True
        log.warning("ami_bypass", **loggable(details, self._pseudonyms))
        try:
            async with asyncio.timeout(REPORT_DEADLINE_S):
                report = await waiting
        except TimeoutError:
            details["provider_reached"] = None
        except asyncio.CancelledError:
            details["provider_reached"] = None
            await self._bypass_recorder.record_event(BYPASS_EVENT_KIND, details)
            raise
        else:
            details["provider_reached"] = report.provider_reached
            details["provider_channel"] = report.provider_channel
        finally:
            if self._reports.get(bypass.uniqueid) is waiting:
                del self._reports[bypass.uniqueid]
        await self._bypass_recorder.record_event(BYPASS_EVENT_KIND, details)

    async def _record_gap(self, state: str, detail: str) -> None:
        await self._bypass_recorder.record_event(
            WATCH_GAP_EVENT_KIND, {"state": state, "detail": detail}
        )

    async def _record_outcome(self, outcome: Outcome) -> None:
        await self._outcome_recorder.record_outcome(outcome.uniqueid, outcome.fields)
