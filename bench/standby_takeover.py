"""Benchmark: how long a standby watch takes to act when its peer dies or freezes, and to stand by.

Starts the Asterisk sandbox and two `gatekeeper serve` nodes (tools/gatekeeper_pair.py); node 2
has `ami.standby_for` node 1's /healthz (the shipped probe: every 0.5 s, 0.5 s timeout, 2
failures to take over, 2 successes to stand by again). Each round:

1. killed: node 1 gets SIGKILL (its health port refuses at once); the time until node 2's
   /healthz says `active`;
2. back: node 1 is started again; the time from its own /healthz showing its AMI link up (it
   vouches from then on) until node 2's says `standby`, and from its AGI port listening (it
   decides calls from then on, which node 2, still active, would cut) until then;
3. frozen: node 1 gets SIGSTOP (the kernel still accepts, nobody answers: each probe waits for
   its timeout); the time until node 2 says `active`, then SIGCONT and the time until `standby`.

Node 2's /healthz is polled every 20 ms, so each figure is within 20 ms.
Needs the sandbox (`make asterisk`).

Usage: .venv/bin/python bench/standby_takeover.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.gatekeeper_pair import GatekeeperPair, ServeNode, free_ports

POLL_S = 0.02
LIMIT_S = 30.0


def _health(node: ServeNode) -> dict[str, Any]:
    url = f"http://127.0.0.1:{node.health_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            body = response.read()
    except urllib.error.HTTPError as err:
        body = err.read()
    except OSError:
        return {}
    document: dict[str, Any] = json.loads(body)
    return document


def _until(test: Any) -> float:  # noqa: ANN401 - a predicate of no arguments
    """Seconds until `test()` is true (polled every 20 ms)."""
    started = time.monotonic()
    while not test():
        if time.monotonic() - started > LIMIT_S:
            raise RuntimeError(f"still waiting after {LIMIT_S} s")
        time.sleep(POLL_S)
    return time.monotonic() - started


def _role(node: ServeNode, role: str) -> bool:
    document = _health(node)
    return bool(document.get("watch", {}).get("role") == role)


def _ami_up(node: ServeNode) -> bool:
    return bool(_health(node).get("checks", {}).get("ami", {}).get("ok"))


def _spread(values: list[float]) -> str:
    text = ", ".join(f"{v:.2f}" for v in values)
    return f"median {statistics.median(values):.2f} s ({text})"


def main() -> int:
    """Run the rounds and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ports = free_ports(2)

    def standby(config: dict[str, Any]) -> None:
        if config["agi"]["listen"].startswith("127.0.0.2:"):
            config["ami"]["standby_for"] = f"http://127.0.0.1:{ports[0]}/healthz"

    figures: dict[str, list[float]] = {
        name: [] for name in ("killed", "back", "window", "frozen", "thawed")
    }
    with tempfile.TemporaryDirectory() as tmp:
        pair = GatekeeperPair(Path(tmp) / "pair", customise=standby, health_ports=ports)
        with pair:
            first, second = pair.nodes
            _until(lambda: _role(second, "standby"))
            for _ in range(args.rounds):
                first.signal(signal.SIGKILL)
                figures["killed"].append(_until(lambda: _role(second, "active")))
                first.start()
                listening = time.monotonic()
                _until(lambda: _ami_up(first))
                figures["back"].append(_until(lambda: _role(second, "standby")))
                figures["window"].append(time.monotonic() - listening)
                first.signal(signal.SIGSTOP)
                figures["frozen"].append(_until(lambda: _role(second, "active")))
                first.signal(signal.SIGCONT)
                figures["thawed"].append(_until(lambda: _role(second, "standby")))
    print(f"peer killed -> active: {_spread(figures['killed'])}")
    print(f"peer back (AMI up) -> standby: {_spread(figures['back'])}")
    print(f"peer back (AGI listening) -> standby: {_spread(figures['window'])}")
    print(f"peer frozen -> active: {_spread(figures['frozen'])}")
    print(f"peer thawed -> standby: {_spread(figures['thawed'])}")
    print(f"load average: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
