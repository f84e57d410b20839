"""Every performance target, measured and printed beside its target, in one command.

Usage: .venv/bin/python bench/targets.py [--quick] [--baseline DIR] [--only PART ...]

Measures, each in a fresh child process (peak RSS is the child's VmHWM):

- scrub of a 1,000,000-row and a 5,000,000-row calling list against a 2,000,000-number list
  index with 10,000 acts (bench/scrub.py's data): wall and CPU seconds, peak RSS;
- list import of a 2,000,000-row file (bench/dncm_import.py's child): wall and CPU seconds;
- FastAGI saturation with the full decision path, 50 calls in flight (bench/agi_server.py
  --check): calls/s and the server's CPU per call, whose inverse is the one-core ceiling;
- `gatekeeper serve` at rest with a 5,000,000-number list: RSS after start and after calls;
- calls through the Asterisk sandbox (bench/asterisk_calls.py --no-ami-variant, 3 rounds of
  1,000 calls): `serve` with its watchdog, and without its AMI session, each ÷ a null FastAGI
  responder (skipped, and said so, when the sandbox is not installed).

`--baseline DIR` names a folder holding an older `gatekeeper/` package (for example
`git archive OLD gatekeeper | tar -x -C DIR`): each scrub and import figure is then measured for
the baseline and for this tree alternately, in the same run, so that a loaded machine slows
both alike (the larger scrub, a memory figure, runs once, for this tree only). The load
average is printed before and after. `--quick` uses a tenth of the sizes. `--only scrub`,
`--only import`, `--only agi`, `--only serve`, `--only asterisk` (repeatable) measure those
parts alone.
Setup (list files, imports) takes a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gatekeeper.common.clock import today
from gatekeeper.config import load_settings
from gatekeeper.dncm.sync import import_list_file, sync_now
from tools.asterisk_sandbox import DEFAULT_ROOT, READY_MARK, free_port
from tools.gatekeeper_run import write_run_config

from agi_server import SESSION, one_call
from asterisk_calls import TARGET_RATIO
from dncm_import import _CHILD as IMPORT_CHILD
from dncm_listgen import numbers, write_list
from scrub import CONFIG, store_acts, write_calling_list

HERE = Path(__file__).resolve().parent
TREE = HERE.parent
SERVE_CALLS = 2_000
ASTERISK_RATIO = "calls through Asterisk, `serve` / null responder"
SERVE_CODE = "import sys; from gatekeeper.cli import main; sys.exit(main(sys.argv[1:]))"

SCRUB_CHILD = """
import asyncio, json, resource, sys, time
from pathlib import Path
from gatekeeper.config import load_settings
from gatekeeper.scrub import ScrubRequest, scrub
folder, rows = Path(sys.argv[1]), sys.argv[2]
settings = load_settings(folder / "gatekeeper.yaml")
request = ScrubRequest(folder / f"calling-{rows}.csv", folder / "out.csv", "spring-promo")
started = time.perf_counter()
result = asyncio.run(scrub(settings, request))
elapsed = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
status = Path("/proc/self/status").read_text().splitlines()
peak_kib = int(next(line for line in status if line.startswith("VmHWM:")).split()[1])
print(json.dumps({"seconds": elapsed, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                  "peak_rss_mb": peak_kib / 1024, "rows": result.rows}))
"""


@dataclass(frozen=True, slots=True)
class Line:
    """One figure beside its target."""

    what: str
    target: str
    measured: str
    met: bool | None


def load() -> str:
    """The load averages (1, 5, 15 min) and the core count."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def child(code: str, args: list[str], tree: Path) -> dict[str, float]:
    """Run `code` in a fresh interpreter importing `gatekeeper` from `tree`; its JSON line."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(tree), str(HERE)))}
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
    )
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def alternate(
    label: str,
    run: Callable[[Path], dict[str, float]],
    baseline: Path | None,
    rounds: int = 2,
) -> list[tuple[str, dict[str, float]]]:
    """Run for the baseline and this tree alternately, or for this tree alone, `rounds` times."""
    trees = [("baseline", baseline), ("this tree", TREE)] if baseline else [("this tree", TREE)]
    results = []
    for _ in range(rounds):
        for name, tree in trees:
            assert tree is not None
            figures = run(tree)
            print(f"  {label}, {name}: {json.dumps(figures)}", flush=True)
            results.append((name, figures))
    return results


def ours(results: list[tuple[str, dict[str, float]]]) -> list[dict[str, float]]:
    """The figures of this tree."""
    return [figures for name, figures in results if name == "this tree"]


def span(values: list[float], fmt: str) -> str:
    """`low-high` (or one value) formatted."""
    low, high = min(values), max(values)
    return (
        format(low, fmt) if format(low, fmt) == format(high, fmt) else f"{low:{fmt}}-{high:{fmt}}"
    )


def scrub_lines(folder: Path, sizes: tuple[int, int], baseline: Path | None) -> list[Line]:
    """Scrub the two calling lists; time at the first size, memory at both."""
    lines = []
    for rows in sizes:
        scrub_args = [str(folder), str(rows)]
        first = rows == sizes[0]
        results = alternate(
            f"scrub {rows:,}",
            functools.partial(child, SCRUB_CHILD, scrub_args),
            baseline if first else None,
            rounds=2 if first else 1,
        )
        mine = ours(results)
        peak = [f["peak_rss_mb"] for f in mine]
        if rows == sizes[0]:
            wall = [f["seconds"] for f in mine]
            cpu = [f["cpu_seconds"] for f in mine]
            lines.append(
                Line(
                    f"scrub {rows:,} rows, time",
                    "<= 10 s",
                    f"{span(wall, '.1f')} s wall, {span(cpu, '.1f')} s CPU",
                    min(wall) <= 10,
                )
            )
        lines.append(
            Line(
                f"scrub {rows:,} rows, peak RSS",
                "<= 120 MB",
                f"{span(peak, '.0f')} MB",
                max(peak) <= 120,
            )
        )
    return lines


def import_line(folder: Path, rows: int, baseline: Path | None) -> Line:
    """Import the list file into fresh index folders."""
    source = folder / "dncm.txt"
    counter = iter(range(1000))

    def run(tree: Path) -> dict[str, float]:
        target = folder / f"import-{next(counter)}"
        return child(IMPORT_CHILD, [str(target), str(source)], tree)

    mine = ours(alternate(f"import {rows:,}", run, baseline))
    wall = [f["seconds"] for f in mine]
    cpu = [f["cpu_seconds"] for f in mine]
    return Line(
        f"list import, {rows:,} rows",
        "<= 8 s",
        f"{span(wall, '.1f')} s wall, {span(cpu, '.1f')} s CPU, "
        f"peak {span([f['peak_rss_mb'] for f in mine], '.0f')} MB",
        min(wall) <= 8,
    )


def bench_output(script: str, *args: str) -> str:
    """What another benchmark of bench/ printed, run on this tree."""
    done = subprocess.run(
        [sys.executable, str(HERE / script), *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join((str(TREE), str(HERE)))},
    )
    return done.stdout


def agi_line() -> Line:
    """bench/agi_server.py --check, 50 calls in flight."""
    output = bench_output("agi_server.py", "--check", "--seconds", "5")
    rate = _figure(r"calls/s:\s+([\d,]+)", output)
    per_call = _figure(r"CPU per call:\s+([\d,]+)", output)
    ceiling = 1e6 / per_call
    return Line(
        "FastAGI, full decision path, 50 in flight",
        ">= 3,500 checks/s on one core",
        f"{rate:,.0f} calls/s; server CPU {per_call:.0f} µs per call (ceiling {ceiling:,.0f}/s)",
        ceiling >= 3500,
    )


def _figure(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    if found is None:
        raise RuntimeError(f"no {pattern!r} in the benchmark's output:\n{text}")
    return float(found[1].replace(",", ""))


def rss_mb(pid: int) -> float:
    """The resident set of a process, in MB."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith("VmRSS:")).split()[1]) / 1024


