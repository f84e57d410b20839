"""Benchmark: the whole decision path, as the AGI server calls it.

Normalise, index, consent store, policy, decision log: measures the latency of `Checker.check`
at a steady offered rate (open loop: calls start on schedule whether or not earlier ones
finished) and the maximum throughput, with the decision log on and with it replaced by a
recorder that does nothing, so that the log's own share of the latency shows.

Usage: .venv/bin/python bench/check_path.py [--rows 2000000] [--rate 500] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.records import DecisionEntry
from gatekeeper.check.checker import CallRequest, Checker
from gatekeeper.common.clock import today
from gatekeeper.common.logs import configure_logging
from gatekeeper.config import load_settings
from gatekeeper.consent import ActRecord, RecordKind, open_act_store
from gatekeeper.dncm.index import ListIndex
from gatekeeper.dncm.sync import import_list_file
from tools.gatekeeper_run import write_run_config

from dncm_listgen import write_list


class NullRecorder:
    """A decision log that keeps nothing: the baseline for the log's added latency."""

    def __init__(self) -> None:
        self.count = 0

    async def record(self, entry: DecisionEntry) -> str:
        """Count and forget."""
        del entry
        self.count += 1
        return f"null-{self.count}"

    def record_late(self, entry: DecisionEntry, why: str) -> bool:
        """Never called: nothing is ever late here."""
        del entry, why
        return False


def _numbers(list_file: Path, count: int, rng: random.Random) -> list[str]:
    listed = [line.split(";", 1)[0] for line in list_file.read_text().splitlines()[:count]]
    unlisted = [f"047{rng.randrange(10**7):07d}" for _ in range(count)]
    mixed = listed + unlisted
    rng.shuffle(mixed)
    return mixed


async def _steady(checker: Checker, numbers: list[str], rate: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    total = int(rate * seconds)
    start = time.perf_counter()

    async def one(i: int) -> None:
        began = time.perf_counter()
        await checker.check(CallRequest(numbers[i % len(numbers)], "spring-promo", "bench"))
        latencies.append(time.perf_counter() - began)

    async with asyncio.TaskGroup() as tasks:
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.create_task(one(i))
    return latencies


async def _throughput(checker: Checker, numbers: list[str], calls: int, width: int) -> float:
    queue = iter(range(calls))

    async def worker() -> None:
        for i in queue:
            await checker.check(CallRequest(numbers[i % len(numbers)], "spring-promo", "bench"))

    start = time.perf_counter()
    async with asyncio.TaskGroup() as tasks:
        for _ in range(width):
            tasks.create_task(worker())
    return calls / (time.perf_counter() - start)


def _summary(label: str, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p = [ordered[int(q * (len(ordered) - 1))] * 1e6 for q in (0.5, 0.99, 0.999)]
    return (
        f"{label}: {len(ordered)} calls, p50 {p[0]:.0f} µs, p99 {p[1]:.0f} µs, "
        f"p99.9 {p[2]:.0f} µs, mean {statistics.fmean(ordered) * 1e6:.0f} µs"
    )


async def main(rows: int, rate: int, seconds: float) -> None:
    """Build a list of `rows`, then measure."""
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        config = write_run_config(run, agi_port=4573, ami_port=5038, ami_secret="bench")
        settings = load_settings(config)
        list_file = run / "list.txt"
        write_list(list_file, rows, last_day=today())
        began = time.perf_counter()
        import_list_file(settings.data_dir / "dncm", list_file, source="bench", list_date=today())
        print(f"list of {rows} rows imported in {time.perf_counter() - began:.1f} s")
        numbers = _numbers(list_file, 20_000, rng)
        acts = await open_act_store(settings.data_dir / "consent" / "acts.sqlite")
        await acts.add_all(
            [
                ActRecord(RecordKind.CONSENT, "acme", f"+32{n[1:]}", today())
                for n in numbers[:2000]
                if n.startswith("0")
            ]
        )
        index = ListIndex(settings.data_dir / "dncm")
        log = await DecisionLog.open(settings.data_dir / "audit" / "decisions.sqlite")
        try:
            with_log = Checker(lambda: settings, index, acts, log)
            without_log = Checker(lambda: settings, index, acts, NullRecorder())
            for label, checker in (("log off", without_log), ("log on ", with_log)):
                await _steady(checker, numbers, rate, 1.0)
                latencies = await _steady(checker, numbers, rate, seconds)
                print(_summary(f"{label} at {rate}/s", latencies))
            for label, checker in (("log off", without_log), ("log on ", with_log)):
                for width in (1, 50):
                    per_s = await _throughput(checker, numbers, 20_000, width)
                    print(f"{label} max throughput, {width:3} in flight: {per_s:,.0f} decisions/s")
        finally:
            await log.close()
            await acts.close()
            index.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    configure_logging(level=logging.WARNING)
    if os.environ.get("GK_SWITCH"):
        sys.setswitchinterval(float(os.environ["GK_SWITCH"]))
    asyncio.run(main(args.rows, args.rate, args.seconds))
