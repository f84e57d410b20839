"""FastAGI server throughput and latency: calls/s, p50 and p99 for a handler setting 4 variables.

The server runs in this process; the Asterisk-like client runs in a separate process (so the two
do not share a core), keeping `--connections` calls in flight: each call connects, sends a
recorded Asterisk 22 environment, answers each command as Asterisk does when it works
(``200 result=0`` to ``EXEC``, ``200 result=1`` to ``SET VARIABLE``) and waits for the server to
close. Latency is measured by the client from connect to close. The server logs its
canonical line per call as JSON to /dev/null, as under `serve`. Server CPU time per call is
printed too: unlike calls/s it barely moves when other work shares the machine. Run:

    .venv/bin/python bench/agi_server.py [--connections 50] [--seconds 3] [--batch]
    .venv/bin/python bench/agi_server.py --check [--rows 200000] [--profile FILE]

`--check` answers with the full decision path of `serve` (`app.agi_server` and `app.agi_handler`:
peer check, normaliser, list index, consent store, policy, decision log commit, pseudonymised
`decision` line, watchdog and metrics) against a generated list of `--rows` numbers, instead
of the trivial handler. `--profile FILE` writes a cProfile of the server process, in CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from gatekeeper.agi.server import AgiHandler, AgiRequest, AgiServer
from gatekeeper.ami.watchdog import Watchdog
from gatekeeper.common.clock import today
from gatekeeper.common.logs import configure_logging
from gatekeeper.config import LiveSettings, load_settings
from gatekeeper.dncm.sync import sync_now
from gatekeeper.serve.app import agi_handler, agi_server, open_services
from gatekeeper.serve.metrics import Metrics

from dncm_listgen import write_list

CHECK_CONFIG = """\
licensee: {name: Bench NV, role: service_provider, licence_valid_until: 2099-06-30}
data_dir: data
agi: {listen: "127.0.0.1:4573"}
dncm: {source: {file: dncm.txt}}
advertisers: {acme: {name: ACME Energy BV}}
campaigns: {spring-promo: {purpose: commercial, advertiser: acme}}
"""
"""The configured port is not used: the bench listens on a free one."""

SESSION = Path(__file__).resolve().parent.parent / "tests" / "agi_sessions" / "check_allow.agi"
VARIABLES = {
    "GK_DECISION": "ALLOW",
    "GK_REASON": "not_listed",
    "GK_DECISION_ID": "1",
    "GK_NUMBER": "+32470123456",
}
WARMUP_SECONDS = 0.5
EXEC_DONE = b"200 result=0\n"
SET_VARIABLE_DONE = b"200 result=1\n"
"""Asterisk's replies when the command worked: `EXEC` gives the application's result (0),
`SET VARIABLE` gives 1. Any other reply makes the server log a failed answer per call."""


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
    while line := await reader.readline():
        writer.write(EXEC_DONE if line.startswith(b"EXEC ") else SET_VARIABLE_DONE)
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
    server = AgiServer({"check": trivial_handler}, "127.0.0.1", 0, batch_variables=batch)
    return await measure(server, connections, seconds)


async def serve_checks_and_measure(
    folder: Path, connections: int, seconds: float
) -> tuple[Figures, float]:
    """As `serve_and_measure`, the server wired as `serve` wires it, on a prepared folder."""
    live = LiveSettings(folder / "gatekeeper.yaml")
    settings = live.current()
    metrics = Metrics()
    async with open_services(live) as services:
        watchdog = Watchdog(
            gated_contexts=settings.ami.gated_contexts,
            on_bypass=settings.ami.on_bypass,
            bypass_recorder=services.decision_log,
            outcome_recorder=services.decision_log,
            metrics=metrics,
            pseudonyms=services.pseudonyms,
        )
        handler: AgiHandler = agi_handler(services.checker, watchdog, metrics)
        agi = dataclasses.replace(settings.agi, port=0)
        return await measure(agi_server(agi, handler, metrics), connections, seconds)


def prepare_check_folder(folder: Path, rows: int) -> None:
    """A config, a list of `rows` numbers imported today, and an empty consent store."""
    (folder / "gatekeeper.yaml").write_text(CHECK_CONFIG)
    write_list(folder / "dncm.txt", rows, seed=1)
    settings = load_settings(folder / "gatekeeper.yaml")
    sync_now(settings, file=folder / "dncm.txt", list_date=today())


async def measure(server: AgiServer, connections: int, seconds: float) -> tuple[Figures, float]:
    """Start `server`, drive it from a client process, close it; figures and server CPU s."""
    async with server:
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
    parser.add_argument(
        "--check", action="store_true", help="the full decision path of `serve`, not a stub"
    )
    parser.add_argument("--rows", type=int, default=200_000, help="list size with --check")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the server here")
    args = parser.parse_args(argv)
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    with (
        Path(os.devnull).open("w", encoding="utf-8") as sink,
        tempfile.TemporaryDirectory(prefix="gk-agi-bench-") as temp,
    ):
        if args.check:
            prepare_check_folder(Path(temp), args.rows)
        configure_logging(stream=sink)
        run = (
            serve_checks_and_measure(Path(temp), args.connections, args.seconds)
            if args.check
            else serve_and_measure(args.connections, args.seconds, batch=args.batch)
        )
        if profiler is not None:
            profiler.enable()
        figures, server_cpu = asyncio.run(run)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
    latencies, elapsed = figures.latencies, figures.elapsed
    if len(latencies) < 2:
        print("too few calls completed to report figures", file=sys.stderr)
        return 1
    cuts = statistics.quantiles(latencies, n=100)
    batched = args.batch or args.check
    print(f"handler:               {'full decision path' if args.check else 'trivial'}")
    print(f"variables set by:      {'one EXEC MSet' if batched else 'SET VARIABLE each'}")
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