def serve_line(folder: Path, list_rows: int) -> Line:
    """`gatekeeper serve` with a list of `list_rows`: RSS after start, after calls."""
    run_dir = folder / "serve"
    agi_port = free_port()
    config = write_run_config(
        run_dir, agi_port=agi_port, ami_port=free_port(), ami_secret="bench-secret"
    )
    list_file = folder / "serve-list.txt"
    write_list(list_file, list_rows, seed=3)
    import_list_file(run_dir / "data" / "dncm", list_file, source="bench", list_date=today())
    list_file.unlink()
    env = {**os.environ, "PYTHONPATH": str(TREE)}
    with (run_dir / "serve.log").open("w") as log:
        serve = subprocess.Popen(
            [sys.executable, "-c", SERVE_CODE, "-c", str(config), "serve"],
            stdout=log,
            stderr=log,
            env=env,
        )
    try:
        _wait_for_port(agi_port, serve)
        time.sleep(2.0)
        at_start = rss_mb(serve.pid)
        asyncio.run(_calls(agi_port, SERVE_CALLS))
        time.sleep(1.0)
        after = rss_mb(serve.pid)
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
    return Line(
        f"`serve` at rest, {list_rows:,}-number list",
        "report",
        f"RSS {at_start:.0f} MB after start, {after:.0f} MB after {SERVE_CALLS:,} calls",
        None,
    )


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gatekeeper serve exited before it listened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gatekeeper serve did not listen within 60 s")


