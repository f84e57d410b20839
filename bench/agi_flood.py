"""Honest FastAGI calls while another local user holds 1,000 idle connections open.

The server runs in this process with `serve`'s defaults (0.5 s header bound, 1,000 connections,
500 per peer) and a trivial handler, and logs JSON lines to a counter. Two child processes:

* the flood drops to `--flood-user` (``nobody``) and keeps `--idle` connections open without
  sending a byte; each one the server closes or refuses is reopened `--reopen` s later;
* the honest client (root, like Asterisk in the demo) places `--rate` calls per second, each a
  recorded Asterisk 22 environment answered like Asterisk, and times it connect to close.

`--flood-allowed` admits the flood user (the hard case: only the per-peer cap and the header
bound protect the honest calls); without it the flood user is refused at accept. Prints the
honest calls' latency, the honest calls refused, the server's refusals by reason, how many
log lines all that wrote, and how late the server's event loop ran (a 10 ms sleep, timed): when
that lag is small while latency is high, the delay is the machine's CPU (the flood and the
client share it), not the server. Run:

    .venv/bin/python bench/agi_flood.py [--seconds 180] [--idle 1000] [--rate 50] [--flood-allowed]

`--header-timeout 5 --per-peer 1000 --flood-allowed` gives the server's earlier behaviour (every
local user admitted, a 5 s header bound and no per-peer cap), for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures.thread
import contextlib
import encodings.idna
import io
import json
import multiprocessing
import os
import pwd
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from gatekeeper.agi.peers import PeerRules, default_uids
from gatekeeper.agi.server import (
    HEADER_TIMEOUT_S,
    MAX_CONNECTIONS_PER_PEER,
    AgiLimits,
    AgiRequest,
    AgiServer,
)
from gatekeeper.common.logs import configure_logging

SESSION = Path(__file__).resolve().parent.parent / "tests" / "agi_sessions" / "check_allow.agi"
VARIABLES = {
    "GK_DECISION": "ALLOW",
    "GK_REASON": "not_listed",
    "GK_DECISION_ID": "1",
    "GK_NUMBER": "+32470123456",
}
FLOOD_SETTLE_S = 2.0
LAG_TICK_S = 0.01
PRELOADED = (concurrent.futures.thread, encodings.idna)
"""Imported before the flood drops privileges: the interpreter's files may be unreadable then."""


@dataclass
class Honest:
    """What the honest client measured."""

    latencies: list[float] = field(default_factory=list)
    refused: int = 0


class LineCounter(io.StringIO):
    """A log stream that only counts the JSON lines written, by event."""

    def __init__(self) -> None:
        super().__init__()
        self.events: Counter[str] = Counter()

    def write(self, text: str) -> int:
        """Count each line's event."""
        for line in text.splitlines():
            if line.strip():
                self.events[json.loads(line).get("event", "?")] += 1
        return len(text)


async def trivial_handler(_request: AgiRequest) -> Mapping[str, str]:
    """Answer every call with the same four variables."""
    return VARIABLES


def flood_process(user: str, port: int, idle: int, reopen: float, ready: Connection) -> None:
    """Entry point of the flood: become `user`, hold `idle` silent connections until killed."""
    entry = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)

    async def hold(opened: asyncio.Event, count: list[int]) -> None:
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                reader = None
            count[0] += 1
            if count[0] == idle:
                opened.set()
            if reader is not None:
                with contextlib.suppress(OSError):
                    await reader.read()
                writer.close()
            await asyncio.sleep(reopen)

    async def run() -> None:
        opened, count = asyncio.Event(), [0]
        holders = [asyncio.create_task(hold(opened, count)) for _ in range(idle)]
        await opened.wait()
        ready.send(count[0])
        await asyncio.gather(*holders)

    asyncio.run(run())


async def one_call(port: int, header: bytes, honest: Honest) -> None:
    """Place one call; record its latency, or count it refused."""
    started = time.perf_counter()
    commands = 0
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(header)
        while await reader.readline():
            commands += 1
            writer.write(b"200 result=0\n")
        writer.close()
        await writer.wait_closed()
    except OSError:
        commands = 0
    if commands:
        honest.latencies.append(time.perf_counter() - started)
    else:
        honest.refused += 1


async def place_calls(port: int, rate: float, seconds: float) -> Honest:
    """`rate` calls per second for `seconds`, each in its own task."""
    raw = SESSION.read_bytes()
    header = raw[: raw.index(b"\n\n") + 2]
    honest = Honest()
    calls: set[asyncio.Task[None]] = set()
    started = time.perf_counter()
    placed = 0
    while (elapsed := time.perf_counter() - started) < seconds:
        if placed < elapsed * rate:
            task = asyncio.create_task(one_call(port, header, honest))
            calls.add(task)
            task.add_done_callback(calls.discard)
            placed += 1
        await asyncio.sleep(min(1 / rate, 0.01))
    if calls:
        await asyncio.wait(calls)
    return honest


