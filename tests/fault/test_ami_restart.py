"""The AMI link survives an Asterisk restart and a frozen Asterisk; the watchdog keeps guarding."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from gatekeeper.ami.client import LINK_DOWN, LINK_UP, AmiClient, Subscription
from gatekeeper.ami.settings import BypassAction
from gatekeeper.ami.watchdog import BYPASS_HANGUP_CAUSE, Watchdog
from tools.asterisk_sandbox import DEFAULT_ROOT, READY_MARK, AsteriskSandbox, free_port

from ami_support import MemoryLog, next_event

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio, pytest.mark.slow]

TRUNK = "test-unguarded-trunk"
UNGUARDED = """
; A trunk without gatekeeper-guard, so that only the watchdog stands in the way.
[test-unguarded-trunk]
exten => _[+0-9].,1,Answer()
 same => n,Wait(2)
 same => n,Hangup()
"""
OUTAGE_WAIT_S = 30.0
CALLS_AFTER_OUTAGE = 20


@pytest.fixture
def sandbox() -> Iterator[AsteriskSandbox]:
    """A real Asterisk the test may stop, restart or freeze."""
    if not (DEFAULT_ROOT / READY_MARK).exists():
        pytest.fail("the Asterisk sandbox is not installed: run `make asterisk`")
    running = AsteriskSandbox(
        agi_port=free_port(), name=f"gkami{os.getpid()}", extra_dialplan=UNGUARDED
    )
    running.start()
    try:
        yield running
    finally:
        process = running.process
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
        running.stop()


class Guard:
    """A client with fast pings, a hanging-up watchdog and the test's own subscription."""

    def __init__(self, client: AmiClient, log: MemoryLog, events: Subscription) -> None:
        self.client = client
        self.log = log
        self.events = events


@pytest_asyncio.fixture
async def guard(sandbox: AsteriskSandbox) -> AsyncIterator[Guard]:
    """The client pings every 0.3 s and waits 0.5 s for each reply."""
    client = await AmiClient.connect(
        "127.0.0.1",
        sandbox.ami_port,
        sandbox.ami_username,
        sandbox.ami_secret,
        timeout=1.0,
        ping_interval=0.3,
        ping_timeout=0.5,
    )
    memory = MemoryLog()
    watchdog = Watchdog(
        gated_contexts=[TRUNK],
        on_bypass=BypassAction.HANGUP,
        bypass_recorder=memory,
        outcome_recorder=memory,
    )
    watchdog.attach(client)
    running = asyncio.create_task(watchdog.run())
    try:
        async with client.subscription() as events:
            yield Guard(client, memory, events)
    finally:
        await client.close()
        await running


async def _wait_link(events: Subscription, name: str) -> None:
    async with asyncio.timeout(OUTAGE_WAIT_S):
        while (await events.get()).name != name:
            pass


async def _bypass_is_still_cut(guard: Guard) -> None:
    first = f"gk-{uuid.uuid4().hex[:12]}"
    await guard.client.originate(
        f"Local/0470999999@{TRUNK}", application="Wait", data="2", channel_id=first
    )
    hangup = await next_event(guard.events, "Hangup", Uniqueid=first)
    details = await guard.log.bypass_for(first)
    assert (hangup.get("Cause"), details["hung_up"]) == (str(BYPASS_HANGUP_CAUSE), True)


async def test_restart_is_survived_and_bypasses_are_still_cut(
    sandbox: AsteriskSandbox, guard: Guard
) -> None:
    """After Asterisk restarts, the same client reconnects and the watchdog still hangs up."""
    await asyncio.to_thread(sandbox.stop)
    await _wait_link(guard.events, LINK_DOWN)
    await asyncio.to_thread(sandbox.start)
    await _wait_link(guard.events, LINK_UP)
    await _bypass_is_still_cut(guard)
    assert guard.client.reconnects >= 1


async def test_no_event_is_lost_after_the_outage(sandbox: AsteriskSandbox, guard: Guard) -> None:
    """Every call originated after the reconnect reaches the subscription made before it."""
    await asyncio.to_thread(sandbox.stop)
    await _wait_link(guard.events, LINK_DOWN)
    await asyncio.to_thread(sandbox.start)
    await _wait_link(guard.events, LINK_UP)
    action_ids = {
        await guard.client.originate("Local/0470@nowhere", application="Wait", data="0")
        for _ in range(CALLS_AFTER_OUTAGE)
    }
    seen: set[str] = set()
    async with asyncio.timeout(OUTAGE_WAIT_S):
        while seen != action_ids:
            event = await guard.events.get()
            if event.name == "OriginateResponse":
                seen.add(event.get("ActionID"))
    assert seen == action_ids


async def test_frozen_asterisk_is_detected_by_unanswered_pings(
    sandbox: AsteriskSandbox, guard: Guard
) -> None:
    """A peer that keeps its socket open but stops answering is declared dead, then rejoined."""
    process = sandbox.process
    assert process is not None
    os.kill(process.pid, signal.SIGSTOP)
    try:
        await _wait_link(guard.events, LINK_DOWN)
        connected_while_frozen = guard.client.connected
    finally:
        os.kill(process.pid, signal.SIGCONT)
    await _wait_link(guard.events, LINK_UP)
    await _bypass_is_still_cut(guard)
    assert connected_while_frozen is False
