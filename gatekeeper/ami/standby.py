"""The standby watch: this node's watchdog acts only while its peer's cannot.

Theory of operation: with `ami.standby_for` set, this node's watchdog is connected and fed every
event as always (its state stays current), but it only *acts* (hangs up, records a bypass)
while the role is `active`. `StandbyWatch.run()` probes the peer's `/healthz` every
`interval_ms`, each probe bounded by `timeout_ms` and a 64 KiB answer, and `judge()` reads the
answer as untrusted JSON: the peer *vouches* only when it answers, its `ami` check is ok (its
watchdog is logged in), it is itself a primary (no `standby_for`: two standbys would watch
nothing) and it guards at least this node's gated contexts. Anything else, including a
document of another shape, does not vouch. `RoleMachine` turns the results into the role:
`fail_after` failures in a row make a standby active, `recover_after` successes in a row make
it standby again. The role starts active (nobody has vouched yet) and the first vouching probe
makes it standby at once: the counts are there against flapping after a takeover, and at start
there is none (two nodes started together would otherwise cut the peer's first calls). A
switch to active takes effect at once and is then recorded; a switch to standby takes effect
only once its record is durable (a refused record keeps the node active). Every switch is a
`watch_role` event in the decision log, a log line and a metric.

`InFlight` notes every channel seen in a gated context while standing by, until 10 s after its
Hangup. The
detector settles most of them while passive (the peer's calls are findings here, spared), so
their later events find nothing; what the detector still holds open (a Local half waiting for
its partner's DialBegin, a DialBegin to a channel born before) would surface after a takeover,
and `began_before()` spares it: only calls that reach a gated context after the takeover are cut.
"""

from __future__ import annotations

import asyncio
import enum
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import structlog

from gatekeeper.ami.bypass import Bypass
from gatekeeper.ami.client import AmiEvent
from gatekeeper.ami.settings import PeerHealth, StandbySettings
from gatekeeper.common import shown

WATCH_ROLE_EVENT_KIND = "watch_role"
ANSWER_LIMIT_BYTES = 64 * 1024
DETAIL_LIMIT_CHARS = 200
MAX_IN_FLIGHT = 50_000
"""Gated channels noted while standing by; beyond it the oldest is forgotten (and may be cut)."""
KEEP_AFTER_HANGUP_S = 10.0
"""Longer than the detector holds a finding after a Hangup (its 0.5 s grace, its 5 s reports)."""
VOUCHING_STATUSES = frozenset({200, 503})
"""Both carry the JSON report: a peer unhealthy for another reason (a stale list) still watches."""

log = structlog.get_logger("gatekeeper.ami.standby")


class Role(enum.StrEnum):
    """Whether this node's watchdog acts on what it finds."""

    ACTIVE = "active"
    STANDBY = "standby"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe of the peer: whether it vouches for the watch, and what it said."""

    vouches: bool
    detail: str


@dataclass(frozen=True, slots=True)
class RoleSwitch:
    """A change of role, and why."""

    before: Role
    after: Role
    why: str


def _text(value: object) -> str:
    """Peer-supplied text, printable and bounded, for logs and records."""
    text = shown(str(value))
    if len(text) > DETAIL_LIMIT_CHARS:
        return text[:DETAIL_LIMIT_CHARS] + "..."
    return text


def judge(status: int, body: bytes, gated_contexts: Iterable[str]) -> ProbeResult:
    """Whether the peer's `/healthz` answer (`status`, `body`) vouches for its watch."""
    if status not in VOUCHING_STATUSES:
        return ProbeResult(vouches=False, detail=f"answered HTTP {status}")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return ProbeResult(vouches=False, detail="answer is not a JSON document")
    if not isinstance(document, dict):
        return ProbeResult(vouches=False, detail="answer is not a JSON object")
    checks = document.get("checks")
    ami = checks.get("ami") if isinstance(checks, dict) else None
    if not isinstance(ami, dict):
        return ProbeResult(vouches=False, detail="answer has no ami check")
    if ami.get("ok") is not True:
        return ProbeResult(
            vouches=False, detail=f"peer's AMI link is down: {_text(ami.get('detail'))}"
        )
    watch = document.get("watch")
    if not isinstance(watch, dict):
        return ProbeResult(vouches=False, detail="answer has no watch section")
    if watch.get("standby_for") is not None or watch.get("role") != Role.ACTIVE.value:
        return ProbeResult(
            vouches=False,
            detail="the peer is itself a standby (ami.standby_for on both nodes): nobody watches",
        )
    guarded = watch.get("gated_contexts")
    if not isinstance(guarded, list):
        return ProbeResult(vouches=False, detail="answer's watch section lists no gated contexts")
    missing = sorted(set(gated_contexts) - {c for c in guarded if isinstance(c, str)})
    if missing:
        return ProbeResult(
            vouches=False, detail=f"the peer does not guard {_text(', '.join(missing))}"
        )
    return ProbeResult(vouches=True, detail="peer's watchdog is logged in and guards our contexts")


