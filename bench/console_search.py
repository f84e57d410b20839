"""Benchmark: the console's search pages and decision page on a big decision log.

Writes a log of `--records` decisions (default 2,000,000) with the writer's own `append`
(hash-chained, in transactions of 10,000): 200,000 numbers, 20 campaigns of 4 advertisers,
spread over 90 days, 1 in 100 blocked for an objection. The columns the search filters on vary
per record; the JSON body comes from one template per campaign (the advertiser filter reads it).
Then times each kind of page through the console's reader (`LocalReader`), best and p50 of
`--repeat` runs, and prints the query plan of each. A few minutes for the default size.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gatekeeper.audit.append import NewRecord, append
from gatekeeper.audit.records import RecordType, canonical_json, utc_text
from gatekeeper.audit.schema import Synchronous, connect_writer
from gatekeeper.audit.store import Filters, reading
from gatekeeper.consent import open_act_store
from gatekeeper.console.reader import PAGE_SIZE, LocalReader, Query

BATCH = 10_000
NUMBERS = 200_000
CAMPAIGNS = [f"campaign-{i:02d}" for i in range(20)]
START = datetime(2025, 1, 1, tzinfo=UTC)
DAYS = 90


def number(i: int) -> str:
    """The i-th test number."""
    return f"+32470{i:06d}"


def build(path: Path, records: int) -> None:
    """A log of `records` decisions with varied numbers, campaigns, verdicts and times."""
    conn = connect_writer(path, synchronous=Synchronous.NORMAL, busy_timeout_s=5.0)
    bodies = {
        campaign: canonical_json(
            {"campaign": campaign, "advertiser": f"adv-{i % 4}", "purpose": "commercial"}
        )
        for i, campaign in enumerate(CAMPAIGNS)
    }
    rng = random.Random(7)
    step = timedelta(days=DAYS) / records
    written = 0
    while written < records:
        count = min(BATCH, records - written)
        batch = []
        for k in range(written, written + count):
            campaign = CAMPAIGNS[rng.randrange(len(CAMPAIGNS))]
            blocked = rng.random() < 0.01
            batch.append(
                NewRecord(
                    type=RecordType.DECISION,
                    at=utc_text(START + step * k),
                    kind="agi",
                    campaign=campaign,
                    e164=number(rng.randrange(NUMBERS)),
                    verdict="block" if blocked else "allow",
                    reason="objection" if blocked else "not_listed",
                    uniqueid=None,
                    body=bodies[campaign],
                )
            )
        conn.execute("BEGIN IMMEDIATE")
        append(conn, batch)
        conn.execute("COMMIT")
        written += count
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


async def timed(label: str, repeat: int, run: Callable[[int], Awaitable[object]]) -> None:
    """Run `run(i)` `repeat` times; print best and median in milliseconds."""
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        await run(i)
        times.append((time.perf_counter() - started) * 1000)
    print(f"{label:55s} best {min(times):8.2f} ms  p50 {statistics.median(times):8.2f} ms")


def plans(path: Path) -> None:
    """The query plan SQLite picks for each search shape."""
    shapes = {
        "number": Query(Filters(e164=number(1))),
        "campaign": Query(Filters(campaign=CAMPAIGNS[3])),
        "verdict+reason": Query(Filters(verdict="block", reason="objection")),
        "advertiser": Query(Filters(), advertiser="adv-1"),
    }
    with reading(path) as conn:
        for label, query in shapes.items():
            where, params = query.where()
            sql = (
                f"EXPLAIN QUERY PLAN SELECT * FROM chain{query.index_hint()}"
                f" WHERE {where} AND (at, seq) < (?, ?)"
                " ORDER BY at DESC, seq DESC LIMIT 51"
            )
            rows = conn.execute(sql, [*params, "9999", 10**12]).fetchall()
            print(f"plan {label}: " + " | ".join(str(r[3]) for r in rows))


async def measure(path: Path, repeat: int) -> None:
    """Time each page kind through the console's reader."""
    acts = await open_act_store(path.parent / "acts.sqlite")
    reader = LocalReader(path, acts)
    rng = random.Random(11)
    try:
        await timed(
            "number, first page",
            repeat,
            lambda _i: reader.search(
                Query(Filters(e164=number(rng.randrange(NUMBERS)))), None, PAGE_SIZE
            ),
        )
        campaign = Query(Filters(campaign=CAMPAIGNS[3]))
        await timed(
            "campaign, first page", repeat, lambda _i: reader.search(campaign, None, PAGE_SIZE)
        )
        cursor: list[str | None] = [None]

        async def next_page(_i: int) -> None:
            page = await reader.search(campaign, cursor[0], PAGE_SIZE)
            cursor[0] = page.next_before

        await timed("campaign, each next page (keyset)", repeat, next_page)
        week = Query(
            Filters(
                campaign=CAMPAIGNS[5],
                since=START + timedelta(days=40),
                until=START + timedelta(days=47),
            )
        )
        await timed("campaign + one week", repeat, lambda _i: reader.search(week, None, PAGE_SIZE))
        rare = Query(Filters(verdict="block", reason="objection"))
        await timed(
            "verdict+reason (1% of records)",
            repeat,
            lambda _i: reader.search(rare, None, PAGE_SIZE),
        )
        none = Query(Filters(reason="licence_expired"))
        await timed(
            "reason matching nothing (whole time index walked)",
            min(repeat, 3),
            lambda _i: reader.search(none, None, PAGE_SIZE),
        )
        advertiser = Query(Filters(), advertiser="adv-2")
        await timed(
            "advertiser (JSON body)", repeat, lambda _i: reader.search(advertiser, None, PAGE_SIZE)
        )
        with reading(path) as conn:
            ids = [
                str(r[0]) for r in conn.execute("SELECT id FROM chain ORDER BY random() LIMIT 50")
            ]
        await timed(
            "one decision's page (chain verified ±50)",
            repeat,
            lambda i: reader.decision(ids[i % len(ids)]),
        )
    finally:
        await acts.close()


def main() -> None:
    """Build the log, then measure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "decisions.sqlite"
        started = time.perf_counter()
        build(path, args.records)
        size = path.stat().st_size / 1e6
        print(
            f"built {args.records} records in {time.perf_counter() - started:.0f} s, {size:.0f} MB"
        )
        plans(path)
        asyncio.run(measure(path, args.repeat))


if __name__ == "__main__":
    main()
