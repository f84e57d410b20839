"""Benchmark: what a dead gatekeeper node costs each call when Asterisk fails over to the other.

Starts the Asterisk sandbox and two `gatekeeper serve` nodes on the same AGI port of 127.0.0.1
and 127.0.0.2 (tools/gatekeeper_pair.py), found through one host name that Asterisk resolves to
both, 127.0.0.1 first. Calls are placed one at a time over AMI, each to an unlisted number on a
commercial campaign (an ALLOW that reaches the stand-in trunk); a call's time is from the
Originate to the route's `GK_DECISION` (its VarSet event). Phases, in order:

1. both nodes up: every call is decided by node 1;
2. node 1 frozen (SIGSTOP): the kernel still accepts its connections, so Asterisk waits for an
   answer that never comes, until `GATEKEEPER_TIMEOUT` hangs the call up (`--frozen-calls`);
3. node 1 killed (SIGKILL): each connection to 127.0.0.1 is refused, and Asterisk goes on to
   127.0.0.2; the first call after the kill, then `--calls` more, alternating with as many
   calls through a name that resolves to 127.0.0.2 alone (the call's own `GATEKEEPER_AGI`), so
   the difference is what trying the dead address first costs;
4. an address that drops SYNs: a name that resolves to 127.0.0.3 first, where a listener with a
   full accept queue (backlog 0, one connection never accepted) makes the kernel drop every
   further SYN, as a powered-off host or a firewall DROP would; Asterisk gives up on it after its
   connect timeout and goes on to 127.0.0.2 (`--silent-calls`, alternating as above). Nothing on
   the machine is changed for this: the listener is this process's own socket.

Every decided call must be an ALLOW recorded in the log of the node that answered.
Needs the sandbox (`make asterisk`).

Usage: .venv/bin/python bench/agi_failover.py [--calls 20] [--frozen-calls 1] [--silent-calls 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gatekeeper.ami.client import AmiClient
from tools.calls import ROUTE_CONTEXT, connect
from tools.gatekeeper_pair import NODE_ADDRESSES, PAIR_HOST, GatekeeperPair, ServeNode

DRIVER_EVENTS = ("Event: VarSet.*Variable: GK_", "Event: Hangup")
UNLISTED = "0470999999"
SILENT_HOST = "gatekeeper-silent.test"
SILENT_ADDRESS = "127.0.0.3"
SECOND_HOST = "gatekeeper-node2.test"
AGI_TIMEOUT_S = 5
"""The shipped subroutine's default `GATEKEEPER_TIMEOUT`."""
CALL_LIMIT_S = 30.0


@dataclass(frozen=True, slots=True)
class Call:
    """One call as the route saw it."""

    seconds: float
    """Originate to GK_DECISION, or to the hang-up when no decision came."""
    decision: str
    decision_id: str


async def _call(client: AmiClient, server: str) -> Call:
    """Originate one call with `GATEKEEPER_AGI` = server; wait for its decision and hang-up."""
    linkedid = f"gk-{uuid.uuid4().hex[:16]}"
    variables: dict[str, str] = {}
    decided_at: float | None = None
    ended_at = 0.0
    async with client.subscription() as events:
        began = time.perf_counter()
        await client.originate(
            f"Local/{UNLISTED}@{ROUTE_CONTEXT}",
            application="Wait",
            data="0",
            variables={"GK_CAMPAIGN": "spring-promo", "GATEKEEPER_AGI": server},
            channel_id=linkedid,
            other_channel_id=f"{linkedid}-route",
        )
        async with asyncio.timeout(CALL_LIMIT_S):
            while True:
                event = await events.get()
                if event.fields.get("Linkedid") != linkedid:
                    continue
                if event.name == "VarSet" and event.fields.get("Variable", "").startswith("GK_"):
                    variables[event.fields["Variable"]] = event.fields.get("Value", "")
                    if variables.get("GK_DECISION") and decided_at is None:
                        decided_at = time.perf_counter()
                elif event.name == "Hangup" and event.fields.get("Uniqueid") == linkedid:
                    ended_at = time.perf_counter()
                    break
    return Call(
        (decided_at or ended_at) - began,
        variables.get("GK_DECISION", ""),
        variables.get("GK_DECISION_ID", ""),
    )


