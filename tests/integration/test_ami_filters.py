"""The AMI client asks Asterisk for its events only, and falls back to all events if refused."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from gatekeeper.ami.client import AmiClient
from tools.asterisk_sandbox import DEFAULT_ROOT, READY_MARK, AsteriskSandbox, free_port

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

ONLY_HANGUPS = ("Event: Hangup",)
CALL = "Local/0470999999@gatekeeper-example-trunk"


@pytest.fixture
def sandbox() -> Iterator[AsteriskSandbox]:
    """A real Asterisk with the shipped AMI user."""
    if not (DEFAULT_ROOT / READY_MARK).exists():
        pytest.fail("the Asterisk sandbox is not installed: run `make asterisk`")
    with AsteriskSandbox(agi_port=free_port()) as running:
        yield running


async def _event_names(client: AmiClient) -> set[str]:
    names: set[str] = set()
    async with client.subscription() as events:
        await client.originate(CALL, application="Wait", data="0")
        async with asyncio.timeout(10):
            while "Hangup" not in names:
                names.add((await events.get()).name)
    return names


async def test_filters_leave_only_the_asked_events(sandbox: AsteriskSandbox) -> None:
    """With the filter accepted, a call shows Hangup events and no Newchannel."""
    client = await AmiClient.connect(
        "127.0.0.1",
        sandbox.ami_port,
        sandbox.ami_username,
        sandbox.ami_secret,
        event_filters=ONLY_HANGUPS,
    )
    try:
        names = await _event_names(client)
    finally:
        await client.close()
    assert ("Hangup" in names, "Newchannel" in names) == (True, False)


async def test_a_refused_rule_after_accepted_ones_falls_back_to_every_event(
    sandbox: AsteriskSandbox,
) -> None:
    """One rule in place and the next refused would hide events: the session drops them all."""
    client = await AmiClient.connect(
        "127.0.0.1",
        sandbox.ami_port,
        sandbox.ami_username,
        sandbox.ami_secret,
        event_filters=(*ONLY_HANGUPS, "Event: (unclosed"),
    )
    try:
        names = await _event_names(client)
    finally:
        await client.close()
    assert ("Hangup" in names, "Newchannel" in names) == (True, True)
