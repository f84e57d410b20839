"""Benchmark: the console's search pages and decision page over the central PostgreSQL log.

Builds `--records` decisions (default 1,000,000) as two nodes' real hash-chained logs with
console_search.py's generator (half each, interleaved in time), loads them into
`gatekeeper.decision_log` of a throw-away PostgreSQL on a Unix socket (tools/postgres_cluster.py)
with the shipped schema and its indexes (the link trigger off for the bulk load only), then
times each kind of page through `CentralReader` as a `gatekeeper_reader` role, best and p50 of
`--repeat` runs, and prints PostgreSQL's plan of each search shape.

Usage: .venv/bin/python bench/console_central_search.py [--records 1000000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gatekeeper.audit.schema import COLUMNS
from gatekeeper.audit.store import Filters
from gatekeeper.config import PostgresSettings
from gatekeeper.consent import open_act_store
from gatekeeper.console.central_reader import CentralReader, condition
from gatekeeper.console.reader import PAGE_SIZE, Query
from tools.postgres_cluster import PostgresCluster

from console_search import CAMPAIGNS, NUMBERS, START, build, number, timed

SCHEMA = Path(__file__).resolve().parent.parent / "gatekeeper/stores/postgres/schema.sql"
NODES = ("pbx_a", "pbx_b")


def load(cluster: PostgresCluster, logs: dict[str, Path]) -> None:
    """The schema, a reader role, and every node's log copied into decision_log."""
    with psycopg.connect(cluster.superuser_dsn(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE gatekeeper")
    with psycopg.connect(cluster.superuser_dsn("gatekeeper"), autocommit=True) as conn:
        conn.execute(SCHEMA.read_text(encoding="utf-8"))
        conn.execute("CREATE ROLE officer LOGIN PASSWORD 'bench' IN ROLE gatekeeper_reader")
        conn.execute("ALTER TABLE gatekeeper.decision_log DISABLE TRIGGER decision_log_link")
        for node, path in logs.items():
            source = sqlite3.connect(path)
            columns = ", ".join(COLUMNS)
            with conn.cursor().copy(
                f"COPY gatekeeper.decision_log ({columns}, node, pbx) FROM STDIN"
            ) as copy:
                for row in source.execute(f"SELECT {columns} FROM chain ORDER BY seq"):
                    copy.write_row((*row, node, f"{node}-pbx"))
            source.close()
        conn.execute("ALTER TABLE gatekeeper.decision_log ENABLE TRIGGER decision_log_link")
        conn.execute("VACUUM ANALYZE gatekeeper.decision_log")


def plans(settings: PostgresSettings, password: str) -> None:
    """PostgreSQL's plan for each search shape's first page."""
    shapes = {
        "number": Query(Filters(e164=number(1))),
        "campaign": Query(Filters(campaign=CAMPAIGNS[3])),
        "node": Query(Filters(), node="pbx_b"),
        "verdict+reason": Query(Filters(verdict="block", reason="objection")),
    }
    with psycopg.connect(settings.dsn, password=password) as conn:
        for label, query in shapes.items():
            where, params = condition(query)
            rows = conn.execute(
                f"EXPLAIN SELECT * FROM gatekeeper.decision_log WHERE {where}"
                " ORDER BY at DESC, node DESC, seq DESC LIMIT 51",
                params,
            ).fetchall()
            print(f"plan {label}: " + " | ".join(str(r[0]).strip() for r in rows[:3]))


async def measure(settings: PostgresSettings, folder: Path, repeat: int) -> None:
    """Time each page kind through the central reader."""
    acts = await open_act_store(folder / "acts.sqlite")
    reader = CentralReader(settings, acts)
    rng = random.Random(11)
    try:
        await reader.check()
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
        node = Query(Filters(), node="pbx_b")
        await timed("one node, first page", repeat, lambda _i: reader.search(node, None, PAGE_SIZE))
        rare = Query(Filters(verdict="block", reason="objection"))
        await timed(
            "verdict+reason (1% of records)",
            repeat,
            lambda _i: reader.search(rare, None, PAGE_SIZE),
        )
        advertiser = Query(Filters(), advertiser="adv-2")
        await timed(
            "advertiser (JSON body)", repeat, lambda _i: reader.search(advertiser, None, PAGE_SIZE)
        )
        page = await reader.search(campaign, None, PAGE_SIZE)
        await timed(
            "one decision's page (its node's chain ±50)",
            repeat,
            lambda i: reader.decision(page.rows[i % len(page.rows)].id),
        )
    finally:
        await reader.close()
        await acts.close()


def main() -> None:
    """Build two nodes' logs, load them, then measure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, PostgresCluster() as cluster:
        folder = Path(tmp)
        started = time.perf_counter()
        logs = {node: folder / f"{node}.sqlite" for node in NODES}
        for path in logs.values():
            build(path, args.records // len(NODES))
        load(cluster, logs)
        print(f"built and loaded {args.records} records in {time.perf_counter() - started:.0f} s")
        secret = folder / "officer.password"
        secret.write_text("bench\n", encoding="utf-8")
        settings = PostgresSettings(cluster.dsn("officer", "gatekeeper"), secret)
        plans(settings, "bench")
        asyncio.run(measure(settings, folder, args.repeat))


if __name__ == "__main__":
    main()