@contextlib.contextmanager
def _silent_address(host: str, port: int) -> Iterator[None]:
    """host:port where the kernel drops every SYN: a listener whose accept queue is full."""
    with socket.socket() as listener, socket.socket() as queued:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(0)
        queued.connect((host, port))
        with socket.socket() as probe:
            probe.settimeout(0.3)
            with contextlib.suppress(TimeoutError):
                probe.connect((host, port))
                raise RuntimeError(f"{host}:{port} still answers SYNs")
        yield


def _summary(calls: list[Call]) -> str:
    times = sorted(c.seconds * 1000 for c in calls)
    if len(times) == 1:
        return f"{times[0]:.1f} ms"
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    return f"p50 {statistics.median(times):.1f} ms, p99 {p99:.1f} ms, max {times[-1]:.1f} ms"


def _check(calls: list[Call], node: ServeNode, phase: str) -> bool:
    """Every call of the phase an ALLOW recorded by `node`."""
    records = node.decisions()
    wrong = [c for c in calls if c.decision != "ALLOW" or c.decision_id not in records]
    if wrong:
        print(f"  {phase}: {len(wrong)} call(s) not an ALLOW recorded by {node.agi_host}: {wrong}")
    return not wrong


def _standby_watches_nothing(config: dict[str, Any]) -> None:
    if config["agi"]["listen"].startswith("127.0.0.2:"):
        config["ami"]["gated_contexts"] = []


async def _alternating(client: AmiClient, servers: tuple[str, str], calls: int) -> list[list[Call]]:
    """`calls` calls through each of two servers, alternating, so both see the same load."""
    placed: list[list[Call]] = [[], []]
    for _ in range(calls):
        for into, server in zip(placed, servers, strict=True):
            into.append(await _call(client, server))
    return placed


async def _measure(pair: GatekeeperPair, args: argparse.Namespace) -> bool:
    first, second = pair.nodes
    both_names = f"{PAIR_HOST}:{pair.agi_port}"
    second_only = f"{SECOND_HOST}:{pair.agi_port}"
    silent_first = f"{SILENT_HOST}:{pair.agi_port}"
    client = await connect(pair.sandbox, event_filters=DRIVER_EVENTS)
    try:
        for _ in range(3):
            await _call(client, both_names)
        both = [await _call(client, both_names) for _ in range(args.calls)]
        print(f"both nodes up, decided by node 1: {_summary(both)}", flush=True)

        first.signal(signal.SIGSTOP)
        frozen = [await _call(client, both_names) for _ in range(args.frozen_calls)]
        print(
            f"node 1 frozen: {_summary(frozen)}; decisions: "
            f"{[c.decision or 'none (hung up)' for c in frozen]}",
            flush=True,
        )

        first.signal(signal.SIGKILL)
        after_kill = await _call(client, both_names)
        print(f"first call after node 1 was killed: {_summary([after_kill])}", flush=True)
        refused, direct = await _alternating(client, (both_names, second_only), args.calls)
        print(f"node 1 dead, refused first: {_summary(refused)}", flush=True)
        print(f"  same time, node 2's address alone: {_summary(direct)}", flush=True)

        with _silent_address(SILENT_ADDRESS, pair.agi_port):
            silent, direct_too = await _alternating(
                client, (silent_first, second_only), args.silent_calls
            )
        print(f"first address drops SYNs: {_summary(silent)}", flush=True)
        print(f"  same time, node 2's address alone: {_summary(direct_too)}", flush=True)
    finally:
        await client.close()
    for what, slow, fast in (("refused", refused, direct), ("silent", silent, direct_too)):
        extra = statistics.median(c.seconds for c in slow) - statistics.median(
            c.seconds for c in fast
        )
        print(f"added per call, first address {what} (p50 difference): {extra * 1000:.2f} ms")
    return (
        _check(both, first, "both up")
        & _check([after_kill, *refused, *direct, *silent, *direct_too], second, "node 1 dead")
        & all(c.decision == "" for c in frozen)
    )


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--frozen-calls", type=int, default=1)
    parser.add_argument("--silent-calls", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pair = GatekeeperPair(
            Path(tmp) / "pair",
            customise=_standby_watches_nothing,
            agi_timeout_s=AGI_TIMEOUT_S,
            extra_hosts={
                SILENT_HOST: (SILENT_ADDRESS, NODE_ADDRESSES[1]),
                SECOND_HOST: (NODE_ADDRESSES[1],),
            },
        )
        with pair:
            ok = asyncio.run(_measure(pair, args))
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
