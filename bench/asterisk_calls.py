"""Benchmark: campaign calls through a real Asterisk and the gatekeeper, end to end.

Starts the Asterisk sandbox and `gatekeeper serve` on the example config (sample list
imported), then originates calls on the gated example route over AMI, `--width` at a time,
half to a listed number and half to an unlisted one, and reports completed calls per second
and how many were decided as expected. Each call runs the whole path: Local channel, Gosub,
FastAGI, normalise, index, consent store, policy, decision log, answer, Dial to the stand-in
trunk for an ALLOW. Needs the sandbox (`make asterisk`).

Usage: .venv/bin/python bench/asterisk_calls.py [--calls 2000] [--width 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.calls import CallSpec, connect, place_calls
from tools.gatekeeper_run import GatekeeperRun

DRIVER_EVENTS = ("Event: VarSet.*Variable: GK_", "Event: UserEvent", "Event: Hangup")
"""What the load driver reads of each call; asking Asterisk for only this keeps the driver light."""
LISTED = "0470123456"
UNLISTED = "0470999999"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pids(run: GatekeeperRun) -> dict[str, int]:
    assert run.serve is not None
    assert run.sandbox.process is not None
    return {"gatekeeper": run.serve.pid, "asterisk": run.sandbox.process.pid}


async def _drive(run: GatekeeperRun, calls: int, width: int) -> tuple[float, int]:
    sandbox = run.sandbox
    client = await connect(sandbox, event_filters=DRIVER_EVENTS)
    right = 0
    try:
        await place_calls(client, [CallSpec(UNLISTED, "spring-promo")] * 10, limit_s=60)
        cpu_before = {name: _cpu_seconds(pid) for name, pid in _pids(run).items()}
        began = time.perf_counter()
        for start in range(0, calls, width):
            specs = [
                CallSpec(LISTED if i % 2 else UNLISTED, "spring-promo")
                for i in range(start, min(calls, start + width))
            ]
            placed = await place_calls(client, specs, limit_s=120, agent_wait_s=0)
            right += sum(
                (c.decision == "BLOCK") == (c.spec.number == LISTED) and c.decision_id != ""
                for c in placed
            )
        elapsed = time.perf_counter() - began
        for name, pid in _pids(run).items():
            per_call = (_cpu_seconds(pid) - cpu_before[name]) / calls * 1e3
            print(f"{name} CPU per call: {per_call:.2f} ms")
    finally:
        await client.close()
    return elapsed, right


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--width", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, GatekeeperRun(Path(tmp) / "run") as run:
        elapsed, right = asyncio.run(_drive(run, args.calls, args.width))
    print(f"calls: {args.calls}, {args.width} at a time, decided as expected: {right}")
    print(f"completed calls/s through Asterisk and the gatekeeper: {args.calls / elapsed:,.0f}")
    return 0 if right == args.calls else 1


if __name__ == "__main__":
    sys.exit(main())
