"""The watchdog against a real Asterisk: unchecked calls are cut and recorded, outcomes learnt.

Besides the shipped example route and trunk, the sandbox gets test-only dialplan: a trunk that
dials a provider leg (IAX2 to a UDP port the test holds, so a leg that began is also seen on the
wire), the same trunk without the guard, a route that checks one number and dials another, and
a route that jumps into a trunk without any check.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
import structlog
from gatekeeper.ami.client import AmiClient, AmiEvent, Subscription
from gatekeeper.ami.settings import BypassAction
from gatekeeper.ami.watchdog import BYPASS_HANGUP_CAUSE, Watchdog
from gatekeeper.rules.numbers import InvalidNumber, normalise
from tools.asterisk_sandbox import DEFAULT_ROOT, READY_MARK, AsteriskSandbox, free_port

from ami_support import EVENT_WAIT_S, MemoryLog, next_event, serve_agi

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

TRUNK = "gatekeeper-example-trunk"
ROUTE = "gatekeeper-example-outbound"
NUMBER = "0470999999"
OTHER_NUMBER = "0470123456"
BYPASS_DEADLINE_S = 1.0
TAKEOVER_AFTER_S = 0.1
PROVIDER_TRUNK = "test-provider-trunk"
UNGUARDED_TRUNK = "test-unguarded-trunk"
LYING_ROUTE = "test-lying-route"
HONEST_ROUTE = "test-honest-route"
GOTO_ROUTE = "test-goto-route"
DECISION_ID = "0ABCDEFGH0001"
STANDIN_TRUNK = "test-unguarded-standin"
GATED = (TRUNK, PROVIDER_TRUNK, UNGUARDED_TRUNK, STANDIN_TRUNK)

TEST_DIALPLAN = """
[test-provider-trunk]
exten => _[+0-9].,1,Gosub(gatekeeper-guard,s,1(${{EXTEN}}))
 same => n,Dial(IAX2/127.0.0.1:{port}/${{EXTEN}},3)
 same => n,Hangup()

[test-unguarded-trunk]
exten => _[+0-9].,1,Dial(IAX2/127.0.0.1:{port}/${{EXTEN}},3)
 same => n,Hangup()

; The example stand-in trunk as it was before the guard: only the watchdog stands in the way.
[test-unguarded-standin]
exten => _[+0-9].,1,Answer()
 same => n,Wait(2)
 same => n,Hangup()

; Checks the number in SOME_VAR, then dials its own extension into the trunk named by TO_TRUNK.
[test-lying-route]
exten => _X.,1,Set(SOME_VAR={checked})
 same => n,Gosub(gatekeeper-check,s,1(${{SOME_VAR}},${{GK_CAMPAIGN}}))
 same => n,GotoIf($["${{GK_DECISION}}" != "ALLOW"]?refused)
 same => n,Dial(Local/${{EXTEN}}@${{TO_TRUNK}})
 same => n(refused),Hangup(21)

[test-honest-route]
exten => _X.,1,Gosub(gatekeeper-check,s,1(${{EXTEN}},${{GK_CAMPAIGN}}))
 same => n,GotoIf($["${{GK_DECISION}}" != "ALLOW"]?refused)
 same => n,Dial(Local/${{EXTEN}}@${{TO_TRUNK}})
 same => n(refused),Hangup(21)

[test-goto-route]
exten => _X.,1,Goto(${{TO_TRUNK}},${{EXTEN}},1)
"""


class Provider:
    """The far end of the provider leg: a UDP port that counts what Asterisk sends it."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.setblocking(False)  # noqa: FBT003 - the socket API
        self.port: int = self.socket.getsockname()[1]

    def drain(self) -> int:
        """How many datagrams arrived since the last drain."""
        count = 0
        while True:
            try:
                self.socket.recv(4096)
            except BlockingIOError:
                return count
            count += 1


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    """The provider's UDP port for the module."""
    far_end = Provider()
    try:
        yield far_end
    finally:
        far_end.socket.close()


@pytest.fixture(scope="module")
def sandbox(provider: Provider) -> Iterator[AsteriskSandbox]:
    """One real Asterisk for the module; its gatekeeper-check calls the port tests serve."""
    if not (DEFAULT_ROOT / READY_MARK).exists():
        pytest.fail("the Asterisk sandbox is not installed: run `make asterisk`")
    running = AsteriskSandbox(
        agi_port=free_port(),
        agi_timeout_s=2,
        extra_dialplan=TEST_DIALPLAN.format(port=provider.port, checked=NUMBER),
        extra_modules=("chan_iax2.so",),
        extra_configs={"iax.conf": f"[general]\nbindaddr = 127.0.0.1\nbindport = {free_port()}\n"},
    )
    with running:
        yield running


