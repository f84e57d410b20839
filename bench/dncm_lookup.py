"""Benchmark: lookup latency from a 2-million-row snapshot, idle and while an import runs beside.

Usage: .venv/bin/python bench/dncm_lookup.py [--rows 2000000] [--mode process|thread]
`process` runs the import in another process (as `gatekeeper sync` under systemd, and as `serve`
does it); `thread` runs it in a thread of the looking-up process, to show why `serve` does not.
Prints p50/p99/p99.9/max of single `ListIndex.listing_date` calls, including the per-lookup
stat of CURRENT that notices swaps.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from gatekeeper.common.clock import today
from gatekeeper.dncm.index import ListIndex
from gatekeeper.dncm.sync import import_list_file

from dncm_listgen import write_list

_IMPORT = (
    "import sys; from pathlib import Path; from gatekeeper.common.clock import today;"
    "from gatekeeper.dncm.sync import import_list_file;"
    "import_list_file(Path(sys.argv[1]), Path(sys.argv[2]), source='bench',"
    " list_date=today(), force=True)"
)


def _keys(file: Path, count: int) -> list[int]:
    rng = random.Random(3)
    listed = [int("32" + line[1 : line.index(";")]) for line in file.open()]
    sample = rng.sample(listed, count // 2)
    return sample + [k + 1 for k in sample]


def _measure(index: ListIndex, keys: list[int], until: threading.Event | None) -> list[float]:
    timings = []
    lookup = index.listing_date
    clock = time.perf_counter_ns
    rounds = 0
    while True:
        for key in keys:
            started = clock()
            lookup(key)
            timings.append((clock() - started) / 1000)
        rounds += 1
        if until is None or until.is_set() or rounds > 200:
            return timings


def _report(label: str, timings: list[float]) -> None:
    timings.sort()

    def at(q: float) -> float:
        return timings[min(len(timings) - 1, int(q * len(timings)))]

    print(
        f"{label}: {len(timings)} lookups, p50 {at(0.5):.1f} µs, p99 {at(0.99):.1f} µs, "
        f"p99.9 {at(0.999):.1f} µs, max {timings[-1]:.0f} µs"
    )


def main() -> None:
    """Build a snapshot, time lookups idle, then during an import beside them."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--mode", choices=("process", "thread"), default="process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        first, second = root / "a.txt", root / "b.txt"
        write_list(first, args.rows, seed=1)
        write_list(second, args.rows, seed=2)
        directory = root / "dncm"
        import_list_file(directory, first, source="bench", list_date=today())
        index = ListIndex(directory)
        keys = _keys(first, 20_000)
        _report("idle", _measure(index, keys, None)[: len(keys) * 5])
        done = threading.Event()

        def run_import() -> None:
            if args.mode == "process":
                subprocess.run(
                    [sys.executable, "-c", _IMPORT, str(directory), str(second)], check=True
                )
            else:
                import_list_file(directory, second, source="bench", list_date=today(), force=True)
            done.set()

        watcher = threading.Thread(target=run_import)
        watcher.start()
        timings = _measure(index, keys, done)
        watcher.join()
        _report(f"during import ({args.mode})", timings)
        snapshot = index.snapshot()
        print(
            "after the import the index answers from snapshot",
            snapshot.snapshot_id if snapshot else None,
        )


if __name__ == "__main__":
    main()
