"""Benchmark: what a dialler integration adds to each check, on the event loop.

Resolving the dialler's campaign id (`campaign_ids.resolve`, a campaign's own name, an alias
among many, an empty id taking the default) and counting the call's attempt
(`attempts.CallAttempts.next`, its table full at MAX_CALLS). Both are CPU only; per-call cost
in microseconds.

Usage: .venv/bin/python bench/campaign_ids.py [--aliases 10000] [--calls 200000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gatekeeper.check.attempts import MAX_CALLS, CallAttempts
from gatekeeper.check.campaign_ids import resolve
from gatekeeper.config import Settings, load_settings

CONFIG = """\
licensee: {name: Bench NV, role: service_provider, licence_valid_until: 2099-06-30}
data_dir: data
advertisers: {acme: {name: ACME}}
default_campaign: c0
campaigns:
"""


def _settings(folder: Path, aliases: int) -> Settings:
    lines = [CONFIG]
    per_campaign = 100
    for number in range(max(1, aliases // per_campaign)):
        ids = ", ".join(f"VICI{number}_{i}" for i in range(per_campaign))
        lines.append(f"  c{number}: {{purpose: commercial, advertiser: acme, aliases: [{ids}]}}\n")
    path = folder / "gatekeeper.yaml"
    path.write_text("".join(lines), encoding="utf-8")
    started = time.perf_counter()
    settings = load_settings(path)
    print(f"config with {aliases} aliases loaded in {time.perf_counter() - started:.2f} s")
    return settings


def main(aliases: int, calls: int) -> None:
    """Print the per-call cost of each step."""
    with tempfile.TemporaryDirectory() as folder:
        settings = _settings(Path(folder), aliases)
    ids = [f"VICI{(i * 7) % (aliases // 100)}_{i % 100}" for i in range(calls)]
    for label, sample in (("alias", ids), ("name", ["c0"] * calls), ("default", [""] * calls)):
        started = time.perf_counter()
        for dialler_id in sample:
            resolve(settings, dialler_id)
        per_call = (time.perf_counter() - started) / calls * 1e6
        print(f"resolve ({label}): {per_call:.2f} µs per call")
    counter = CallAttempts()
    linkedids = [f"{1_700_000_000 + i}.{i}" for i in range(MAX_CALLS + calls)]
    for linkedid in linkedids[:MAX_CALLS]:
        counter.next(linkedid)
    started = time.perf_counter()
    for linkedid in linkedids[MAX_CALLS:]:
        counter.next(linkedid)
    per_call = (time.perf_counter() - started) / calls * 1e6
    print(f"attempt count, table full ({MAX_CALLS} calls): {per_call:.2f} µs per call")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aliases", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=200_000)
    options = parser.parse_args()
    main(options.aliases, options.calls)
