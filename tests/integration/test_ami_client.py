"""The AMI client against a real Asterisk: login, refusal, originate and its events."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from gatekeeper.ami.client import AmiClient, AmiEvent, Subscription
from gatekeeper.common.errors import AmiError
from tools.asterisk_sandbox import DEFAULT_ROOT, READY_MARK, AsteriskSandbox, free_port

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

EVENT_WAIT_S = 10.0


ANSWERING = """
[test-answering]
exten => _X.,1,Answer()
 same => n,Wait(1)
 same => n,Hangup()
"""


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AsteriskSandbox]:
    """One real Asterisk for the module (no AGI server: its routes fail closed)."""
    if not (DEFAULT_ROOT / READY_MARK).exists():
        pytest.fail("the Asterisk sandbox is not installed: run `make asterisk`")
    with AsteriskSandbox(agi_port=free_port(), extra_dialplan=ANSWERING) as running:
        yield running


async def _connect(sandbox: AsteriskSandbox) -> AmiClient:
    return await AmiClient.connect(
        "127.0.0.1", sandbox.ami_port, sandbox.ami_username, sandbox.ami_secret
    )


async def _next(events: Subscription, name: str, **fields: str) -> AmiEvent:
    async with asyncio.timeout(EVENT_WAIT_S):
        while True:
            event = await events.get()
            if event.name == name and all(event.get(k) == v for k, v in fields.items()):
                return event


async def test_login_succeeds_with_the_right_secret(sandbox: AsteriskSandbox) -> None:
    """The sandbox's manager user logs in and the link reports itself up."""
    client = await _connect(sandbox)
    try:
        assert client.connected
    finally:
        await client.close()


async def test_wrong_secret_is_refused_with_a_clear_error(sandbox: AsteriskSandbox) -> None:
    """A wrong secret raises AmiError naming the user, never echoing the secret."""
    wrong = "not-the-secret-" + sandbox.ami_secret[:4]
    with pytest.raises(AmiError, match="authentication refused for user 'gatekeeper'") as caught:
        await AmiClient.connect("127.0.0.1", sandbox.ami_port, sandbox.ami_username, wrong)
    assert wrong not in str(caught.value)


async def test_closed_port_is_reported_as_cannot_connect() -> None:
    """Nothing listening: AmiError says the manager cannot be reached."""
    with pytest.raises(AmiError, match="cannot connect"):
        await AmiClient.connect("127.0.0.1", free_port(), "gatekeeper", "secret")


async def test_originate_returns_the_action_id_its_response_carries(
    sandbox: AsteriskSandbox,
) -> None:
    """An asynchronous Originate returns the ActionID that its OriginateResponse event carries."""
    client = await _connect(sandbox)
    try:
        async with client.subscription() as events:
            action_id = await client.originate(
                "Local/3247000111@test-answering", application="Wait", data="0.1"
            )
            response = await _next(events, "OriginateResponse", ActionID=action_id)
        assert (bool(action_id), response.get("Response")) == (True, "Success")
    finally:
        await client.close()


async def test_originate_chooses_the_channel_uniqueids(sandbox: AsteriskSandbox) -> None:
    """channel_id and other_channel_id become the uniqueids of the Local channel's halves."""
    client = await _connect(sandbox)
    try:
        async with client.subscription() as events:
            await client.originate(
                "Local/3247000111@gatekeeper-example-trunk",
                application="Wait",
                data="1",
                channel_id="gk-test-one",
                other_channel_id="gk-test-two",
            )
            reached = await _next(events, "Newexten", Application="Gosub")
        assert (reached.get("Uniqueid"), reached.get("Linkedid")) == ("gk-test-two", "gk-test-one")
    finally:
        await client.close()


async def test_hangup_of_a_missing_channel_is_refused(sandbox: AsteriskSandbox) -> None:
    """Hanging up a channel that does not exist raises AmiError with Asterisk's reason."""
    client = await _connect(sandbox)
    try:
        with pytest.raises(AmiError, match="Hangup refused"):
            await client.hangup("Local/none@nowhere-00000000;1")
    finally:
        await client.close()


async def test_closing_ends_every_subscription(sandbox: AsteriskSandbox) -> None:
    """After close(), iterating a subscription ends instead of waiting forever."""
    client = await _connect(sandbox)
    events = client.subscribe()
    await client.close()
    seen = [event.name async for event in events]
    assert "Gatekeeper.LinkUp" not in seen[1:]