@dataclass
class Guarded:
    """A running watchdog, its client, its log and a subscription of the test's own."""

    client: AmiClient
    watchdog: Watchdog
    log: MemoryLog
    events: Subscription


@dataclass
class SwitchedDuty:
    """A standby node's role, set by the test (implements watchdog.Duty)."""

    active: bool = False
    spared_as: list[str] = field(default_factory=list)

    def spared(self, when: str) -> None:
        """Keep why a finding was not acted on."""
        self.spared_as.append(when)


async def _guarded(
    sandbox: AsteriskSandbox, on_bypass: BypassAction, duty: SwitchedDuty | None = None
) -> AsyncIterator[Guarded]:
    client = await AmiClient.connect(
        "127.0.0.1", sandbox.ami_port, sandbox.ami_username, sandbox.ami_secret
    )
    memory = MemoryLog()
    watchdog = Watchdog(
        gated_contexts=GATED,
        on_bypass=on_bypass,
        bypass_recorder=memory,
        outcome_recorder=memory,
        duty=duty,
    )
    watchdog.attach(client)
    running = asyncio.create_task(watchdog.run())
    try:
        async with client.subscription() as events:
            yield Guarded(client, watchdog, memory, events)
    finally:
        await client.close()
        await running


@pytest_asyncio.fixture
async def guarded(sandbox: AsteriskSandbox) -> AsyncIterator[Guarded]:
    """A watchdog that hangs bypasses up."""
    async for running in _guarded(sandbox, BypassAction.HANGUP):
        yield running


@pytest_asyncio.fixture
async def alerting(sandbox: AsteriskSandbox) -> AsyncIterator[Guarded]:
    """A watchdog that only alerts."""
    async for running in _guarded(sandbox, BypassAction.ALERT):
        yield running


@pytest.fixture
def duty() -> SwitchedDuty:
    """A standby role, passive until the test makes it active."""
    return SwitchedDuty()


@pytest_asyncio.fixture
async def standing_by(sandbox: AsteriskSandbox, duty: SwitchedDuty) -> AsyncIterator[Guarded]:
    """A watchdog that hangs bypasses up only while `duty` is active."""
    async for running in _guarded(sandbox, BypassAction.HANGUP, duty):
        yield running


async def _decide(sandbox: AsteriskSandbox, watchdog: Watchdog, verdict: str) -> asyncio.Server:
    """Serve the AGI check: tell the watchdog first, then answer Asterisk."""

    async def answer(environment: dict[str, str]) -> Mapping[str, str]:
        number = normalise(environment["agi_arg_1"])
        e164 = "" if isinstance(number, InvalidNumber) else number.e164
        if verdict == "ALLOW":
            watchdog.allowed(environment["agi_uniqueid"], "", e164)
        else:
            watchdog.blocked(environment["agi_uniqueid"], "")
        return {
            "GK_DECISION_ID": DECISION_ID,
            "GK_REASON": "test",
            "GK_NUMBER": e164,
            "GK_DECISION": verdict,
        }

    return await serve_agi(sandbox.agi_port, answer)


async def _originate(
    client: AmiClient,
    context: str,
    *,
    campaign: str = "",
    hold: str = "2",
    number: str = NUMBER,
    to_trunk: str = "",
) -> tuple[str, str]:
    first = f"gk-{uuid.uuid4().hex[:12]}"
    variables = {"GK_CAMPAIGN": campaign} if campaign else {}
    if to_trunk:
        variables["TO_TRUNK"] = to_trunk
    await client.originate(
        f"Local/{number}@{context}",
        application="Wait",
        data=hold,
        variables=variables,
        channel_id=first,
        other_channel_id=f"{first}-2",
    )
    return first, f"{first}-2"


async def test_call_straight_into_trunk_is_hung_up_within_a_second(guarded: Guarded) -> None:
    """An Originate into the gated trunk, skipping the check, is hung up before 1 s is out."""
    first, _ = await _originate(guarded.client, STANDIN_TRUNK)
    async with asyncio.timeout(BYPASS_DEADLINE_S):
        hangup = await next_event(guarded.events, "Hangup", Uniqueid=first)
    assert hangup.get("Cause") == str(BYPASS_HANGUP_CAUSE)