async def _read_answer(reader: asyncio.StreamReader) -> bytes:
    answer = b""
    while chunk := await reader.read(ANSWER_LIMIT_BYTES + 1 - len(answer)):
        answer += chunk
        if len(answer) > ANSWER_LIMIT_BYTES:
            break
    return answer


def _parse_answer(answer: bytes, gated_contexts: Iterable[str]) -> ProbeResult:
    if len(answer) > ANSWER_LIMIT_BYTES:
        return ProbeResult(vouches=False, detail=f"answer larger than {ANSWER_LIMIT_BYTES} bytes")
    head, sep, body = answer.partition(b"\r\n\r\n")
    status_line = head.partition(b"\r\n")[0].split(b" ", 2)
    if not sep or len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
        return ProbeResult(vouches=False, detail="answer is not HTTP")
    code = status_line[1]
    if not code.isdigit() or len(code) != 3:
        return ProbeResult(vouches=False, detail="answer is not HTTP")
    return judge(int(code), body, gated_contexts)


async def probe(peer: PeerHealth, timeout_s: float, gated_contexts: Iterable[str]) -> ProbeResult:
    """GET the peer's `/healthz` within `timeout_s` and judge the answer; never raises."""
    host = f"[{peer.host}]" if ":" in peer.host else peer.host
    request = (
        f"GET {peer.path} HTTP/1.1\r\nHost: {host}:{peer.port}\r\n"
        "Accept: application/json\r\nConnection: close\r\n\r\n"
    ).encode("ascii", "replace")
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(peer.host, peer.port)
            writer.write(request)
            await writer.drain()
            answer = await _read_answer(reader)
    except TimeoutError:
        return ProbeResult(vouches=False, detail=f"no answer within {timeout_s:g} s")
    except OSError as err:
        return ProbeResult(vouches=False, detail=f"unreachable: {err.strerror or err}")
    finally:
        if writer is not None:
            writer.close()
    return _parse_answer(answer, gated_contexts)


