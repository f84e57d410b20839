"""A watchdog that falls behind the event stream recovers instead of dying."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from gatekeeper.ami.client import AmiClient
from gatekeeper.ami.settings import BypassAction
from gatekeeper.ami.watchdog import BYPASS_HANGUP_CAUSE, WATCH_GAP_EVENT_KIND, Watchdog
from tools.asterisk_sandbox import DEFAULT_ROOT, READY_MARK, AsteriskSandbox, free_port

from ami_support import MemoryLog, next_event

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

TRUNK = "gatekeeper-example-trunk"


@pytest.fixture
def sandbox() -> Iterator[AsteriskSandbox]:
    """A real Asterisk."""
    if not (DEFAULT_ROOT / READY_MARK).exists():
        pytest.fail("the Asterisk sandbox is not installed: run `make asterisk`")
    with AsteriskSandbox(agi_port=free_port()) as running:
        yield running


async def _originate(client: AmiClient) -> str:
    first = f"gk-{uuid.uuid4().hex[:12]}"
    await client.originate(
        f"Local/0470999999@{TRUNK}", application="Wait", data="5", channel_id=first
    )
    return first


async def test_lagging_watchdog_records_the_gap_and_keeps_guarding(
    sandbox: AsteriskSandbox,
) -> None:
    """Events pile up past the watchdog's limit: it records the gap, resubscribes, guards again."""
    client = await AmiClient.connect(
        "127.0.0.1", sandbox.ami_port, sandbox.ami_username, sandbox.ami_secret
    )
    memory = MemoryLog()
    watchdog = Watchdog(
        gated_contexts=[TRUNK],
        on_bypass=BypassAction.HANGUP,
        bypass_recorder=memory,
        outcome_recorder=memory,
        subscription_limit=5,
    )
    watchdog.attach(client)
    running: asyncio.Task[None] | None = None
    try:
        async with client.subscription() as events:
            missed = await _originate(client)
            await next_event(events, "Hangup", Uniqueid=missed)
            running = asyncio.create_task(watchdog.run())
            gap = await memory.event_of(WATCH_GAP_EVENT_KIND, state="watchdog fell behind")
            caught = await _originate(client)
            hangup = await next_event(events, "Hangup", Uniqueid=caught)
    finally:
        await client.close()
        if running is not None:
            await running
    assert (bool(gap["detail"]), hangup.get("Cause")) == (True, str(BYPASS_HANGUP_CAUSE))
