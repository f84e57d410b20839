"""The standby watch: probe results become a role, the peer's answer is read as untrusted JSON."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from types import MappingProxyType

import pytest
from gatekeeper.ami.bypass import PENDING_GRACE_S, Bypass, BypassDetector
from gatekeeper.ami.client import AmiEvent
from gatekeeper.ami.settings import PeerHealth, StandbySettings
from gatekeeper.ami.standby import (
    ANSWER_LIMIT_BYTES,
    KEEP_AFTER_HANGUP_S,
    InFlight,
    ProbeResult,
    Role,
    RoleMachine,
    StandbyWatch,
    judge,
    probe,
)
from gatekeeper.serve.metrics import Metrics

TRUNK = "trunk"
UP = ProbeResult(vouches=True, detail="up")
DOWN = ProbeResult(vouches=False, detail="unreachable: Connection refused")


class FakeClock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        """The time the test set."""
        return self.now


def _machine(clock: FakeClock | None = None) -> RoleMachine:
    return RoleMachine(fail_after=2, recover_after=4, clock=clock or FakeClock())


def _feed(machine: RoleMachine, *results: ProbeResult) -> list[tuple[Role, Role]]:
    switches = [machine.observe(result) for result in results]
    return [(s.before, s.after) for s in switches if s is not None]


def _report(
    *,
    ami_ok: object = True,
    watch: object = None,
    contexts: tuple[str, ...] = (TRUNK,),
) -> bytes:
    primary = {"role": "active", "standby_for": None, "gated_contexts": list(contexts)}
    section = primary if watch is None else watch
    document = {
        "status": "ok",
        "checks": {"ami": {"ok": ami_ok, "detail": "logged in"}},
        "watch": section,
    }
    return json.dumps(document).encode()


def test_the_role_starts_active() -> None:
    """Before any probe the watchdog acts: nobody has vouched for the peer yet."""
    assert _machine().role is Role.ACTIVE


def test_a_first_vouching_probe_makes_standby_at_once() -> None:
    """The first result decides alone: a healthy peer at start makes the node standby."""
    assert _feed(_machine(), UP) == [(Role.ACTIVE, Role.STANDBY)]


def test_a_first_failing_probe_keeps_active_without_a_switch() -> None:
    """A peer down at start leaves the node active, and that is no switch."""
    machine = _machine()
    assert (_feed(machine, DOWN), machine.role) == ([], Role.ACTIVE)


def test_at_start_the_first_vouching_probe_decides_even_after_failures() -> None:
    """A peer still logging in when this node starts: its first vouching probe makes standby."""
    assert _feed(_machine(), DOWN, DOWN, DOWN, UP) == [(Role.ACTIVE, Role.STANDBY)]


def test_one_failed_probe_does_not_make_active() -> None:
    """A single lost probe (fail_after 2) leaves a standby node standing by."""
    machine = _machine()
    assert (_feed(machine, UP, DOWN), machine.role) == (
        [(Role.ACTIVE, Role.STANDBY)],
        Role.STANDBY,
    )


def test_fail_after_failures_in_a_row_make_active() -> None:
    """Two failed probes in a row switch a standby node to active."""
    machine = _machine()
    assert _feed(machine, UP, DOWN, DOWN)[-1] == (Role.STANDBY, Role.ACTIVE)


def test_a_vouching_probe_between_failures_restarts_the_count() -> None:
    """Failures must be consecutive: DOWN, UP, DOWN is no switch."""
    machine = _machine()
    assert (_feed(machine, UP, DOWN, UP, DOWN), machine.role) == (
        [(Role.ACTIVE, Role.STANDBY)],
        Role.STANDBY,
    )


def test_recover_after_successes_in_a_row_make_standby_again() -> None:
    """Once active, four vouching probes in a row (not three) make the node standby."""
    machine = _machine()
    _feed(machine, UP, DOWN, DOWN)
    assert _feed(machine, UP, UP, UP) == []
    assert _feed(machine, UP) == [(Role.ACTIVE, Role.STANDBY)]


def test_a_failure_during_recovery_restarts_the_count() -> None:
    """UP x3, DOWN, UP x3 after a takeover keeps the node active."""
    machine = _machine()
    _feed(machine, UP, DOWN, DOWN)
    assert (_feed(machine, UP, UP, UP, DOWN, UP, UP, UP), machine.role) == ([], Role.ACTIVE)


def test_the_switch_says_why() -> None:
    """A takeover names the count and the last probe's detail."""
    machine = _machine()
    _feed(machine, UP, DOWN)
    switch = machine.observe(DOWN)
    assert switch is not None
    assert switch.why == "peer failed 2 probes in a row: unreachable: Connection refused"


