"""Benchmark: campaign calls through a real Asterisk, `gatekeeper serve` against a null responder.

Starts the Asterisk sandbox and, in turn on the same AGI port, `gatekeeper serve` on the
example config (a generated `--list-rows` list imported, decision log on, the AMI watchdog and
outcomes on, logged in as the shipped manager user) and a *null responder*: a FastAGI server
that answers every call at once with the same channel variables (one `EXEC MSet`, a fixed
decision id) and holds no AMI session. Each round runs `--calls` calls through each variant,
in alternating order, so both see the same machine load; the figure is the ratio of the two
variants' calls per second (target ≥ 0.9), with the CPU per call of Asterisk and of the
responder, read from /proc. `--no-ami-variant` adds `serve` with its AMI session off (the
manager port pointed at a closed port), to show what the watchdog costs on either side.

Calls are originated over AMI `--width` at a time, half to a listed number and half to an
unlisted one; each runs the whole path: Local channel, Gosub, FastAGI, Dial to the stand-in
trunk (through the trunk guard) for an ALLOW. Needs the sandbox (`make asterisk`).

Usage: .venv/bin/python bench/asterisk_calls.py [--rounds 3] [--calls 1000] [--width 50]
       [--list-rows 2000000] [--no-ami-variant]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml
from tools.asterisk_sandbox import free_port
from tools.calls import CallSpec, connect, place_calls
from tools.gatekeeper_run import START_TIMEOUT_S, GatekeeperRun, wait_for_port

from dncm_listgen import write_list

DRIVER_EVENTS = ("Event: VarSet.*Variable: GK_", "Event: UserEvent", "Event: Hangup")
"""What the load driver reads of each call; asking Asterisk for only this keeps the driver light."""
LISTED = "0470123456"
UNLISTED = "0470999999"
TARGET_RATIO = 0.9
NULL_DECISION_ID = "0000000000000"
SERVE, SERVE_NO_AMI, NULL = "serve", "serve, AMI off", "null responder"


def _cpu_seconds(pid: int, tid: int | None = None) -> float:
    where = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    fields = Path(where).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the null responder (runs in its own process: `--null-responder PORT`) ------------------


async def _null_call(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        header = await reader.readuntil(b"\n\n")
        number = ""
        for line in header.decode("utf-8", "replace").splitlines():
            if line.startswith("agi_arg_1:"):
                number = line.partition(":")[2].strip()
        listed = number == LISTED
        e164 = "+32" + number[1:]
        answer = (
            f"GK_REASON={'dncm_listed' if listed else 'not_listed'},"
            f"GK_DECISION_ID={NULL_DECISION_ID},GK_NUMBER={e164},"
            f"GK_DECISION={'BLOCK' if listed else 'ALLOW'}"
        )
        writer.write(f'EXEC MSet "{answer}"\n'.encode())
        await writer.drain()
        await reader.readline()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def _serve_null(port: int) -> None:
    server = await asyncio.start_server(_null_call, "127.0.0.1", port, backlog=512)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


# --- the driver -----------------------------------------------------------------------------


@dataclass
class _Figures:
    calls: int = 0
    seconds: float = 0.0
    right: int = 0
    rates: list[float] = field(default_factory=list)
    asterisk_cpu: float = 0.0
    responder_cpu: float = 0.0
    session_cpu: float = 0.0
    driver_session_cpu: float = 0.0


@dataclass(frozen=True)
class _Round:
    elapsed: float
    right: int
    asterisk_cpu: float
    responder_cpu: float
    session_cpu: float
    driver_session_cpu: float


def _threads(pid: int) -> set[int]:
    return {int(entry.name) for entry in Path(f"/proc/{pid}/task").iterdir()}


def _threads_cpu(pid: int, threads: set[int]) -> float:
    """CPU seconds of those of `threads` still alive in process `pid`."""
    total = 0.0
    for tid in threads:
        try:
            total += _cpu_seconds(pid, tid)
        except OSError:
            continue
    return total


def _big_list(path: Path, rows: int) -> None:
    write_list(path, rows)
    kept = [
        line
        for line in path.read_text(encoding="ascii").splitlines()
        if not line.startswith((LISTED, UNLISTED))
    ]
    kept.append(f"{LISTED};2019-03-14")
    path.write_text("\n".join(kept) + "\n", encoding="ascii")


def _customiser(list_file: Path | None) -> Callable[[dict[str, Any]], None]:
    def customise(config: dict[str, Any]) -> None:
        if list_file is not None:
            config["dncm"]["source"] = {"file": str(list_file)}

    return customise


def _config_without_ami(run: GatekeeperRun) -> Path:
    config = yaml.safe_load(run.config.read_text(encoding="utf-8"))
    changed = copy.deepcopy(config)
    changed["ami"]["port"] = free_port()
    path = run.config.with_name("gatekeeper-no-ami.yaml")
    path.write_text(yaml.safe_dump(changed, sort_keys=False), encoding="utf-8")
    return path


def _start(run: GatekeeperRun, variant: str, no_ami_config: Path | None) -> int:
    """Start the variant's responder on the AGI port; returns its pid."""
    if variant == NULL:
        process = subprocess.Popen(
            [sys.executable, __file__, "--null-responder", str(run.agi_port)],
            stdin=subprocess.DEVNULL,
        )
        run.serve = process
        wait_for_port(run.agi_port, process, START_TIMEOUT_S)
        return process.pid
    shipped = run.config
    logins = _logins(run)
    if variant == SERVE_NO_AMI:
        assert no_ami_config is not None
        run.config = no_ami_config
    try:
        run.start_gatekeeper()
    finally:
        run.config = shipped
    assert run.serve is not None
    if variant == SERVE:
        deadline = time.monotonic() + START_TIMEOUT_S
        while _logins(run) == logins:
            if time.monotonic() > deadline:
                raise RuntimeError("gatekeeper serve did not log in to AMI")
            time.sleep(0.05)
    return run.serve.pid


