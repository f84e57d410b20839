"""AMI watchdog figures against the real Asterisk sandbox.

1. Bypass cut time: calls originated straight into the gated trunk; for each, the time from the
   arrival of its DialBegin event to the arrival of the cut channel's Hangup event.
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

from gatekeeper.ami.client import LINK_DOWN, LINK_UP, AmiClient, Subscription
from gatekeeper.ami.watchdog import Watchdog
from gatekeeper.config import BypassAction
from tools.asterisk_sandbox import AsteriskSandbox, free_port

TRUNK = "gatekeeper-example-trunk"
CALLS = 50
CONCURRENT = 5
WAIT_S = 30.0


class NullLog:
    """Records nothing: the benchmark measures the watchdog, not the decision log."""

    async def record_event(self, kind: str, details: Mapping[str, object]) -> str:
        """Drop the event."""
        del kind, details
        return ""

    async def record_outcome(self, uniqueid: str, outcome: Mapping[str, object]) -> None:
        """Drop the outcome."""
        del uniqueid, outcome


async def _cut_times(client: AmiClient, events: Subscription) -> list[float]:
    began: dict[str, float] = {}
    cut: dict[str, float] = {}
    ids = [f"bench-{n}" for n in range(CALLS)]
    for start in range(0, CALLS, CONCURRENT):
        batch = ids[start : start + CONCURRENT]
        for first in batch:
            await client.originate(
                f"Local/0470999999@{TRUNK}", application="Wait", data="2", channel_id=first
            )
        async with asyncio.timeout(WAIT_S):
            while not all(first in cut for first in batch):
                event = await events.get()
                uniqueid = event.get("DestUniqueid") or event.get("Uniqueid")
                if event.name == "DialBegin" and uniqueid in batch:
                    began[uniqueid] = event.received_at
                elif event.name == "Hangup" and uniqueid in batch:
                    cut[uniqueid] = event.received_at
    return [(cut[u] - began[u]) * 1000 for u in ids]


async def _until(events: Subscription, name: str) -> None:
    async with asyncio.timeout(WAIT_S):
        while (await events.get()).name != name:
            pass


async def main() -> None:
    """Run the three measurements and print their figures."""
    sandbox = AsteriskSandbox(agi_port=free_port(), name=f"gkbench{os.getpid()}")
    sandbox.start()
    try:
        client = await AmiClient.connect(
            "127.0.0.1", sandbox.ami_port, sandbox.ami_username, sandbox.ami_secret
        )
        watchdog = Watchdog(
            gated_contexts=[TRUNK],
            on_bypass=BypassAction.HANGUP,
            bypass_recorder=NullLog(),
            outcome_recorder=NullLog(),
        )
        watchdog.attach(client)
        running = asyncio.create_task(watchdog.run())
        events = client.subscribe()
        times = sorted(await _cut_times(client, events))
        p95 = times[int(len(times) * 0.95) - 1]
        print(
            f"bypass cut, DialBegin to Hangup ({CALLS} calls, {CONCURRENT} at a time): "
            f"median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, max {times[-1]:.1f} ms"
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


if __name__ == "__main__":
    asyncio.run(main())
