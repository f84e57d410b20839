"""Benchmark: a generated list file of valid Belgian numbers to a ready index.

Usage: .venv/bin/python bench/dncm_import.py [--rows 2000000] [--work DIR]
Prints wall time of the import (fingerprint, parse, build, the checks that the list does not go
backwards, swap) and the peak RSS of the importing process,
measured in a fresh child process (VmHWM: getrusage's ru_maxrss would carry over the memory
the parent used to generate the file across fork and exec).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from dncm_listgen import write_list

_CHILD = """
import json, resource, sys, time
from datetime import date
from pathlib import Path
from gatekeeper.dncm.sync import import_list_file
started = time.perf_counter()
report = import_list_file(Path(sys.argv[1]), Path(sys.argv[2]), source="bench",
                          list_date=date.today())
elapsed = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
status = Path("/proc/self/status").read_text().splitlines()
peak_kib = int(next(line for line in status if line.startswith("VmHWM:")).split()[1])
print(json.dumps({
    "seconds": elapsed, "cpu_seconds": usage.ru_utime + usage.ru_stime,
    "peak_rss_mb": peak_kib / 1024, "rows": report.record.rows,
    "added": report.record.added, "removed": report.record.removed,
}))
"""


def main() -> None:
    """Generate, import twice (fresh, then against a previous snapshot), print figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.work) as work:
        root = Path(work)
        file = root / "list.txt"
        write_list(file, args.rows, seed=1)
        print(f"file: {args.rows} rows, {file.stat().st_size / 1e6:.1f} MB")
        second = root / "list2.txt"
        write_list(second, args.rows, seed=2)
        for label, source in (("fresh import", file), ("import over previous", second)):
            done = subprocess.run(
                [sys.executable, "-c", _CHILD, str(root / "dncm"), str(source)],
                check=True,
                capture_output=True,
                text=True,
            )
            figures = json.loads(done.stdout)
            print(
                f"{label}: {figures['rows']} rows in {figures['seconds']:.2f} s "
                f"({figures['cpu_seconds']:.2f} s CPU), "
                f"peak RSS {figures['peak_rss_mb']:.0f} MB "
                f"(+{figures['added']} -{figures['removed']})"
            )


if __name__ == "__main__":
    main()