def test_since_counts_from_the_last_change_of_the_peers_state() -> None:
    """`since_s` is how long the peer has vouched (or not), on the injected clock."""
    clock = FakeClock()
    machine = _machine(clock)
    machine.observe(UP)
    clock.now += 3.0
    machine.observe(UP)
    assert machine.since_s == 3.0
    machine.observe(DOWN)
    clock.now += 0.5
    assert machine.since_s == 0.5


def test_a_peer_with_its_ami_link_up_vouches() -> None:
    """The answer of a primary, logged in and guarding our contexts, vouches."""
    assert judge(200, _report(), [TRUNK]).vouches


def test_a_peer_unhealthy_for_another_reason_still_vouches() -> None:
    """503 (a stale list, say) with the AMI link up: its watchdog still watches."""
    assert judge(503, _report(), [TRUNK]).vouches


def test_a_peer_whose_ami_link_is_down_does_not_vouch() -> None:
    """Status ok but `checks.ami.ok` false: fail closed, the peer's watchdog sees nothing."""
    result = judge(200, _report(ami_ok=False), [TRUNK])
    assert (result.vouches, result.detail) == (False, "peer's AMI link is down: logged in")


def test_an_ami_ok_that_is_not_true_does_not_vouch() -> None:
    """Only the JSON value true counts: "true" or 1 does not."""
    assert not any(judge(200, _report(ami_ok=v), [TRUNK]).vouches for v in ("true", 1, None))


def test_a_peer_that_is_itself_a_standby_does_not_vouch() -> None:
    """Two standbys would watch nothing: a peer with standby_for never vouches."""
    watch = {"role": "active", "standby_for": "http://10.0.0.2:9573/healthz"}
    result = judge(200, _report(watch={**watch, "gated_contexts": [TRUNK]}), [TRUNK])
    assert (result.vouches, "itself a standby" in result.detail) == (False, True)


def test_a_peer_that_does_not_guard_our_contexts_does_not_vouch() -> None:
    """A context this node guards and the peer does not is named."""
    result = judge(200, _report(contexts=("other",)), [TRUNK, "other"])
    assert (result.vouches, result.detail) == (False, "the peer does not guard trunk")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[" * 100_000,
        b'"a string"',
        b'{"checks": []}',
        b'{"checks": {"ami": {"ok": true}}}',
        b'{"checks": {"ami": {"ok": true}}, "watch": {"role": "active", "standby_for": null}}',
    ],
    ids=["garbage", "deep", "string", "checks-list", "no-watch", "no-contexts"],
)
def test_an_answer_of_another_shape_does_not_vouch(body: bytes) -> None:
    """Anything but the expected document (hostile, old, truncated) is a failed probe."""
    assert not judge(200, body, [TRUNK]).vouches


def test_other_statuses_do_not_vouch() -> None:
    """Only 200 and 503 carry the report: a 404 from something else on the port does not."""
    assert judge(404, _report(), [TRUNK]).detail == "answered HTTP 404"


def test_peer_text_in_a_detail_is_escaped_and_bounded() -> None:
    """The peer's AMI detail reaches logs and the record printable and cut."""
    body = json.dumps({"checks": {"ami": {"ok": False, "detail": "\x1b[31m" + "x" * 500}}}).encode()
    detail = judge(200, body, [TRUNK]).detail
    assert detail.startswith("peer's AMI link is down: \\x1b[31m")
    assert len(detail) < 300


