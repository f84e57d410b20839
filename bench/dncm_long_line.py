"""Benchmark: a list file with one huge line is refused in linear time and bounded memory.

Usage: .venv/bin/python bench/dncm_long_line.py [--line-mb 250 1024] [--work DIR]
Each file holds 60,000 good lines (past the layout sample) and then one line of the given size.
`gatekeeper sync --file` runs in a fresh child; prints its exit code, wall time and peak RSS
(ru_maxrss of that child alone, measured by a small wrapper process).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GATEKEEPER = str(Path(sys.executable).parent / "gatekeeper")
GOOD_LINE = b"0470123456;2019-03-14\n"
GOOD_LINES = 60_000
_WRAPPER = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, check=False)\n"
    "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def _write(path: Path, line_mb: int) -> None:
    with path.open("wb") as out:
        out.write(GOOD_LINE * GOOD_LINES)
        chunk = b"9" * (1 << 20)
        for _ in range(line_mb):
            out.write(chunk)
        out.write(b";2019-03-14\n" + GOOD_LINE)


def main() -> None:
    """Write each file, sync it, print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--line-mb", type=int, nargs="+", default=[250, 1024])
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.work) as work:
        root = Path(work)
        config = root / "gatekeeper.yaml"
        config.write_text(
            "licensee: {name: Bench NV, role: advertiser, licence_valid_until: 2099-01-01}\n"
            "data_dir: data\ndncm: {source: {file: list.txt}}\n"
        )
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        for line_mb in [0, *args.line_mb]:
            file = root / f"line-{line_mb}.txt"
            if line_mb:
                _write(file, line_mb)
            else:
                file.write_bytes(GOOD_LINE * (GOOD_LINES + 1))
            command = [GATEKEEPER, "-c", str(config), "sync", "--file", str(file)]
            began = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", _WRAPPER, *command],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            )
            elapsed = time.perf_counter() - began
            code, peak_kib = done.stdout.split()
            label = f"{line_mb} MB line" if line_mb else "no long line (baseline)"
            print(
                f"{label}: exit {code} in {elapsed:.2f} s, peak RSS {int(peak_kib) / 1024:.0f} MB"
            )
            file.unlink()


if __name__ == "__main__":
    main()
