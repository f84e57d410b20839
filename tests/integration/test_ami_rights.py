"""The shipped AMI user has the rights the service needs, and no right to place or run anything."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from gatekeeper.ami.client import AmiClient, AmiEvent
from gatekeeper.common.errors import AmiError
from tools.asterisk_sandbox import (
    DEFAULT_ROOT,
    READY_MARK,
    AsteriskSandbox,
    free_port,
)

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

TRUNK = "gatekeeper-example-trunk"
HOLD = "rights-hold"
DIALLER = (
    "[rights-dialler]\n"
    "exten => _[+0-9].,1,Dial(Local/${EXTEN}@gatekeeper-example-trunk)\n"
    " same => n,Hangup()\n"
    f"[{HOLD}]\n"
    "exten => _[+0-9].,1,Wait(10)\n"
    " same => n,Hangup()\n"
    "[rights-marker]\n"
    "exten => _[+0-9].,1,Set(GK_REASON=not_listed)\n"
    " same => n,Set(GK_DECISION_ID=01JD0000000AB)\n"
    " same => n,Set(GK_DECISION_IDS=no)\n"
    " same => n,Hangup()\n"
)
WATCHED = {"Newchannel", "LocalBridge", "DialBegin", "DialEnd", "Hangup"}


@pytest.fixture
def sandbox() -> Iterator[AsteriskSandbox]:
    """A real Asterisk with the shipped AMI user and a test user that places calls."""
    if not (DEFAULT_ROOT / READY_MARK).exists():
        pytest.fail("the Asterisk sandbox is not installed: run `make asterisk`")
    with AsteriskSandbox(agi_port=free_port(), extra_dialplan=DIALLER) as running:
        yield running


@pytest_asyncio.fixture
async def service(sandbox: AsteriskSandbox) -> AsyncIterator[AmiClient]:
    """A session logged in as the shipped user, as `gatekeeper serve` logs in."""
    client = await AmiClient.connect(
        "127.0.0.1", sandbox.ami_port, sandbox.service_username, sandbox.service_secret
    )
    yield client
    await client.close()


@pytest_asyncio.fixture
async def dialler(sandbox: AsteriskSandbox) -> AsyncIterator[AmiClient]:
    """The tests' own session, which may originate."""
    client = await AmiClient.connect(
        "127.0.0.1", sandbox.ami_port, sandbox.ami_username, sandbox.ami_secret
    )
    yield client
    await client.close()


async def _place(dialler: AmiClient, context: str) -> str:
    linkedid = f"gk-{uuid.uuid4().hex[:12]}"
    await dialler.originate(
        f"Local/0470999999@{context}",
        application="Wait",
        data="1",
        channel_id=linkedid,
        other_channel_id=f"{linkedid}-2",
    )
    return linkedid


async def test_shipped_user_cannot_originate(service: AmiClient) -> None:
    """Originate (which could run System()) is refused to the shipped user."""
    with pytest.raises(AmiError, match="Permission denied"):
        await service.originate(
            f"Local/0470999999@{TRUNK}", application="System", data="touch /tmp/gk-rights"
        )


async def test_shipped_user_cannot_run_cli_commands(service: AmiClient) -> None:
    """The Command action (any CLI command) is refused to the shipped user."""
    with pytest.raises(AmiError, match="Permission denied"):
        await service._action({"Action": "Command", "Command": "core show version"})


async def test_shipped_user_cannot_read_shell_through_getvar(service: AmiClient) -> None:
    """Getvar of SHELL() is refused: the user has no system right."""
    with pytest.raises(AmiError, match="Forbidden"):
        await service.getvar("SHELL(id)")


async def test_shipped_user_pings_and_reads_globals(
    service: AmiClient, sandbox: AsteriskSandbox
) -> None:
    """Ping and Getvar of the dialplan's globals work with the shipped rights."""
    await service.ping()
    assert await service.getvar("GATEKEEPER_AGI") == f"127.0.0.1:{sandbox.agi_port}"


async def test_shipped_user_hangs_up_a_call(service: AmiClient, dialler: AmiClient) -> None:
    """The bypass cut (Hangup action) works with the shipped rights."""
    async with service.subscription() as events:
        linkedid = await _place(dialler, HOLD)
        channel = ""
        async with asyncio.timeout(10):
            while not channel:
                event = await events.get()
                if event.name == "Newchannel" and event.get("Uniqueid") == linkedid:
                    channel = event.get("Channel")
            await service.hangup(channel, cause=21)
            while not (event.name == "Hangup" and event.get("Uniqueid") == linkedid):
                event = await events.get()
    assert event.get("Cause") == "21"


async def test_shipped_user_gets_the_watched_events_and_gated_newexten_only(
    service: AmiClient, dialler: AmiClient
) -> None:
    """The watchdog's events arrive; Newexten only from the gated context, nothing else."""
    seen: list[AmiEvent] = []
    async with service.subscription() as events:
        linkedid = await _place(dialler, "rights-dialler")
        async with asyncio.timeout(15):
            while not any(e.name == "Hangup" and e.get("Uniqueid") == linkedid for e in seen):
                seen.append(await events.get())
    names = {e.name for e in seen}
    newexten_contexts = {e.get("Context") for e in seen if e.name == "Newexten"}
    others = names - WATCHED - {"Newexten", "HangupRequest", "SoftHangupRequest"}
    assert (names >= WATCHED, newexten_contexts, others) == (True, {TRUNK}, set())


async def test_shipped_user_gets_the_decision_marker_and_no_other_varset(
    service: AmiClient, dialler: AmiClient
) -> None:
    """VarSet reaches the watchdog only for GK_DECISION_ID, the marker of each decision."""
    seen: list[AmiEvent] = []
    async with service.subscription() as events:
        linkedid = await _place(dialler, "rights-marker")
        async with asyncio.timeout(15):
            while not any(e.name == "Hangup" and e.get("Uniqueid") == linkedid for e in seen):
                seen.append(await events.get())
    varsets = [(e.get("Variable"), e.get("Value")) for e in seen if e.name == "VarSet"]
    assert varsets == [("GK_DECISION_ID", "01JD0000000AB")]