async def test_call_straight_into_trunk_is_recorded_as_bypass(guarded: Guarded) -> None:
    """The bypass is recorded with the channel, its context and number, and the hangup done."""
    first, _ = await _originate(guarded.client, STANDIN_TRUNK)
    details = await guarded.log.bypass_for(first)
    assert (details["context"], details["exten"], details["action"], details["hung_up"]) == (
        STANDIN_TRUNK,
        NUMBER,
        "hangup",
        True,
    )


async def test_alert_mode_records_the_bypass_and_lets_the_call_be(alerting: Guarded) -> None:
    """With on_bypass: alert the bypass is recorded, and the trunk ends the call itself."""
    first, second = await _originate(alerting.client, STANDIN_TRUNK, hold="5")
    details = await alerting.log.bypass_for(first)
    hangup = await next_event(alerting.events, "Hangup", Uniqueid=second)
    assert (details["action"], details["hung_up"], hangup.get("Cause")) == ("alert", False, "16")


async def test_call_in_the_trunk_before_a_takeover_is_not_cut_after_it(
    standing_by: Guarded, duty: SwitchedDuty
) -> None:
    """A call found in the trunk while standing by (the peer's call) is left up once active."""
    _, second = await _originate(standing_by.client, STANDIN_TRUNK, hold="5")
    await next_event(standing_by.events, "Newexten", Uniqueid=second, Context=STANDIN_TRUNK)
    await asyncio.sleep(TAKEOVER_AFTER_S)
    duty.active = True
    hangup = await next_event(standing_by.events, "Hangup", Uniqueid=second)
    assert (hangup.get("Cause"), standing_by.log.events, duty.spared_as) == (
        "16",
        [],
        ["standby"],
    )


async def test_allowed_call_reaches_trunk_untouched(
    sandbox: AsteriskSandbox, guarded: Guarded
) -> None:
    """A call the checker allowed reaches the trunk and no bypass is recorded."""
    server = await _decide(sandbox, guarded.watchdog, "ALLOW")
    try:
        _, route = await _originate(guarded.client, ROUTE, campaign="spring-promo")
        await next_event(guarded.events, "UserEvent", UserEvent="GatekeeperTrunkReached")
        await guarded.log.outcome_of(route)
    finally:
        server.close()
        await server.wait_closed()
    assert guarded.log.events == []


async def test_allowed_call_gets_an_answered_outcome(
    sandbox: AsteriskSandbox, guarded: Guarded
) -> None:
    """An allowed call that the trunk answers is recorded as answered, with its talk time."""
    server = await _decide(sandbox, guarded.watchdog, "ALLOW")
    try:
        _, route = await _originate(guarded.client, ROUTE, campaign="spring-promo")
        outcome = await guarded.log.outcome_of(route)
    finally:
        server.close()
        await server.wait_closed()
    talk = outcome["talk_seconds"]
    assert isinstance(talk, float)
    assert (outcome["result"], outcome["dial_status"], outcome["reached_network"], talk > 0) == (
        "answered",
        "ANSWER",
        True,
        True,
    )


async def test_blocked_call_gets_a_not_dialled_outcome(
    sandbox: AsteriskSandbox, guarded: Guarded
) -> None:
    """A blocked call is recorded as never dialled, with the route's hangup cause."""
    server = await _decide(sandbox, guarded.watchdog, "BLOCK")
    try:
        _, route = await _originate(guarded.client, ROUTE, campaign="spring-promo")
        outcome = await guarded.log.outcome_of(route)
    finally:
        server.close()
        await server.wait_closed()
    assert (outcome["result"], outcome["reached_network"], outcome["hangup_cause"]) == (
        "not_dialled",
        False,
        21,
    )


async def test_bypass_log_line_names_no_number(guarded: Guarded) -> None:
    """The `ami_bypass` journal line shows neither the number nor a channel name holding it."""
    with structlog.testing.capture_logs() as logs:
        first, _ = await _originate(guarded.client, TRUNK)
        await guarded.log.bypass_for(first)
    lines = [json.dumps(line) for line in logs if line["event"] == "ami_bypass"]
    assert (len(lines), NUMBER in lines[0]) == (1, False)