class InFlight:
    """Gated channels seen while standing by, kept a while past their Hangup: the peer's calls.

    A channel is kept `KEEP_AFTER_HANGUP_S` past its Hangup because the detector may still hand
    back a finding about it then (a waiting Local half that hung up is reported when its grace
    is over).
    """

    def __init__(
        self,
        gated_contexts: Iterable[str],
        limit: int = MAX_IN_FLIGHT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._gated = frozenset(gated_contexts)
        self._limit = limit
        self._clock = clock
        self._live: dict[str, None] = {}
        self._gone: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._live) + len(self._gone)

    def note(self, event: AmiEvent, *, passive: bool) -> None:
        """Note a gated channel this event shows while `passive`; let one go after its Hangup."""
        if event.name == "Hangup":
            self._hung_up(event.get("Uniqueid"))
            return
        if not passive:
            return
        if event.name in {"Newchannel", "Newexten"} and event.get("Context") in self._gated:
            uniqueid = event.get("Uniqueid")
        elif event.name == "DialBegin" and event.get("DestContext") in self._gated:
            uniqueid = event.get("DestUniqueid")
        else:
            return
        if uniqueid and uniqueid not in self._live and uniqueid not in self._gone:
            if len(self._live) >= self._limit:
                del self._live[next(iter(self._live))]
            self._live[uniqueid] = None

    def _hung_up(self, uniqueid: str) -> None:
        now = self._clock()
        horizon = now - KEEP_AFTER_HANGUP_S
        while self._gone and next(iter(self._gone.values())) < horizon:
            del self._gone[next(iter(self._gone))]
        if uniqueid in self._live:
            del self._live[uniqueid]
            if len(self._gone) >= self._limit:
                del self._gone[next(iter(self._gone))]
            self._gone[uniqueid] = now

    def began_before(self, bypass: Bypass) -> bool:
        """Whether the finding is about a channel seen in a gated context while standing by."""
        members = (bypass.uniqueid, bypass.partner_uniqueid, bypass.dialled_by_uniqueid)
        return any(m and (m in self._live or m in self._gone) for m in members)


