"""Hot-path cost of `acts_for` on the SQLite act store: sequential and concurrent lookups.

Run: .venv/bin/python bench/act_store_lookup.py [RECORDS] [LOOKUPS]
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from gatekeeper.consent import ActRecord, RecordKind, open_act_store

ADVERTISERS = ("acme", "globex", "initech", "umbrella")
CONCURRENCY = 50


def numbers(count: int) -> list[str]:
    """Distinct Belgian mobile numbers."""
    return [f"+32470{n:06d}" for n in range(count)]


async def main(records: int, lookups: int) -> None:
    """Fill a store, then time lookups one by one and many at once."""
    rng = random.Random(5)
    pool = numbers(records)
    with tempfile.TemporaryDirectory() as folder:
        store = await open_act_store(Path(folder) / "acts.sqlite")
        try:
            start = time.perf_counter()
            await store.add_all(
                [
                    ActRecord(
                        rng.choice(list(RecordKind)),
                        rng.choice(ADVERTISERS),
                        e164,
                        date(2024, 1, 1) + timedelta(days=rng.randrange(700)),
                    )
                    for e164 in pool
                ]
            )
            print(f"import of {records} records: {time.perf_counter() - start:.2f} s")
            asked = [(rng.choice(ADVERTISERS), rng.choice(pool)) for _ in range(lookups)]
            start = time.perf_counter()
            for advertiser, e164 in asked:
                await store.acts_for(advertiser, e164)
            sequential = time.perf_counter() - start
            print(f"sequential: {sequential / lookups * 1e6:.0f} us per lookup")
            start = time.perf_counter()
            for batch in range(0, lookups, CONCURRENCY):
                await asyncio.gather(
                    *(store.acts_for(a, n) for a, n in asked[batch : batch + CONCURRENCY])
                )
            concurrent = time.perf_counter() - start
            print(f"{CONCURRENCY} at once: {lookups / concurrent:.0f} lookups/s")
        finally:
            await store.close()


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*(args + [200_000, 5_000][len(args) :])))