@asynccontextmanager
async def _peer(
    answer: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[PeerHealth]:
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield PeerHealth("127.0.0.1", server.sockets[0].getsockname()[1])
    finally:
        server.close()


@pytest.mark.asyncio
async def test_a_peer_that_never_answers_fails_within_the_timeout() -> None:
    """A peer that accepts and stays silent costs one timeout, then counts as failed."""
    gate = asyncio.Event()

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await gate.wait()
        writer.close()

    async with _peer(silent) as peer:
        result = await probe(peer, 0.2, [TRUNK])
        gate.set()
    assert (result.vouches, result.detail) == (False, "no answer within 0.2 s")


@pytest.mark.asyncio
async def test_an_oversized_answer_is_refused() -> None:
    """An answer beyond 64 KiB is not read further and does not vouch."""

    async def flood(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n\r\n" + b" " * (ANSWER_LIMIT_BYTES + 10) + _report())
        await writer.drain()
        writer.close()

    async with _peer(flood) as peer:
        result = await probe(peer, 2.0, [TRUNK])
    assert (result.vouches, result.detail) == (False, "answer larger than 65536 bytes")


@pytest.mark.asyncio
async def test_a_real_looking_answer_over_http_vouches() -> None:
    """The probe speaks HTTP/1.1 and reads the body of a well-formed answer."""

    async def healthy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = _report()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    async with _peer(healthy) as peer:
        assert (await probe(peer, 2.0, [TRUNK])).vouches


@pytest.mark.asyncio
async def test_a_closed_port_is_unreachable() -> None:
    """Nothing listening: the probe fails at once, naming the refusal."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
    result = await probe(PeerHealth("127.0.0.1", port), 2.0, [TRUNK])
    assert (result.vouches, result.detail.startswith("unreachable: ")) == (False, True)


class RefusingLog:
    """A decision log that cannot record (implements RoleRecorder)."""

    async def record_event(self, kind: str, details: Mapping[str, object]) -> str:
        """Fail like a full disk."""
        raise OSError(28, "No space left on device")


class KeepingLog:
    """A decision log that keeps what it is given (implements RoleRecorder)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Mapping[str, object]]] = []

    async def record_event(self, kind: str, details: Mapping[str, object]) -> str:
        """Keep the event."""
        self.events.append((kind, dict(details)))
        return str(len(self.events))


def _settings() -> StandbySettings:
    return StandbySettings(PeerHealth("10.0.0.1", 9573))


@pytest.mark.asyncio
async def test_a_switch_to_standby_that_cannot_be_recorded_keeps_the_node_active() -> None:
    """Standing by is never unrecorded: a refused record leaves the watchdog acting."""
    watch = StandbyWatch(_settings(), [TRUNK], RefusingLog(), Metrics())
    await watch.observe(UP)
    assert watch.active


@pytest.mark.asyncio
async def test_each_switch_is_recorded_as_a_watch_role_event() -> None:
    """Standby then takeover: two `watch_role` records with from, to, why and the peer."""
    log = KeepingLog()
    watch = StandbyWatch(_settings(), [TRUNK], log, Metrics())
    for result in (UP, DOWN, DOWN):
        await watch.observe(result)
    assert [(kind, d["from"], d["to"], d["peer"]) for kind, d in log.events] == [
        ("watch_role", "active", "standby", "http://10.0.0.1:9573/healthz"),
        ("watch_role", "standby", "active", "http://10.0.0.1:9573/healthz"),
    ]


@pytest.mark.asyncio
async def test_the_health_section_shows_role_and_peer() -> None:
    """`/healthz`'s watch section says standby, whom for, and what the peer last said."""
    watch = StandbyWatch(_settings(), [TRUNK], KeepingLog(), Metrics(), clock=FakeClock())
    await watch.observe(UP)
    section = watch.section()
    assert (section["role"], section["standby_for"], section["peer"]) == (
        "standby",
        "http://10.0.0.1:9573/healthz",
        {
            "vouches": True,
            "detail": "up",
            "for_s": 0.0,
            "failures_in_a_row": 0,
            "successes_in_a_row": 1,
        },
    )


def _event(name: str, **fields: str) -> AmiEvent:
    return AmiEvent(name, MappingProxyType(fields))


def _trunk_leg(n: int) -> list[AmiEvent]:
    """Both halves of `Local/N@trunk-n` born in the trunk, and their LocalBridge."""
    base = f"Local/0470999999@{TRUNK}-{n}"
    return [
        _event("Newchannel", Channel=f"{base};1", Context=TRUNK, Exten="0470999999",
               Uniqueid=f"T{n}", Linkedid=f"A{n}"),
        _event("Newchannel", Channel=f"{base};2", Context=TRUNK, Exten="0470999999",
               Uniqueid=f"U{n}", Linkedid=f"A{n}"),
        _event("LocalBridge", LocalOneUniqueid=f"T{n}", LocalTwoUniqueid=f"U{n}"),
    ]  # fmt: skip


