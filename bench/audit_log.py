"""Benchmark: latency the decision log adds to a decision, at 500/s and at full speed.

Runs `DecisionLog.record()` on a temporary file for both `synchronous` settings (NORMAL and
FULL in WAL mode), first at a steady 500 decisions/s, then as fast as 256 concurrent callers
can go. Prints p50/p99/max latency of record() and the throughput. Short by design (a shared
2-core machine): about 15 seconds in all.
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import statistics
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.records import DecisionEntry
from gatekeeper.audit.schema import Synchronous
from gatekeeper.rules.policy import Act, ActKind, SnapshotInfo

ENTRY = DecisionEntry(
    at=datetime.now(UTC),
    source="agi",
    campaign="spring-promo",
    purpose="commercial",
    advertiser="acme",
    dialled="0470 12 34 56",
    e164="+32470123456",
    verdict="allow",
    reason="consent_after_listing",
    rule="consent of 2025-02-01 is later than the listing",
    snapshot=SnapshotInfo(3, date(2025, 3, 2), "ab" * 32, 2_000_000),
    evidence=(Act(ActKind.LISTING, date(2024, 1, 1)), Act(ActKind.CONSENT, date(2025, 2, 1))),
    channel="Local/0470123456@gated-00000001;2",
    uniqueid="1741000000.17",
    linkedid="1741000000.16",
    host="node-1",
)


class ThreadHop:
    """Baseline: the same thread hop and wake-up as the log, with no SQLite work at all."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: queue.SimpleQueue[asyncio.Future[str] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (future := self._queue.get()) is not None:
            self._loop.call_soon_threadsafe(future.set_result, "id")

    async def record(self, _entry: DecisionEntry) -> str:
        """Hop to the thread and back."""
        future: asyncio.Future[str] = self._loop.create_future()
        self._queue.put(future)
        return await future

    async def close(self) -> None:
        """Stop the thread."""
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)


Recorder = DecisionLog | ThreadHop


def _summary(label: str, latencies: list[float], elapsed: float) -> str:
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return (
        f"{label:<34} n={len(ordered):>6}  p50={statistics.median(ordered) * 1e3:6.3f} ms  "
        f"p99={p99 * 1e3:6.3f} ms  max={ordered[-1] * 1e3:7.3f} ms  "
        f"rate={len(ordered) / elapsed:8.0f}/s"
    )


async def _timed(log: Recorder, latencies: list[float]) -> None:
    start = time.perf_counter()
    await log.record(ENTRY)
    latencies.append(time.perf_counter() - start)


async def steady(log: Recorder, rate: int, seconds: float) -> tuple[list[float], float]:
    """Start one record() every 1/rate seconds, on schedule, for `seconds`."""
    latencies: list[float] = []
    tasks: list[asyncio.Task[None]] = []
    count = int(rate * seconds)
    begin = time.perf_counter()
    for index in range(count):
        delay = begin + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_timed(log, latencies)))
    await asyncio.gather(*tasks)
    return latencies, time.perf_counter() - begin


async def flat_out(log: Recorder, total: int, callers: int) -> tuple[list[float], float]:
    """`callers` tasks each recording back to back until `total` records are written."""
    latencies: list[float] = []
    per_caller = total // callers

    async def caller() -> None:
        for _ in range(per_caller):
            await _timed(log, latencies)

    begin = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return latencies, time.perf_counter() - begin


async def main(seconds: float, total: int) -> None:
    """Run both modes on a fresh temporary log each."""
    hop = ThreadHop()
    try:
        print(_summary("baseline thread hop: steady 500/s", *await steady(hop, 500, seconds)))
    finally:
        await hop.close()
    with tempfile.TemporaryDirectory() as folder:
        for mode in (Synchronous.NORMAL, Synchronous.FULL):
            log = await DecisionLog.open(Path(folder) / f"{mode.value}.sqlite", synchronous=mode)
            try:
                await steady(log, 500, 0.5)  # warm-up
                print(_summary(f"{mode.value}: steady 500/s", *await steady(log, 500, seconds)))
                print(_summary(f"{mode.value}: max, 256 callers", *await flat_out(log, total, 256)))
            finally:
                await log.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the steady run")
    parser.add_argument("--total", type=int, default=20_480, help="records in the max run")
    options = parser.parse_args()
    asyncio.run(main(options.seconds, options.total))
