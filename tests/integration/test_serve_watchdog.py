"""`gatekeeper serve` as deployed: bypasses hung up and recorded, outcomes kept, health served."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import urllib.request
from pathlib import Path

import pytest
from gatekeeper.ami.client import AmiClient
from tools.calls import CallSpec, PlacedCall, connect, place_calls
from tools.gatekeeper_run import GatekeeperRun, gatekeeper

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

WAIT_S = 10.0


async def _client(run: GatekeeperRun) -> AmiClient:
    return await connect(run.sandbox)


def _records(run: GatekeeperRun, kind: str) -> list[dict[str, object]]:
    path = run.run_dir / "data" / "audit" / "decisions.sqlite"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT uniqueid, body FROM chain WHERE kind = ?", (kind,)).fetchall()
    return [{"uniqueid": uniqueid, **json.loads(body)} for uniqueid, body in rows]


async def _wait_for_records(run: GatekeeperRun, kind: str, count: int) -> list[dict[str, object]]:
    async with asyncio.timeout(WAIT_S):
        while len(records := _records(run, kind)) < count:
            await asyncio.sleep(0.05)
    return records


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


async def _await_ami_login(run: GatekeeperRun) -> None:
    url = f"http://127.0.0.1:{run.health_port}/healthz"
    async with asyncio.timeout(WAIT_S):
        while _get(url)[0] != 200:
            await asyncio.sleep(0.1)


async def _originate_until_hangup(run: GatekeeperRun, channel: str) -> None:
    """Once the watchdog is logged in, originate `channel` and wait for its first hangup."""
    await _await_ami_login(run)
    client = await _client(run)
    try:
        async with client.subscription() as events:
            await client.originate(channel, application="Wait", data="5")
            async with asyncio.timeout(WAIT_S):
                while (await events.get()).name != "Hangup":
                    pass
    finally:
        await client.close()


async def test_call_straight_to_the_trunk_is_recorded_as_bypass(
    gatekeeper_run: GatekeeperRun,
) -> None:
    """A call originated into the gated trunk context, skipping the check, is a bypass."""
    await _originate_until_hangup(gatekeeper_run, "Local/0470999999@gatekeeper-example-trunk")
    [bypass] = await _wait_for_records(gatekeeper_run, "bypass", 1)
    assert "gatekeeper-example-trunk" in json.dumps(bypass)


async def test_allowed_and_blocked_calls_get_their_outcome(gatekeeper_run: GatekeeperRun) -> None:
    """Each AGI decision gains an outcome record: the allowed call reached the network."""
    await _await_ami_login(gatekeeper_run)
    client = await _client(gatekeeper_run)
    try:
        calls: list[PlacedCall] = await place_calls(
            client,
            [CallSpec("0470999999", "spring-promo"), CallSpec("0470123456", "spring-promo")],
        )
    finally:
        await client.close()
    outcomes = await _wait_for_records(gatekeeper_run, "outcome", 2)
    reached = {o["uniqueid"]: o["outcome"]["reached_network"] for o in outcomes}  # type: ignore[index]
    by_call = {c.spec.number: reached.get(f"{c.linkedid}-route") for c in calls}
    assert by_call == {"0470999999": True, "0470123456": False}


async def test_health_is_green_and_metrics_count_decisions(gatekeeper_run: GatekeeperRun) -> None:
    """/healthz answers 200 once AMI is up; /metrics counts the decisions by reason."""
    await _await_ami_login(gatekeeper_run)
    client = await _client(gatekeeper_run)
    try:
        await place_calls(client, [CallSpec("0470123456", "spring-promo")])
    finally:
        await client.close()
    status, body = _get(f"http://127.0.0.1:{gatekeeper_run.health_port}/healthz")
    _, metrics = _get(f"http://127.0.0.1:{gatekeeper_run.health_port}/metrics")
    checks = json.loads(body)["checks"]
    assert (status, sorted(checks), all(c["ok"] for c in checks.values())) == (
        200,
        ["agi", "ami", "disk", "late_records", "list", "log"],
        True,
    )
    assert b'reason="listed"' in metrics


MISROUTED = """
[misrouted-campaign]
; A route written without the gatekeeper-check subroutine, jumping into the trunk context.
exten => _X.,1,Goto(gatekeeper-example-trunk,${EXTEN},1)
"""


async def test_route_jumping_into_the_trunk_context_is_a_bypass(tmp_path: Path) -> None:
    """A misconfigured route that Goto()s the gated trunk context is caught and recorded."""
    with GatekeeperRun(tmp_path / "run", extra_dialplan=MISROUTED) as run:
        await _originate_until_hangup(run, "Local/0470999999@misrouted-campaign")
        [bypass] = await _wait_for_records(run, "bypass", 1)
    assert "gatekeeper-example-trunk" in json.dumps(bypass)


LYING = """
[lying-campaign]
; A route that checks one number and dials another into the gated trunk.
exten => _X.,1,Set(SOME_VAR=0470999999)
 same => n,Gosub(gatekeeper-check,s,1(${SOME_VAR},spring-promo))
 same => n,GotoIf($["${GK_DECISION}" != "ALLOW"]?refused)
 same => n,Dial(Local/${EXTEN}@gatekeeper-example-trunk)
 same => n(refused),Hangup(21)
