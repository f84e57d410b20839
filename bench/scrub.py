"""Benchmark: `gatekeeper scrub` throughput on a calling list against a full-size list index.

Builds, in a temporary folder, a DNCM list (default 2 million numbers, bench/dncm_listgen.py)
imported as the live snapshot, 10,000 consents and objections for the campaign's advertiser, and
a calling list (default 200,000 rows: 10% listed numbers, 5% invalid strings, the rest
unlisted, written in the forms people type). Then scrubs it twice through `scrub()`, the
function the command runs, and prints rows per second with the time of a plain CSV copy (read,
write, hash) for comparison. Setup takes about a minute; the scrubs a few seconds each.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from gatekeeper.common.clock import today
from gatekeeper.config import load_settings
from gatekeeper.consent import ActRecord, RecordKind, act_store_path, open_act_store
from gatekeeper.dncm.sync import sync_now
from gatekeeper.scrub import ScrubRequest, scrub

from dncm_listgen import numbers, write_list

CONFIG = """\
licensee: {name: Bench NV, role: service_provider, licence_valid_until: 2099-06-30}
data_dir: data
dncm: {source: {file: dncm.txt}}
advertisers: {acme: {name: ACME Energy BV}}
campaigns: {spring-promo: {purpose: commercial, advertiser: acme}}
"""
ACTS = 10_000


def spoken(national: int, rng: random.Random) -> str:
    """A national number as people write it."""
    digits = f"0{national}"
    form = rng.randrange(4)
    if form == 0:
        return digits
    if form == 1:
        return f"+32 {digits[1:4]} {digits[4:6]} {digits[6:8]} {digits[8:]}"
    if form == 2:
        return f"{digits[:4]}/{digits[4:6]}.{digits[6:8]}.{digits[8:]}"
    return f"0032{digits[1:]}"


def write_calling_list(path: Path, listed: list[int], rows: int, rng: random.Random) -> None:
    """A calling list: name, phone, city; some listed numbers, some invalid strings."""
    fresh = numbers(rows, random.Random(99))
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["name", "phone", "city"])
        for i in range(rows):
            draw = rng.random()
            if draw < 0.05:
                number = rng.choice(("12", "", "n/a", "0470 12"))
            elif draw < 0.15:
                number = spoken(rng.choice(listed), rng)
            else:
                number = spoken(fresh[i], rng)
            writer.writerow([f"Customer {i}", number, "Gent"])


async def store_acts(folder: Path, listed: list[int], rng: random.Random) -> None:
    """Consents and objections for the advertiser, on listed and unlisted numbers."""
    config = load_settings(folder / "gatekeeper.yaml")
    records = []
    for national in rng.sample(listed, ACTS):
        kind = RecordKind.CONSENT if rng.random() < 0.7 else RecordKind.OBJECTION
        day = date(2024, 1, 1) + timedelta(days=rng.randrange(365))
        records.append(ActRecord(kind, "acme", f"+32{national}", day, source="bench"))
    async with await open_act_store(act_store_path(config)) as store:
        await store.add_all(records)


def copy_csv(source: Path, target: Path) -> None:
    """The floor: read, parse, write and hash the list without deciding anything."""
    digest = hashlib.sha256()
    with source.open(encoding="utf-8", newline="") as src, target.open("w", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        for row in csv.reader(src, delimiter=";"):
            writer.writerow([*row, "ALLOW", "not_listed", "+32470000000", "x"])
            digest.update(row[1].encode())


def main() -> None:
    """Set up, scrub twice, print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--list-rows", type=int, default=2_000_000)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="gk-scrub-bench-") as temp:
        folder = Path(temp)
        (folder / "gatekeeper.yaml").write_text(CONFIG, encoding="utf-8")
        started = time.perf_counter()
        write_list(folder / "dncm.txt", args.list_rows, seed=1)
        listed = numbers(args.list_rows, random.Random(1))[: args.rows]
        settings = load_settings(folder / "gatekeeper.yaml")
        sync_now(settings, file=folder / "dncm.txt", list_date=today())
        asyncio.run(store_acts(folder, listed, rng))
        source = folder / "calling.csv"
        write_calling_list(source, listed, args.rows, rng)
        print(
            f"setup: {args.list_rows:,} listed numbers imported, {ACTS:,} acts, "
            f"{args.rows:,}-row calling list ({time.perf_counter() - started:.0f} s)"
        )
        copy_started = time.perf_counter()
        copy_csv(source, folder / "copy.csv")
        copy_s = time.perf_counter() - copy_started
        print(f"plain CSV copy: {copy_s:.2f} s, {args.rows / copy_s:,.0f} rows/s")
        for attempt in (1, 2):
            request = ScrubRequest(source, folder / "out.csv", "spring-promo")
            scrub_started = time.perf_counter()
            result = asyncio.run(scrub(settings, request))
            elapsed = time.perf_counter() - scrub_started
            print(
                f"scrub {attempt}: {elapsed:.2f} s, {result.rows / elapsed:,.0f} rows/s "
                f"({elapsed / result.rows * 1e6:.1f} us/row); {result.summary()}"
            )


if __name__ == "__main__":
    main()
