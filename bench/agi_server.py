"""FastAGI server throughput and latency: calls/s, p50 and p99 for a handler setting 4 variables.

The server runs in this process; the Asterisk-like client runs in a separate process (so the two
do not share a core), keeping `--connections` calls in flight: each call connects, sends a
recorded Asterisk 22 environment, answers each SET VARIABLE with ``200 result=1`` and waits for
the server to close. Latency is measured by the client from connect to close. The server logs its
canonical line per call as JSON to /dev/null, as under `serve`. Server CPU time per call is
printed too: unlike calls/s it barely moves when other work shares the machine. Run:

    .venv/bin/python bench/agi_server.py [--connections 50] [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from gatekeeper.agi.server import AgiRequest, AgiServer
from gatekeeper.common.logs import configure_logging

SESSION = Path(__file__).resolve().parent.parent / "tests" / "agi_sessions" / "check_allow.agi"
VARIABLES = {
    "GK_DECISION": "ALLOW",
    "GK_REASON": "not_listed",
    "GK_DECISION_ID": "1",
    "GK_NUMBER": "+32470123456",
}
WARMUP_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Figures:
    """What the client measured."""

    latencies: list[float]
    elapsed: float
    client_cpu: float
    all_calls: int


async def trivial_handler(_request: AgiRequest) -> Mapping[str, str]:
    """Answer every call with the same four variables."""
    return VARIABLES


async def one_call(port: int, header: bytes) -> float:
    """Place one call; return its latency in seconds."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(header)
    while await reader.readline():
        writer.write(b"200 result=1\n")
    writer.close()
    await writer.wait_closed()
    return time.perf_counter() - started


async def drive(port: int, connections: int, seconds: float) -> Figures:
    """Keep `connections` calls in flight; measure the calls started after the warm-up."""
    raw = SESSION.read_bytes()
    header = raw[: raw.index(b"\n\n") + 2]
    latencies: list[float] = []
    all_calls = 0
    start = time.perf_counter()
    measure_from = start + WARMUP_SECONDS
    stop_at = measure_from + seconds

    async def worker() -> None:
        nonlocal all_calls
        while (now := time.perf_counter()) < stop_at:
            latency = await one_call(port, header)
            all_calls += 1
            if now >= measure_from:
                latencies.append(latency)

    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - measure_from
    return Figures(latencies, elapsed, time.process_time(), all_calls)


def client_process(port: int, connections: int, seconds: float, results: Connection) -> None:
    """Entry point of the client process: drive the server and send the latencies back."""
    results.send(asyncio.run(drive(port, connections, seconds)))
    results.close()


async def serve_and_measure(
    connections: int, seconds: float, *, batch: bool = False
) -> tuple[Figures, float]:
    """Run the client process against the server; the client's figures and the server's CPU s."""
    async with AgiServer(
        {"check": trivial_handler}, "127.0.0.1", 0, batch_variables=batch
    ) as server:
        context = multiprocessing.get_context("spawn")
        receiving, sending = context.Pipe(duplex=False)
        client = context.Process(
            target=client_process, args=(server.port, connections, seconds, sending)
        )
        cpu_before = time.process_time()
        client.start()
        sending.close()
        loop = asyncio.get_running_loop()
        try:
            figures: Figures = await loop.run_in_executor(None, receiving.recv)
        finally:
            await loop.run_in_executor(None, client.join)
    return figures, time.process_time() - cpu_before


def main(argv: list[str]) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--connections", type=int, default=50, help="calls kept in flight")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured duration")
    parser.add_argument(
        "--batch", action="store_true", help="one EXEC MSet per answer, as `serve` does"
    )
    args = parser.parse_args(argv)
    with Path(os.devnull).open("w", encoding="utf-8") as sink:
        configure_logging(stream=sink)
        figures, server_cpu = asyncio.run(
            serve_and_measure(args.connections, args.seconds, batch=args.batch)
        )
    latencies, elapsed = figures.latencies, figures.elapsed
    if len(latencies) < 2:
        print("too few calls completed to report figures", file=sys.stderr)
        return 1
    cuts = statistics.quantiles(latencies, n=100)
    print(f"variables set by:      {'one EXEC MSet' if args.batch else 'SET VARIABLE each'}")
    print(f"connections in flight: {args.connections}")
    print(f"calls answered:        {len(latencies)} in {elapsed:.2f} s")
    print(f"calls/s:               {len(latencies) / elapsed:,.0f}")
    print(f"latency p50:           {cuts[49] * 1000:.2f} ms")
    print(f"latency p99:           {cuts[98] * 1000:.2f} ms")
    print(f"CPU s, whole run:      server {server_cpu:.2f}, client {figures.client_cpu:.2f}")
    per_call = server_cpu / figures.all_calls
    print(
        f"server CPU per call:   {per_call * 1e6:.0f} µs (ceiling {1 / per_call:,.0f} calls/s/core)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
