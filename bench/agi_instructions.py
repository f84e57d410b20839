"""FastAGI server: instructions per call (valgrind's callgrind), a figure a loaded machine keeps.

On the shared 2-core machine CPU time per call moves by ±15 % from run to run with other work;
the number of instructions the server's process executes per call does not (±1 % here). The
server runs under ``valgrind --tool=callgrind`` with counting off; once the Asterisk-like client
(bench/agi_server.py's, a separate process, not counted) has warmed up, counting is switched on
for a fixed window and the instructions are divided by the calls the server finished in it.
User-space instructions only: the kernel's socket work is not counted. Under valgrind the
server runs about fifty times slower, so only `CONNECTIONS` calls are kept in flight (each commit
of the decision log then carries fewer records than at 50 in flight). Run:

    .venv/bin/python bench/agi_instructions.py [--check] [--rounds 2] [--baseline DIR]

`--check` serves the full decision path of `serve` (bench/agi_server.py --check, 2,000-number
list), else the trivial handler. `--baseline DIR` names a folder holding an older `gatekeeper/`
package, measured alternately with this tree. Needs `valgrind` and `callgrind_control`.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

HERE = Path(__file__).resolve().parent
TREE = HERE.parent
CONNECTIONS = 4
WARMUP_S = 6.0
COUNTED_S = 20.0
"""Under valgrind: the client needs a few seconds to start; the window is then counted."""
LIST_ROWS = 2000
_COLLECTED = re.compile(r"Collected : (\d+)")
_CALLS = re.compile(r"^CALLS (\d+)$", re.MULTILINE)


def child(check: bool) -> None:
    """Run under callgrind: serve, let the client drive, count a window of calls."""
    from gatekeeper.agi.server import AgiHandler, AgiRequest, AgiServer  # noqa: PLC0415
    from gatekeeper.common.logs import configure_logging  # noqa: PLC0415

    import agi_server as bench  # noqa: PLC0415 - bench/ is on the path only in the child

    answered = [0]

    def counting(handler: AgiHandler) -> AgiHandler:
        async def handle(request: AgiRequest) -> Mapping[str, str]:
            variables = await handler(request)
            answered[0] += 1
            return variables

        return handle

    names = vars(bench)
    real_agi_handler = names["agi_handler"]
    names["agi_handler"] = lambda *args, **kwargs: counting(real_agi_handler(*args, **kwargs))

    async def measure(
        server: AgiServer, connections: int, seconds: float
    ) -> tuple[bench.Figures, float]:
        """`bench.measure`, counting a window of `COUNTED_S` with `CONNECTIONS` in flight."""
        del connections, seconds
        async with server:
            context = multiprocessing.get_context("spawn")
            receiving, sending = context.Pipe(duplex=False)
            client_seconds = WARMUP_S + COUNTED_S + 2.0
            client = context.Process(
                target=bench.client_process,
                args=(server.port, CONNECTIONS, client_seconds, sending),
            )
            client.start()
            sending.close()
            await asyncio.sleep(WARMUP_S)
            _callgrind("on")
            before = answered[0]
            await asyncio.sleep(COUNTED_S)
            calls = answered[0] - before
            _callgrind("off")
            print(f"CALLS {calls}", flush=True)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, receiving.recv)
            await loop.run_in_executor(None, client.join)
        return bench.Figures([], 0.0, 0.0, 0), 0.0

    bench.measure = measure
    with (
        Path(os.devnull).open("w", encoding="utf-8") as sink,
        tempfile.TemporaryDirectory(prefix="gk-agi-instructions-") as temp,
    ):
        if check:
            bench.prepare_check_folder(Path(temp), LIST_ROWS)
        configure_logging(stream=sink)
        if check:
            asyncio.run(bench.serve_checks_and_measure(Path(temp), CONNECTIONS, COUNTED_S))
        else:
            server = AgiServer({"check": counting(bench.trivial_handler)}, "127.0.0.1", 0)
            asyncio.run(measure(server, CONNECTIONS, COUNTED_S))


def _callgrind(state: str) -> None:
    subprocess.run(
        ["callgrind_control", "-i", state, str(os.getpid())],
        capture_output=True,
        check=True,
    )


def instructions_per_call(tree: Path, check: bool) -> tuple[int, int]:
    """Run the server from `tree` under callgrind; (instructions per call, calls counted)."""
    with tempfile.TemporaryDirectory(prefix="gk-callgrind-") as temp:
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={temp}/callgrind.out",
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            *(["--check"] if check else []),
        ]
        env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{HERE}"}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    output = done.stdout + done.stderr
    collected, calls = _COLLECTED.search(output), _CALLS.search(output)
    if done.returncode != 0 or collected is None or calls is None or int(calls.group(1)) == 0:
        raise RuntimeError(f"the counted run failed:\n{output[-3000:]}")
    count = int(calls.group(1))
    return int(collected.group(1)) // count, count


def main(argv: list[str]) -> int:
    """Measure this tree (and a baseline, alternately) and print instructions per call."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="the full decision path of serve")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--baseline", type=Path, help="folder with an older gatekeeper/")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.check)
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind (callgrind) is not installed: nothing measured")
        return 0
    trees = [("baseline", args.baseline.resolve())] if args.baseline else []
    trees.append(("this tree", TREE))
    print(f"handler: {'full decision path' if args.check else 'trivial'}, {CONNECTIONS} in flight")
    for round_number in range(1, args.rounds + 1):
        for name, tree in trees:
            per_call, calls = instructions_per_call(tree, args.check)
            print(
                f"round {round_number}, {name}: {per_call:,} instructions per call ({calls} calls)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