def honest_process(port: int, rate: float, seconds: float, results: Connection) -> None:
    """Entry point of the honest client."""
    results.send(asyncio.run(place_calls(port, rate, seconds)))
    results.close()


async def loop_lag(lags: list[float]) -> None:
    """Record how late the server's event loop wakes from each LAG_TICK_S sleep."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(LAG_TICK_S)
        lags.append(time.perf_counter() - started - LAG_TICK_S)


async def measure(
    args: argparse.Namespace,
) -> tuple[Honest, Mapping[str, int], float, list[float]]:
    """Run the flood and the honest client against one server."""
    flood_uid = pwd.getpwnam(args.flood_user).pw_uid
    uids = default_uids() | ({flood_uid} if args.flood_allowed else set())
    context = multiprocessing.get_context("spawn")
    loop = asyncio.get_running_loop()
    limits = AgiLimits(header_timeout=args.header_timeout, max_connections_per_peer=args.per_peer)
    async with AgiServer(
        {"check": trivial_handler},
        "127.0.0.1",
        0,
        limits=limits,
        peers=PeerRules(allowed_uids=uids),
    ) as server:
        flood_ready, flood_signal = context.Pipe(duplex=False)
        flood = context.Process(
            target=flood_process,
            args=(args.flood_user, server.port, args.idle, args.reopen, flood_signal),
        )
        flood.start()
        flood_signal.close()
        try:
            await loop.run_in_executor(None, flood_ready.recv)
            await asyncio.sleep(FLOOD_SETTLE_S)
            receiving, sending = context.Pipe(duplex=False)
            client = context.Process(
                target=honest_process, args=(server.port, args.rate, args.seconds, sending)
            )
            cpu_before = time.process_time()
            lags: list[float] = []
            probe = asyncio.create_task(loop_lag(lags))
            client.start()
            sending.close()
            honest: Honest = await loop.run_in_executor(None, receiving.recv)
            cpu = time.process_time() - cpu_before
            probe.cancel()
            await loop.run_in_executor(None, client.join)
        finally:
            flood.kill()
            await loop.run_in_executor(None, flood.join)
        refused = {reason.value: count for reason, count in server.refusals.totals.items()}
    return honest, refused, cpu, lags


def main(argv: list[str]) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=180.0, help="honest calls for this long")
    parser.add_argument("--idle", type=int, default=1000, help="idle connections held")
    parser.add_argument("--rate", type=float, default=50.0, help="honest calls per second")
    parser.add_argument("--reopen", type=float, default=0.2, help="flood's pause before reopen")
    parser.add_argument("--flood-user", default="nobody")
    parser.add_argument("--flood-allowed", action="store_true", help="admit the flood user")
    parser.add_argument("--header-timeout", type=float, default=HEADER_TIMEOUT_S, help="seconds")
    parser.add_argument("--per-peer", type=int, default=MAX_CONNECTIONS_PER_PEER, help="cap")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 4 * args.idle), hard), hard))
    lines = LineCounter()
    configure_logging(stream=lines)
    honest, refused, cpu, lags = asyncio.run(measure(args))
    if len(honest.latencies) < 2:
        print(f"too few honest calls answered ({honest.refused} refused)", file=sys.stderr)
        return 1
    cuts = statistics.quantiles(honest.latencies, n=100)
    print(f"flood:                 {args.idle} idle connections as {args.flood_user}", end="")
    print(" (allowed)" if args.flood_allowed else " (not an allowed user)")
    print(f"limits:                header {args.header_timeout:g} s, {args.per_peer} per peer")
    print(f"honest calls answered: {len(honest.latencies)} in {args.seconds:.0f} s")
    print(f"honest calls refused:  {honest.refused}")
    print(f"latency p50:           {cuts[49] * 1000:.2f} ms")
    print(f"latency p99:           {cuts[98] * 1000:.2f} ms")
    print(f"latency max:           {max(honest.latencies) * 1000:.2f} ms")
    print(f"server refusals:       {json.dumps(dict(sorted(refused.items())))}")
    print(f"server log lines:      {json.dumps(dict(lines.events.most_common()))}")
    lag = statistics.quantiles(lags, n=100)
    print(f"server loop lag:       p50 {lag[49] * 1000:.2f} ms, p99 {lag[98] * 1000:.2f} ms")
    print(f"server CPU:            {cpu:.1f} s ({cpu / args.seconds * 100:.0f}% of a core)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
