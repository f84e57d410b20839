"""What a configuration reload costs: parse time at the size limit, and the event loop's stall.

Run: .venv/bin/python bench/config_reload.py

The loop's stall is measured as a service sees it: a task that wakes every millisecond records
how late it woke while `LiveSettings.reload` runs in a thread (as `serve` runs it), reloading a
file at `MAX_CONFIG_BYTES` over and over. The same ticks without a reload are the baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from gatekeeper.common.errors import ConfigError
from gatekeeper.config import MAX_CONFIG_BYTES, LiveSettings, load_settings

HEAD = """\
licensee: {name: Bench NV, role: service_provider, licence_valid_until: 2099-06-30}
data_dir: data
advertisers:
  acme: {name: ACME Energy BV}
campaigns:
"""
TICK_S = 0.001
WINDOW_S = 5.0


def biggest_valid(path: Path) -> int:
    """Write the largest file of campaigns under the limit; returns its campaign count."""
    lines = [HEAD]
    size, count = len(HEAD), 0
    while True:
        line = f"  campaign-{count:06d}: {{purpose: commercial, advertiser: acme}}\n"
        if size + len(line) > MAX_CONFIG_BYTES:
            break
        lines.append(line)
        size += len(line)
        count += 1
    path.write_text("".join(lines), encoding="utf-8")
    return count


async def tick_lateness(seconds: float) -> list[float]:
    """How late (ms) a task asking to sleep TICK_S woke, for `seconds`."""
    late: list[float] = []
    end = time.perf_counter() + seconds
    while (before := time.perf_counter()) < end:
        await asyncio.sleep(TICK_S)
        late.append((time.perf_counter() - before - TICK_S) * 1000)
    return late


async def lateness_during_reloads(live: LiveSettings) -> tuple[list[float], int]:
    """Tick lateness while reloads run back to back in a thread."""
    stop = threading.Event()
    reloads = 0

    def reload_forever() -> None:
        nonlocal reloads
        while not stop.is_set():
            live.reload()
            reloads += 1

    worker = asyncio.create_task(asyncio.to_thread(reload_forever))
    try:
        return await tick_lateness(WINDOW_S), reloads
    finally:
        stop.set()
        await worker


def p(values: list[float], q: int) -> float:
    """The q-th percentile."""
    return statistics.quantiles(values, n=100)[q - 1]


async def main() -> None:
    """Print the parse time at the limit, the refusal time of a big file, and the loop stall."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gatekeeper.yaml"
        campaigns = biggest_valid(path)
        start = time.perf_counter()
        load_settings(path)
        print(
            f"load of {path.stat().st_size} bytes ({campaigns} campaigns): "
            f"{time.perf_counter() - start:.2f} s"
        )
        big = Path(folder) / "big.yaml"
        big.write_bytes(b"#" * (50 << 20))
        start = time.perf_counter()
        with contextlib.suppress(ConfigError):
            load_settings(big)
        print(f"refusal of a 50 MB file: {(time.perf_counter() - start) * 1000:.1f} ms")
        live = LiveSettings(path)
        idle = await tick_lateness(WINDOW_S)
        busy, reloads = await lateness_during_reloads(live)
        for name, late in (("no reload", idle), (f"{reloads} reloads", busy)):
            print(
                f"1 ms tick lateness, {name}: p50 {p(late, 50):.2f} ms, p99 {p(late, 99):.2f} ms, "
                f"max {max(late):.2f} ms"
            )


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