def _second_half_runs(n: int) -> AmiEvent:
    return _event(
        "Newexten",
        Channel=f"Local/0470999999@{TRUNK}-{n};2",
        Context=TRUNK,
        Exten="0470999999",
        Uniqueid=f"U{n}",
        Linkedid=f"A{n}",
        Application="Answer",
    )


def _dial_begin(n: int) -> AmiEvent:
    """The peer's route channel R{n} (allowed by the peer, unknown here) dials the leg."""
    return _event("DialBegin", Channel=f"PJSIP/agent-{n}", Uniqueid=f"R{n}", Linkedid=f"A{n}",
                  DestChannel=f"Local/0470999999@{TRUNK}-{n};1", DestContext=TRUNK,
                  DestExten="0470999999", DestUniqueid=f"T{n}", DestLinkedid=f"A{n}")  # fmt: skip


def _watch(
    detector: BypassDetector, in_flight: InFlight, events: list[AmiEvent], *, passive: bool
) -> list[Bypass]:
    """What the watchdog does with each event: note it, then feed the detector."""
    found: list[Bypass] = []
    for event in events:
        in_flight.note(event, passive=passive)
        found += detector.feed(event)
    return found


def test_a_peers_call_waiting_for_its_dial_begin_across_a_takeover_is_spared() -> None:
    """The detector still holds the half open at the takeover; its late finding is in flight."""
    detector, in_flight = BypassDetector([TRUNK]), InFlight([TRUNK])
    before = _watch(detector, in_flight, [*_trunk_leg(1), _second_half_runs(1)], passive=True)
    [after] = _watch(detector, in_flight, [_dial_begin(1)], passive=False)
    assert (before, after.uniqueid, in_flight.began_before(after)) == ([], "T1", True)


def test_a_call_reaching_the_trunk_after_the_takeover_is_not_spared() -> None:
    """Only new calls are cut after a takeover: a leg born after it is no call in flight."""
    detector, in_flight = BypassDetector([TRUNK]), InFlight([TRUNK])
    _watch(detector, in_flight, [*_trunk_leg(1), _second_half_runs(1)], passive=True)
    [found] = _watch(detector, in_flight, [*_trunk_leg(2), _dial_begin(2)], passive=False)
    assert (found.uniqueid, in_flight.began_before(found)) == ("T2", False)


def test_a_peers_waiting_half_that_hung_up_before_a_takeover_is_spared() -> None:
    """The detector reports a waiting half after its grace even if it hung up: still in flight."""
    clock = FakeClock()
    detector, in_flight = BypassDetector([TRUNK], clock), InFlight([TRUNK], clock=clock)
    hangups = [_event("Hangup", Uniqueid=u) for u in ("U1", "T1")]
    _watch(detector, in_flight, [*_trunk_leg(1), _second_half_runs(1), *hangups], passive=True)
    clock.now += PENDING_GRACE_S
    [late] = detector.expire()
    assert (late.uniqueid, in_flight.began_before(late)) == ("U1", True)


def test_a_channel_in_flight_is_forgotten_after_its_hangup() -> None:
    """The note outlives the channel by KEEP_AFTER_HANGUP_S, then goes at the next Hangup."""
    clock = FakeClock()
    in_flight = InFlight([TRUNK], clock=clock)
    for event in _trunk_leg(1):
        in_flight.note(event, passive=True)
    for uniqueid in ("T1", "U1"):
        in_flight.note(_event("Hangup", Uniqueid=uniqueid), passive=False)
    kept = len(in_flight)
    clock.now += KEEP_AFTER_HANGUP_S + 1
    in_flight.note(_event("Hangup", Uniqueid="other"), passive=False)
    assert (kept, len(in_flight)) == (2, 0)


def test_channels_in_flight_are_bounded_and_the_oldest_goes_first() -> None:
    """Past the limit the oldest note is dropped (its call may then be cut: closed)."""
    in_flight = InFlight([TRUNK], limit=2)
    for n in (1, 2):
        for event in _trunk_leg(n):
            in_flight.note(event, passive=True)
    oldest = Bypass("c", "T1", "A1", TRUNK, "0470999999", "DialBegin", "", "")
    newest = Bypass("c", "U2", "A2", TRUNK, "0470999999", "DialBegin", "", "")
    assert (len(in_flight), in_flight.began_before(oldest), in_flight.began_before(newest)) == (
        2,
        False,
        True,
    )
