"""AMI watchdog figures against the real Asterisk sandbox.

1. Bypass cut time: calls originated straight into a gated trunk without the dialplan guard; for
   each, the time from the arrival of its DialBegin event to the arrival of the cut channel's
   Hangup event.
   a. Number mismatch: a route checks one number (the AGI answers ALLOW and tells the watchdog)
      and dials another into the same unguarded trunk; same measure on the trunk leg.
   b. The same lying route into a trunk that starts with gatekeeper-guard: the guard, not the
      watchdog, ends the leg; same measure, and whether any provider leg began.
2. Dead-peer detection: Asterisk frozen with SIGSTOP; time until the client reports its link down.
3. Restart: Asterisk stopped and started; time from the start finishing to the link being up.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import sys
import time
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gatekeeper.agi.server import AgiRequest, AgiServer
from gatekeeper.ami.client import LINK_DOWN, LINK_UP, AmiClient, AmiEvent, Subscription
from gatekeeper.ami.settings import BypassAction
from gatekeeper.ami.watchdog import Watchdog
from gatekeeper.serve.app import CHECK_SCRIPT
from tools.asterisk_sandbox import AsteriskSandbox, free_port

TRUNK = "bench-unguarded-trunk"
GUARDED_TRUNK = "bench-guarded-trunk"
LYING_ROUTE = "bench-lying-route"
CHECKED = "0470999999"
CHECKED_E164 = "+32470999999"
DIALLED = "0470123456"
CALLS = 50
CONCURRENT = 5
WAIT_S = 30.0
DIALPLAN = f"""
[{TRUNK}]
exten => _[+0-9].,1,Answer()
 same => n,Wait(2)
 same => n,Hangup()

[{GUARDED_TRUNK}]
exten => _[+0-9].,1,Gosub(gatekeeper-guard,s,1(${{EXTEN}}))
 same => n,Answer()
 same => n,Wait(2)
 same => n,Hangup()

[{LYING_ROUTE}]
exten => _X.,1,Gosub(gatekeeper-check,s,1({CHECKED},bench))
 same => n,Dial(Local/${{EXTEN}}@${{TO_TRUNK}})
"""


class NullLog:
    """Records nothing: the benchmark measures the watchdog, not the decision log."""

    async def record_event(self, kind: str, details: Mapping[str, object]) -> str:
        """Drop the event."""
        del kind, details
        return ""

    async def record_outcome(self, uniqueid: str, outcome: Mapping[str, object]) -> None:
        """Drop the outcome."""
        del uniqueid, outcome


def _watching(watchdog: Watchdog) -> AgiServer:
    """The AGI check: ALLOW for the checked number, told to the watchdog before Asterisk."""

    async def allow(request: AgiRequest) -> Mapping[str, str]:
        watchdog.allowed(request.uniqueid, request.linkedid, CHECKED_E164)
        return {
            "GK_REASON": "not_listed",
            "GK_DECISION_ID": "0BENCH0000001",
            "GK_NUMBER": CHECKED_E164,
            "GK_DECISION": "ALLOW",
        }

    return AgiServer({CHECK_SCRIPT: allow}, "127.0.0.1", free_port())


def _trunk_leg(event: AmiEvent, context: str, batch: list[str]) -> str | None:
    """The trunk leg a DialBegin starts for one of the batch's calls (by linked id), if any."""
    if event.get("DestContext") == context and event.get("DestLinkedid") in batch:
        return event.get("DestUniqueid")
    return None


async def _cut_times(
    client: AmiClient, events: Subscription, *, route: str = "", trunk: str = TRUNK
) -> tuple[list[float], int]:
    """Cut times in ms, and how many provider (non-Local) legs began."""
    began: dict[str, float] = {}
    cut: dict[str, float] = {}
    provider_legs = 0
    ids = [f"bench-{route or trunk}-{n}" for n in range(CALLS)]
    for start in range(0, CALLS, CONCURRENT):
        batch = ids[start : start + CONCURRENT]
        for first in batch:
            await client.originate(
                f"Local/{DIALLED}@{route or trunk}",
                application="Wait",
                data="2",
                channel_id=first,
                variables={"TO_TRUNK": trunk},
            )
        legs: set[str] = set()
        async with asyncio.timeout(WAIT_S):
            while len(legs) < len(batch) or not legs <= cut.keys():
                event = await events.get()
                leg = _trunk_leg(event, trunk, batch) if event.name == "DialBegin" else None
                if leg is not None:
                    legs.add(leg)
                    began[leg] = event.received_at
                elif event.name == "DialBegin" and not event.get("DestChannel").startswith(
                    "Local/"
                ):
                    provider_legs += 1
                elif event.name == "Hangup" and event.get("Uniqueid") in began:
                    cut.setdefault(event.get("Uniqueid"), event.received_at)
    return [(cut[u] - began[u]) * 1000 for u in began], provider_legs


def _figures(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[int(len(times) * 0.95) - 1]
    return f"median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, max {times[-1]:.1f} ms"


async def _until(events: Subscription, name: str) -> None:
    async with asyncio.timeout(WAIT_S):
        while (await events.get()).name != name:
            pass


async def main() -> None:
    """Run the three measurements and print their figures."""
    watchdog = Watchdog(
        gated_contexts=[TRUNK, GUARDED_TRUNK],
        on_bypass=BypassAction.HANGUP,
        bypass_recorder=NullLog(),
        outcome_recorder=NullLog(),
    )
    agi = _watching(watchdog)
    await agi.start()
    sandbox = AsteriskSandbox(
        agi_port=agi.port, name=f"gkbench{os.getpid()}", extra_dialplan=DIALPLAN
    )
    sandbox.start()
    try:
        client = await AmiClient.connect(
            "127.0.0.1", sandbox.ami_port, sandbox.ami_username, sandbox.ami_secret
        )
        watchdog.attach(client)
        running = asyncio.create_task(watchdog.run())
        events = client.subscribe()
        times, _ = await _cut_times(client, events)
        print(
            f"bypass cut, originate into the trunk, DialBegin to Hangup ({CALLS} calls, "
            f"{CONCURRENT} at a time): {_figures(times)}"
        )
        times, _ = await _cut_times(client, events, route=LYING_ROUTE)
        print(f"bypass cut, number mismatch, DialBegin to Hangup: {_figures(times)}")
        times, legs = await _cut_times(client, events, route=LYING_ROUTE, trunk=GUARDED_TRUNK)
        print(
            f"number mismatch into a guarded trunk, DialBegin to Hangup: {_figures(times)}; "
            f"provider legs begun: {legs}"
        )

        process = sandbox.process
        assert process is not None
        frozen_at = time.perf_counter()
        os.kill(process.pid, signal.SIGSTOP)
        try:
            await _until(events, LINK_DOWN)
            detected = time.perf_counter() - frozen_at
        finally:
            os.kill(process.pid, signal.SIGCONT)
        await _until(events, LINK_UP)
        print(f"frozen Asterisk detected after {detected:.2f} s (ping every 2 s, 2 s to answer)")

        await asyncio.to_thread(sandbox.stop)
        await _until(events, LINK_DOWN)
        await asyncio.to_thread(sandbox.start)
        booted_at = time.perf_counter()
        await _until(events, LINK_UP)
        print(f"after an Asterisk restart, link up {time.perf_counter() - booted_at:.2f} s later")
        await client.close()
        await running
    finally:
        sandbox.stop()
        await agi.close()


if __name__ == "__main__":
    asyncio.run(main())