"""


async def _lying_call(run: GatekeeperRun) -> list[str]:
    """Dial the listed 0470123456 through the lying route; the names of the events seen."""
    await _await_ami_login(run)
    client = await _client(run)
    seen: list[str] = []
    try:
        async with client.subscription() as events:
            await client.originate(
                "Local/0470123456@lying-campaign",
                application="Wait",
                data="1",
                channel_id="gk-lying",
                other_channel_id="gk-lying-route",
            )
            async with asyncio.timeout(WAIT_S):
                while True:
                    event = await events.get()
                    seen.append(event.get("UserEvent") or event.name)
                    if event.name == "Hangup" and event.get("Uniqueid") == "gk-lying":
                        break
    finally:
        await client.close()
    return seen


async def test_route_checking_one_number_and_dialling_another_never_reaches_the_trunk(
    tmp_path: Path,
) -> None:
    """A listed number dialled under another number's ALLOW is stopped and recorded."""
    with GatekeeperRun(tmp_path / "run", extra_dialplan=LYING) as run:
        seen = await _lying_call(run)
        [bypass] = await _wait_for_records(run, "bypass", 1)
        [outcome] = await _wait_for_records(run, "outcome", 1)
    assert (
        "GatekeeperTrunkReached" in seen,
        bypass["details"]["reason"],  # type: ignore[index]
        bypass["details"]["exten"],  # type: ignore[index]
        bypass["details"]["allowed_number"],  # type: ignore[index]
        bypass["details"]["provider_reached"],  # type: ignore[index]
        outcome["outcome"]["result"],  # type: ignore[index]
    ) == (False, "number_mismatch", "0470123456", "+32470999999", False, "bypassed")


async def test_audit_show_tells_the_bypass_of_a_number(tmp_path: Path) -> None:
    """`audit show --number` on the listed number dialled in a bypass tells it in a sentence."""
    with GatekeeperRun(tmp_path / "run", extra_dialplan=LYING) as run:
        await _lying_call(run)
        await _wait_for_records(run, "bypass", 1)
        shown = gatekeeper(run.config, "audit", "show", "--number", "0470 12 34 56").stdout
    assert (
        "1 bypass(es) of the check involving +32470123456:" in shown,
        "bypass: a call dialled '0470123456' into trunk context 'gatekeeper-example-trunk' "
        "while its ALLOW was for +32470999999" in shown,
        "the provider leg was not reached." in shown,
    ) == (True, True, True)
