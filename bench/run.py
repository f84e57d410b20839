"""`make bench`: run every benchmark in this folder, one after the other, and print its figures.

Each benchmark is a plain script printing its own figures; they run one at a time because this
machine has two cores and a benchmark beside another measures neither.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    """Run the named benchmarks (file stems), or all of them."""
    scripts = sorted(p for p in HERE.glob("*.py") if p.name != "run.py")
    if argv:
        scripts = [p for p in scripts if p.stem in argv]
    failed = 0
    for script in scripts:
        print(f"== {script.stem}", flush=True)
        failed += subprocess.run([sys.executable, str(script)], check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