@contextlib.asynccontextmanager
async def _explained(state: Callable[[], str]) -> AsyncIterator[None]:
    """EVENT_WAIT_S to wait; a timeout says what was still awaited."""
    try:
        async with asyncio.timeout(EVENT_WAIT_S):
            yield
    except TimeoutError as err:
        raise AssertionError(f"still waiting after {EVENT_WAIT_S} s: {state()}") from err


async def _until_hangup(events: Subscription, linkedid: str) -> list[AmiEvent]:
    """The call's events until the guard has spoken and every channel seen has hung up.

    Asterisk publishes each channel's events in order, but not the events of different
    channels: the trunk leg's last steps may arrive after the route's Hangup.
    """
    seen: list[AmiEvent] = []
    alive: set[str] = set()
    gone: set[str] = set()
    async with _explained(lambda: f"up: {sorted(alive)}, seen: {[e.name for e in seen]}"):
        while alive or not any(_is_guard_verdict(e) for e in seen):
            event = await events.get()
            if event.get("Linkedid") != linkedid:
                continue
            seen.append(event)
            uniqueid = event.get("Uniqueid")
            if event.name == "Hangup":
                alive.discard(uniqueid)
                gone.add(uniqueid)
            elif uniqueid and uniqueid not in gone:
                alive.add(uniqueid)
    return seen


def _is_guard_verdict(event: AmiEvent) -> bool:
    return (
        event.name == "VarSet" and event.get("Variable") == "GK_GUARD" and bool(event.get("Value"))
    )


def _provider_dials(seen: list[AmiEvent]) -> list[str]:
    return [
        e.get("DestChannel")
        for e in seen
        if e.name == "DialBegin" and not e.get("DestChannel").startswith("Local/")
    ]


def _guard_reasons(seen: list[AmiEvent]) -> list[str]:
    return [
        e.get("Value")
        for e in seen
        if e.name == "VarSet" and e.get("Variable") == "GK_GUARD_REASON" and e.get("Value")
    ]


@contextlib.asynccontextmanager
async def _lying_call(
    sandbox: AsteriskSandbox, running: Guarded, trunk: str, dialled: str = OTHER_NUMBER
) -> AsyncIterator[str]:
    """The lying route checks NUMBER (allowed) and dials `dialled` into `trunk`; its linked id.

    The AGI check answers for as long as the block runs.
    """
    server = await _decide(sandbox, running.watchdog, "ALLOW")
    try:
        first, _ = await _originate(
            running.client,
            LYING_ROUTE,
            campaign="spring-promo",
            number=dialled,
            to_trunk=trunk,
        )
        yield first
    finally:
        server.close()
        await server.wait_closed()


async def _trunk_dial(running: Guarded, trunk: str) -> AmiEvent:
    """The DialBegin of the lying route's leg into `trunk`."""
    return await next_event(running.events, "DialBegin", DestContext=trunk)


async def test_route_dialling_another_number_than_checked_is_cut_within_a_second(
    sandbox: AsteriskSandbox, guarded: Guarded
) -> None:
    """Without the guard, the watchdog hangs up a trunk leg for another number within 1 s."""
    async with _lying_call(sandbox, guarded, UNGUARDED_TRUNK):
        dial = await _trunk_dial(guarded, UNGUARDED_TRUNK)
        async with asyncio.timeout(BYPASS_DEADLINE_S):
            hangup = await next_event(guarded.events, "Hangup", Uniqueid=dial.get("DestUniqueid"))
    assert hangup.get("Cause") == str(BYPASS_HANGUP_CAUSE)


async def test_route_dialling_another_number_than_checked_is_recorded_with_both(
    sandbox: AsteriskSandbox, guarded: Guarded
) -> None:
    """The bypass record names the number dialled, the number allowed, and the reason."""
    async with _lying_call(sandbox, guarded, UNGUARDED_TRUNK):
        dial = await _trunk_dial(guarded, UNGUARDED_TRUNK)
        details = await guarded.log.bypass_for(dial.get("DestUniqueid"))
    assert (
        details["reason"],
        details["exten"],
        details["allowed_number"],
        isinstance(details["provider_reached"], bool),
    ) == ("number_mismatch", OTHER_NUMBER, "+32470999999", True)


