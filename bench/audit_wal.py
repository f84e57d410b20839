"""Benchmark: the decision log's WAL stays bounded under sustained load, and what that costs.

Opens the stores exactly as `serve` does (`open_services` on a temporary data folder), then
records decisions through the service's own `DecisionLog` at a steady rate (default 500/s for
10 minutes, open loop), while the `/healthz` checks of the log and the disk run every 2 s and a
reader reads the last minute's decisions every 10 s (an operator's `audit show`). Every few
seconds it prints
the WAL file's size and the window's record latency; at the end, the largest and last WAL
sizes, the p50/p99/max latency of `record()` over the whole run, and how many WAL resets a
reader made wait.

Usage: .venv/bin/python bench/audit_wal.py [--rate 500] [--seconds 600] [--sample 5]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.records import utc_text
from gatekeeper.audit.store import reading
from gatekeeper.common.logs import configure_logging
from gatekeeper.config import LiveSettings
from gatekeeper.serve.app import open_services
from gatekeeper.serve.health import Check, run_checks
from gatekeeper.serve.health_checks import disk_check, late_records_check, log_check
from tools.gatekeeper_run import write_run_config

from audit_log import ENTRY

HEALTH_EVERY_S = 2.0
READER_EVERY_S = 10.0
MIB = 1024 * 1024


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[max(0, int(len(ordered) * q) - 1)]


class Samples:
    """Latencies of the whole run and of the current window, and the WAL sizes seen."""

    def __init__(self) -> None:
        self.all: list[float] = []
        self.window: list[float] = []
        self.wal: list[int] = []

    async def timed(self, log: DecisionLog) -> None:
        """One record(), timed."""
        start = time.perf_counter()
        await log.record(ENTRY)
        took = time.perf_counter() - start
        self.all.append(took)
        self.window.append(took)


async def _health(checks: dict[str, Check], stop: asyncio.Event) -> None:
    while not stop.is_set():
        await run_checks(checks)
        await asyncio.sleep(HEALTH_EVERY_S)


async def _reader(path: Path, stop: asyncio.Event) -> None:
    def read() -> None:
        since = utc_text(datetime.now(UTC) - timedelta(minutes=1))
        with reading(path) as conn:
            conn.execute("SELECT count(*) FROM chain WHERE at >= ?", (since,)).fetchone()

    while not stop.is_set():
        await asyncio.to_thread(read)
        await asyncio.sleep(READER_EVERY_S)


async def _sampler(log: DecisionLog, samples: Samples, every: float, stop: asyncio.Event) -> None:
    begin = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(every)
        wal = log.wal_bytes()
        samples.wal.append(wal)
        window, samples.window = sorted(samples.window), []
        if window:
            print(
                f"t={time.perf_counter() - begin:6.0f} s  wal={wal / MIB:7.1f} MiB  "
                f"p50={statistics.median(window) * 1e3:6.3f} ms  "
                f"p99={_quantile(window, 0.99) * 1e3:7.3f} ms  max={window[-1] * 1e3:7.2f} ms",
                flush=True,
            )


async def main(rate: int, seconds: float, every: float) -> None:
    """Record at `rate` for `seconds`, sampling every `every` seconds."""
    configure_logging(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        config = write_run_config(Path(folder), agi_port=4573, ami_port=5038, ami_secret="s")
        live = LiveSettings(config)
        async with open_services(live) as services:
            log = services.decision_log
            samples = Samples()
            stop = asyncio.Event()
            checks: dict[str, Check] = {
                "log": log_check(services.checker, live.current),
                "late_records": late_records_check(log),
                "disk": disk_check(live.current),
            }
            helpers = [
                asyncio.create_task(_health(checks, stop)),
                asyncio.create_task(_reader(log.path, stop)),
                asyncio.create_task(_sampler(log, samples, every, stop)),
            ]
            tasks: set[asyncio.Task[None]] = set()
            begin = time.perf_counter()
            for index in range(int(rate * seconds)):
                delay = begin + index / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.create_task(samples.timed(log))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.gather(*tasks)
            stop.set()
            await asyncio.gather(*helpers)
            final = log.wal_bytes()
            missed = log.wal_resets_missed
        ordered = sorted(samples.all)
        print(
            f"rate {rate}/s for {seconds:g} s: {len(ordered)} records; "
            f"WAL max {max(samples.wal, default=0) / MIB:.1f} MiB, final {final / MIB:.1f} MiB; "
            f"record() p50 {statistics.median(ordered) * 1e3:.3f} ms, "
            f"p99 {_quantile(ordered, 0.99) * 1e3:.3f} ms, "
            f"p99.9 {_quantile(ordered, 0.999) * 1e3:.3f} ms, max {ordered[-1] * 1e3:.2f} ms; "
            f"WAL resets a reader made wait: {missed}",
            flush=True,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=500, help="records per second")
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the run")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    options = parser.parse_args()
    asyncio.run(main(options.rate, options.seconds, options.sample))