class RoleMachine:
    """Probe results in, role out: `fail_after` failures to act, `recover_after` to stand by."""

    def __init__(
        self,
        *,
        fail_after: int,
        recover_after: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.role = Role.ACTIVE
        self.failures = 0
        self.successes = 0
        self.last: ProbeResult | None = None
        self._stood_by = False
        self._fail_after = fail_after
        self._recover_after = recover_after
        self._clock = clock
        self._since = clock()

    @property
    def since_s(self) -> float:
        """Seconds since the peer's last change between vouching and not (or since start)."""
        return self._clock() - self._since

    def observe(self, result: ProbeResult) -> RoleSwitch | None:
        """Take one probe result; the switch it causes, if any."""
        if self.last is None or self.last.vouches != result.vouches:
            self._since = self._clock()
        self.last = result
        if result.vouches:
            self.failures, self.successes = 0, self.successes + 1
            starting = not self._stood_by
            if self.role is Role.ACTIVE and (starting or self.successes >= self._recover_after):
                self._stood_by = True
                streak = "first vouching probe" if starting else f"{self.successes} in a row"
                return self._switch(Role.STANDBY, f"peer vouches ({streak}): {result.detail}")
            return None
        self.failures, self.successes = self.failures + 1, 0
        if self.role is Role.STANDBY and self.failures >= self._fail_after:
            return self._switch(
                Role.ACTIVE, f"peer failed {self.failures} probes in a row: {result.detail}"
            )
        return None

    def refuse_standby(self, why: str) -> RoleSwitch:
        """The switch to standby could not be kept: back to active, count successes again."""
        self.successes = 0
        return self._switch(Role.ACTIVE, why)

    def _switch(self, to: Role, why: str) -> RoleSwitch:
        switch = RoleSwitch(self.role, to, why)
        self.role = to
        return switch


class RoleRecorder(Protocol):
    """Where role switches are recorded (the decision log implements it)."""

    async def record_event(self, kind: str, details: Mapping[str, object]) -> str:
        """Record one event; returns its id once durable."""


class WatchMetrics(Protocol):
    """The metrics of the watch's role (`serve.metrics.Metrics`)."""

    def set_watch_active(self, active: bool) -> None:
        """Whether this node's watchdog acts on bypasses."""

    def count_watch_switch(self, to: str) -> None:
        """One switch of role, to `to`."""

    def set_peer_vouching(self, vouching: bool | None) -> None:
        """Whether the peer vouched at the last probe (None: no peer, or not probed yet)."""

    def count_standby_finding(self, when: str) -> None:
        """A bypass finding not acted on (`standby`, or `in_flight` at a takeover)."""


class StandbyWatch:
    """Keeps the role of a standby node's watchdog; `await run()` probes until cancelled."""

    def __init__(
        self,
        settings: StandbySettings,
        gated_contexts: Iterable[str],
        recorder: RoleRecorder,
        metrics: WatchMetrics,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._gated = tuple(sorted(set(gated_contexts)))
        self._recorder = recorder
        self._metrics = metrics
        self._machine = RoleMachine(
            fail_after=settings.fail_after, recover_after=settings.recover_after, clock=clock
        )
        self._held_active = False
        self.switches = 0
        metrics.set_watch_active(True)
        metrics.set_peer_vouching(None)

    @property
    def active(self) -> bool:
        """Whether the watchdog acts on what it finds now."""
        return self._machine.role is Role.ACTIVE or self._held_active

    def spared(self, when: str) -> None:
        """A finding was not acted on (`standby`, or `in_flight` at a takeover)."""
        self._metrics.count_standby_finding(when)

    async def run(self) -> None:
        """Probe the peer every `interval_ms` until cancelled, switching role as results say."""
        interval = self._settings.interval_ms / 1000
        timeout = self._settings.timeout_ms / 1000
        while True:
            started = asyncio.get_running_loop().time()
            result = await probe(self._settings.peer, timeout, self._gated)
            await self.observe(result)
            elapsed = asyncio.get_running_loop().time() - started
            await asyncio.sleep(max(0.0, interval - elapsed))

    async def observe(self, result: ProbeResult) -> None:
        """Take one probe result: switch, record and report as it says."""
        self._metrics.set_peer_vouching(result.vouches)
        last = self._machine.last
        if last is None or last.vouches != result.vouches:
            log.info("ami_peer_vouching", vouches=result.vouches, detail=result.detail)
        switch = self._machine.observe(result)
        if switch is None:
            return
        if switch.after is Role.ACTIVE:
            self._switched(switch)
            await self._record(switch)
            return
        self._held_active = True
        try:
            if await self._record(switch):
                self._switched(switch)
            else:
                refused = self._machine.refuse_standby(
                    "the switch to standby could not be recorded"
                )
                log.error("ami_watch_role", **self._fields(refused))
        finally:
            self._held_active = False

    def _switched(self, switch: RoleSwitch) -> None:
        self.switches += 1
        self._metrics.count_watch_switch(switch.after.value)
        self._metrics.set_watch_active(switch.after is Role.ACTIVE)
        log.warning("ami_watch_role", **self._fields(switch))

    async def _record(self, switch: RoleSwitch) -> bool:
        fields = self._fields(switch)
        try:
            await self._recorder.record_event(WATCH_ROLE_EVENT_KIND, fields)
        except Exception:
            log.exception("ami_watch_role_not_recorded", **fields)
            return False
        return True

    def _fields(self, switch: RoleSwitch) -> dict[str, object]:
        return {
            "from": switch.before.value,
            "to": switch.after.value,
            "why": switch.why,
            "peer": str(self._settings.peer),
        }

    def section(self) -> dict[str, object]:
        """The `watch` section of this node's `/healthz`."""
        last = self._machine.last
        return {
            "role": Role.ACTIVE.value if self.active else Role.STANDBY.value,
            "standby_for": str(self._settings.peer),
            "gated_contexts": list(self._gated),
            "switches": self.switches,
            "peer": {
                "vouches": None if last is None else last.vouches,
                "detail": "not probed yet" if last is None else last.detail,
                "for_s": round(self._machine.since_s, 1),
                "failures_in_a_row": self._machine.failures,
                "successes_in_a_row": self._machine.successes,
            },
        }


def primary_section(gated_contexts: Iterable[str]) -> Callable[[], dict[str, object]]:
    """The `watch` section of a node without `ami.standby_for`: always active."""
    guarded = sorted(set(gated_contexts))

    def section() -> dict[str, object]:
        return {"role": Role.ACTIVE.value, "standby_for": None, "gated_contexts": guarded}

    return section