async def test_outcome_of_a_diverted_call_is_not_filed_under_the_allowed_number(
    sandbox: AsteriskSandbox, guarded: Guarded
) -> None:
    """The decision for the checked number gets a `bypassed` outcome, not the other call's."""
    async with _lying_call(sandbox, guarded, UNGUARDED_TRUNK):
        dial = await _trunk_dial(guarded, UNGUARDED_TRUNK)
        outcome = await guarded.log.outcome_of(dial.get("Uniqueid"))
    assert (outcome["result"], outcome["attempts"], outcome["bypass"]) == ("bypassed", 0, True)


async def test_guard_stops_a_number_mismatch_before_the_provider(
    sandbox: AsteriskSandbox, alerting: Guarded, provider: Provider
) -> None:
    """The guard refuses a trunk leg whose number is not the one allowed: no provider leg."""
    provider.drain()
    async with _lying_call(sandbox, alerting, PROVIDER_TRUNK) as linkedid:
        seen = await _until_hangup(alerting.events, linkedid)
    [dial] = [e for e in seen if e.name == "DialBegin" and e.get("DestContext") == PROVIDER_TRUNK]
    details = await alerting.log.bypass_for(dial.get("DestUniqueid"))
    assert (
        _provider_dials(seen),
        _guard_reasons(seen),
        details["provider_reached"],
        provider.drain(),
    ) == ([], ["number_mismatch"], False, 0)


async def test_guard_compares_numbers_as_text(
    sandbox: AsteriskSandbox, alerting: Guarded, provider: Provider
) -> None:
    """The checked 0470999999 does not let 470999999 through (equal only as integers)."""
    provider.drain()
    async with _lying_call(sandbox, alerting, PROVIDER_TRUNK, dialled=NUMBER[1:]) as linkedid:
        seen = await _until_hangup(alerting.events, linkedid)
    assert (_provider_dials(seen), _guard_reasons(seen), provider.drain()) == (
        [],
        ["number_mismatch"],
        0,
    )


async def test_guard_stops_a_goto_into_the_trunk_before_any_dial(
    alerting: Guarded, provider: Provider
) -> None:
    """A route that jumps into the trunk without a check is refused before any DialBegin."""
    provider.drain()
    first, second = await _originate(alerting.client, GOTO_ROUTE, to_trunk=PROVIDER_TRUNK)
    seen = await _until_hangup(alerting.events, first)
    details = await alerting.log.bypass_for(second)
    assert (
        _provider_dials(seen),
        _guard_reasons(seen),
        details["provider_reached"],
        provider.drain(),
    ) == ([], ["no_allow"], False, 0)


async def test_guard_stops_an_originate_straight_into_the_trunk(
    alerting: Guarded, provider: Provider
) -> None:
    """An Originate into the guarded trunk never reaches the provider."""
    provider.drain()
    first, _ = await _originate(alerting.client, PROVIDER_TRUNK)
    seen = await _until_hangup(alerting.events, first)
    details = await alerting.log.bypass_for(first)
    assert (
        _provider_dials(seen),
        _guard_reasons(seen),
        details["provider_reached"],
        provider.drain(),
    ) == ([], ["no_allow"], False, 0)


async def test_allowed_call_passes_the_guard_to_the_provider(
    sandbox: AsteriskSandbox, guarded: Guarded, provider: Provider
) -> None:
    """A call allowed for the very number it dials gets past the guard to the provider."""
    provider.drain()
    server = await _decide(sandbox, guarded.watchdog, "ALLOW")
    try:
        first, _ = await _originate(
            guarded.client, HONEST_ROUTE, campaign="spring-promo", to_trunk=PROVIDER_TRUNK
        )
        seen = await _until_hangup(guarded.events, first)
    finally:
        server.close()
        await server.wait_closed()
    dials = _provider_dials(seen)
    assert (len(dials), _guard_reasons(seen), provider.drain() > 0, guarded.log.events) == (
        1,
        [],
        True,
        [],
    )


async def test_bypass_that_reached_the_provider_says_so(
    alerting: Guarded, provider: Provider
) -> None:
    """Without the guard and with alert only, the record names the provider leg that began."""
    provider.drain()
    _, second = await _originate(alerting.client, GOTO_ROUTE, to_trunk=UNGUARDED_TRUNK)
    details = await alerting.log.bypass_for(second)
    channel = details["provider_channel"]
    assert isinstance(channel, str)
    assert (details["provider_reached"], channel.startswith("IAX2/")) == (True, True)
