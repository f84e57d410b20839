"""The watchdog against a real Asterisk: unchecked calls are cut and recorded, outcomes learnt."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass

import pytest
import pytest_asyncio
import structlog
from gatekeeper.ami.client import AmiClient, Subscription
from gatekeeper.ami.watchdog import BYPASS_HANGUP_CAUSE, Watchdog
from gatekeeper.config import BypassAction
from tools.asterisk_sandbox import DEFAULT_ROOT, READY_MARK, AsteriskSandbox, free_port

from ami_support import MemoryLog, next_event, serve_agi

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

TRUNK = "gatekeeper-example-trunk"
ROUTE = "gatekeeper-example-outbound"
NUMBER = "0470999999"
BYPASS_DEADLINE_S = 1.0


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AsteriskSandbox]:
    """One real Asterisk for the module; its gatekeeper-check calls the port tests serve."""
    if not (DEFAULT_ROOT / READY_MARK).exists():
        pytest.fail("the Asterisk sandbox is not installed: run `make asterisk`")
    with AsteriskSandbox(agi_port=free_port(), agi_timeout_s=2) as running:
        yield running


@dataclass
class Guarded:
    """A running watchdog, its client, its log and a subscription of the test's own."""

    client: AmiClient
    watchdog: Watchdog
    log: MemoryLog
    events: Subscription


async def _guarded(sandbox: AsteriskSandbox, on_bypass: BypassAction) -> AsyncIterator[Guarded]:
    client = await AmiClient.connect(
        "127.0.0.1", sandbox.ami_port, sandbox.ami_username, sandbox.ami_secret
    )
    memory = MemoryLog()
    watchdog = Watchdog(
        gated_contexts=[TRUNK],
        on_bypass=on_bypass,
        bypass_recorder=memory,
        outcome_recorder=memory,
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


async def _decide(sandbox: AsteriskSandbox, watchdog: Watchdog, verdict: str) -> asyncio.Server:
    """Serve the AGI check: tell the watchdog first, then answer Asterisk."""

    async def answer(environment: dict[str, str]) -> Mapping[str, str]:
        if verdict == "ALLOW":
            watchdog.allowed(environment["agi_uniqueid"], "")
        else:
            watchdog.blocked(environment["agi_uniqueid"], "")
        return {"GK_DECISION_ID": "1", "GK_REASON": "test", "GK_DECISION": verdict}

    return await serve_agi(sandbox.agi_port, answer)


async def _originate(
    client: AmiClient, context: str, *, campaign: str = "", hold: str = "2"
) -> tuple[str, str]:
    first = f"gk-{uuid.uuid4().hex[:12]}"
    await client.originate(
        f"Local/{NUMBER}@{context}",
        application="Wait",
        data=hold,
        variables={"GK_CAMPAIGN": campaign} if campaign else {},
        channel_id=first,
        other_channel_id=f"{first}-2",
    )
    return first, f"{first}-2"


async def test_call_straight_into_trunk_is_hung_up_within_a_second(guarded: Guarded) -> None:
    """An Originate into the gated trunk, skipping the check, is hung up before 1 s is out."""
    first, _ = await _originate(guarded.client, TRUNK)
    async with asyncio.timeout(BYPASS_DEADLINE_S):
        hangup = await next_event(guarded.events, "Hangup", Uniqueid=first)
    assert hangup.get("Cause") == str(BYPASS_HANGUP_CAUSE)


async def test_call_straight_into_trunk_is_recorded_as_bypass(guarded: Guarded) -> None:
    """The bypass is recorded with the channel, its context and number, and the hangup done."""
    first, _ = await _originate(guarded.client, TRUNK)
    details = await guarded.log.bypass_for(first)
    assert (details["context"], details["exten"], details["action"], details["hung_up"]) == (
        TRUNK,
        NUMBER,
        "hangup",
        True,
    )


async def test_alert_mode_records_the_bypass_and_lets_the_call_be(alerting: Guarded) -> None:
    """With on_bypass: alert the bypass is recorded, and the trunk ends the call itself."""
    first, second = await _originate(alerting.client, TRUNK, hold="5")
    details = await alerting.log.bypass_for(first)
    hangup = await next_event(alerting.events, "Hangup", Uniqueid=second)
    assert (details["action"], details["hung_up"], hangup.get("Cause")) == ("alert", False, "16")


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