def _logins(run: GatekeeperRun) -> int:
    log = run.run_dir / "serve.log"
    if not log.exists():
        return 0
    return log.read_text(encoding="utf-8", errors="replace").count("ami_logged_in")


async def _round(run: GatekeeperRun, pid: int, session: set[int], calls: int, width: int) -> _Round:
    """One round; `session` are Asterisk's threads for the responder's AMI session, if any."""
    assert run.sandbox.process is not None
    asterisk = run.sandbox.process.pid
    before = _threads(asterisk)
    client = await connect(run.sandbox, event_filters=DRIVER_EVENTS)
    driver = _threads(asterisk) - before
    right = 0
    try:
        await place_calls(client, [CallSpec(UNLISTED, "spring-promo")] * 10, limit_s=60)
        cpu = (
            _cpu_seconds(asterisk),
            _cpu_seconds(pid),
            _threads_cpu(asterisk, session),
            _threads_cpu(asterisk, driver),
        )
        began = time.perf_counter()
        for start in range(0, calls, width):
            specs = [
                CallSpec(LISTED if i % 2 else UNLISTED, "spring-promo")
                for i in range(start, min(calls, start + width))
            ]
            placed = await place_calls(client, specs, limit_s=120, agent_wait_s=0)
            right += sum(
                (c.decision == "BLOCK") == (c.spec.number == LISTED) and c.decision_id != ""
                for c in placed
            )
        elapsed = time.perf_counter() - began
        result = _Round(
            elapsed,
            right,
            _cpu_seconds(asterisk) - cpu[0],
            _cpu_seconds(pid) - cpu[1],
            _threads_cpu(asterisk, session) - cpu[2],
            _threads_cpu(asterisk, driver) - cpu[3],
        )
    finally:
        await client.close()
    return result


def _measure(run: GatekeeperRun, args: argparse.Namespace) -> dict[str, _Figures]:
    variants = [SERVE, NULL] + ([SERVE_NO_AMI] if args.no_ami_variant else [])
    no_ami_config = _config_without_ami(run) if args.no_ami_variant else None
    figures = {variant: _Figures() for variant in variants}
    run.stop_gatekeeper()
    for number in range(args.rounds):
        order = variants if number % 2 == 0 else variants[::-1]
        for variant in order:
            assert run.sandbox.process is not None
            before = _threads(run.sandbox.process.pid)
            pid = _start(run, variant, no_ami_config)
            session = _threads(run.sandbox.process.pid) - before
            try:
                done = asyncio.run(_round(run, pid, session, args.calls, args.width))
            finally:
                run.stop_gatekeeper()
            rate = args.calls / done.elapsed
            print(f"round {number + 1}, {variant}: {rate:,.0f} calls/s", flush=True)
            into = figures[variant]
            into.calls += args.calls
            into.seconds += done.elapsed
            into.right += done.right
            into.rates.append(rate)
            into.asterisk_cpu += done.asterisk_cpu
            into.responder_cpu += done.responder_cpu
            into.session_cpu += done.session_cpu
            into.driver_session_cpu += done.driver_session_cpu
    return figures


def _report(figures: dict[str, _Figures], args: argparse.Namespace) -> bool:
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for variant, f in figures.items():
        print(
            f"{variant}: {f.calls / f.seconds:,.0f} calls/s (rounds: "
            f"{', '.join(f'{r:,.0f}' for r in f.rates)}); CPU per call: "
            f"Asterisk {f.asterisk_cpu / f.calls * 1e3:.2f} ms, "
            f"responder {f.responder_cpu / f.calls * 1e3:.2f} ms; "
            f"decided as expected {f.right}/{f.calls}"
        )
        print(
            f"  of Asterisk's CPU per call: the thread of the responder's AMI session "
            f"{f.session_cpu / f.calls * 1e3:.2f} ms, the load driver's "
            f"{f.driver_session_cpu / f.calls * 1e3:.2f} ms"
        )
    base = figures[NULL]
    for variant in (SERVE, SERVE_NO_AMI):
        if variant in figures:
            ratio = (figures[variant].calls / figures[variant].seconds) / (
                base.calls / base.seconds
            )
            pairs = ", ".join(
                f"{a / b:.2f}" for a, b in zip(figures[variant].rates, base.rates, strict=True)
            )
            print(
                f"calls/s {variant} / {NULL}: {ratio:.2f} (per round: {pairs}); "
                f"target ≥ {TARGET_RATIO}"
            )
    return all(f.right == f.calls for f in figures.values()) and args.rounds > 0


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--width", type=int, default=50)
    parser.add_argument("--list-rows", type=int, default=2_000_000)
    parser.add_argument("--no-ami-variant", action="store_true")
    parser.add_argument("--null-responder", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.null_responder:
        asyncio.run(_serve_null(args.null_responder))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        list_file = None
        if args.list_rows:
            list_file = Path(tmp) / "dncm.txt"
            _big_list(list_file, args.list_rows)
        customise = _customiser(list_file)
        with GatekeeperRun(Path(tmp) / "run", customise=customise) as run:
            figures = _measure(run, args)
    print(f"calls per round: {args.calls}, {args.width} at a time, list rows: {args.list_rows:,}")
    return 0 if _report(figures, args) else 1


if __name__ == "__main__":
    sys.exit(main())