async def _calls(port: int, count: int) -> None:
    raw = SESSION.read_bytes()
    header = raw[: raw.index(b"\n\n") + 2]
    for start in range(0, count, 50):
        await asyncio.gather(*(one_call(port, header) for _ in range(min(50, count - start))))


def asterisk_lines(quick: bool) -> list[Line]:
    """bench/asterisk_calls.py --no-ami-variant: `serve` ÷ a null responder through Asterisk."""
    if not (DEFAULT_ROOT / READY_MARK).exists():
        reason = "not measured: no Asterisk sandbox (make asterisk)"
        return [Line(ASTERISK_RATIO, ">= 0.9", reason, None)]
    rounds, calls = ("2", "300") if quick else ("3", "1000")
    output = bench_output(
        "asterisk_calls.py", "--no-ami-variant", "--rounds", rounds, "--calls", calls
    )
    watched = _figure(r"calls/s serve / null responder: ([\d.]+)", output)
    unwatched = _figure(r"calls/s serve, AMI off / null responder: ([\d.]+)", output)
    return [
        Line(ASTERISK_RATIO, ">= 0.9", f"{watched:.2f}", watched >= TARGET_RATIO),
        Line(
            "  the same, `serve` with its AMI session off",
            "report",
            f"{unwatched:.2f}",
            None,
        ),
    ]


PARTS = ("scrub", "import", "agi", "serve", "asterisk")


def prepare(folder: Path, list_rows: int, sizes: tuple[int, int], *, scrub: bool = True) -> None:
    """bench/scrub.py's data: a list imported, acts stored, two calling lists (if `scrub`)."""
    (folder / "gatekeeper.yaml").write_text(CONFIG, encoding="utf-8")
    write_list(folder / "dncm.txt", list_rows, seed=1)
    if not scrub:
        return
    listed = numbers(list_rows, random.Random(1))[:200_000]
    settings = load_settings(folder / "gatekeeper.yaml")
    sync_now(settings, file=folder / "dncm.txt", list_date=today())
    rng = random.Random(7)
    asyncio.run(store_acts(folder, listed, rng))
    for rows in sizes:
        write_calling_list(folder / f"calling-{rows}.csv", listed, rows, rng)


def main() -> int:
    """Measure every target; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--baseline", type=Path, help="folder with an older gatekeeper/")
    parser.add_argument("--only", action="append", choices=PARTS, help="measure this part")
    args = parser.parse_args()
    parts = set(args.only or PARTS)
    scale = 10 if args.quick else 1
    list_rows = 2_000_000 // scale
    sizes = (1_000_000 // scale, 5_000_000 // scale)
    print(f"start: {load()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="gk-targets-") as temp:
        folder = Path(temp)
        started = time.perf_counter()
        prepare(folder, list_rows, sizes, scrub="scrub" in parts)
        print(f"setup: {time.perf_counter() - started:.0f} s; {load()}", flush=True)
        lines = []
        if "scrub" in parts:
            lines += scrub_lines(folder, sizes, args.baseline)
        if "import" in parts:
            lines.append(import_line(folder, list_rows, args.baseline))
        if "agi" in parts:
            lines.append(agi_line())
        if "serve" in parts:
            lines.append(serve_line(folder, 5_000_000 // scale))
        if "asterisk" in parts:
            lines += asterisk_lines(args.quick)
    print(f"end: {load()}")
    width = max(len(line.what) for line in lines)
    for line in lines:
        verdict = {True: "met", False: "MISSED", None: ""}[line.met]
        print(f"{line.what:<{width}}  target {line.target:<30} {line.measured}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
