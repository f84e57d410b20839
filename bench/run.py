"""`make bench`: run every benchmark in this folder, one after the other, and print its figures.

`run.py --targets [--quick] [--baseline DIR]` instead prints every performance target beside its
measured figure (bench/targets.py).

Each benchmark is a plain script printing its own figures; they run one at a time because this
machine has two cores and a benchmark beside another measures neither.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOT_BENCHMARKS = frozenset({"run.py", "targets.py"})
"""targets.py measures again, at full size, what the others measure: `run.py --targets`."""


def main(argv: list[str]) -> int:
    """Run the named benchmarks (file stems), or all of them; `--targets` runs targets.py."""
    if argv and argv[0] == "--targets":
        return subprocess.run(
            [sys.executable, str(HERE / "targets.py"), *argv[1:]], check=False
        ).returncode
    scripts = sorted(p for p in HERE.glob("*.py") if p.name not in NOT_BENCHMARKS)
    if argv:
        scripts = [p for p in scripts if p.stem in argv]
    failed = 0
    for script in scripts:
        print(f"== {script.stem}", flush=True)
        failed += subprocess.run([sys.executable, str(script)], check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
