"""Benchmark: shared acts in PostgreSQL: lookups (query against replica), whole decision, spread.

A throw-away PostgreSQL on a Unix socket (tools/postgres_cluster.py) holds RECORDS acts. It
measures: the replica's first load; `acts_for` by direct query and from the replica; the whole
decision (`Checker.check`, decision log on) at a steady 500/s with the SQLite store, with a
query per call and with the replica; and how long an objection added through one node's store
takes to reach another node's replica, with notifications and with the poll alone.

Usage: .venv/bin/python bench/postgres_acts.py [--records 100000] [--rows 200000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gatekeeper.audit.log import DecisionLog
from gatekeeper.check.checker import ActLookup, Checker
from gatekeeper.common.clock import today
from gatekeeper.common.logs import configure_logging
from gatekeeper.config import PostgresSettings, load_settings
from gatekeeper.consent import ActRecord, RecordKind, open_act_store
from gatekeeper.dncm.index import ListIndex
from gatekeeper.dncm.sync import import_list_file
from gatekeeper.stores.postgres.acts import PostgresActStore, open_postgres_act_store
from tools.gatekeeper_run import write_run_config
from tools.postgres_cluster import PostgresCluster

from check_path import _numbers, _steady, _summary
from dncm_listgen import write_list

SCHEMA = Path(__file__).resolve().parent.parent / "gatekeeper/stores/postgres/schema.sql"
ADVERTISERS = ("acme", "globex", "initech", "umbrella")
SAMPLES = 200


def _database(cluster: PostgresCluster, secrets: Path) -> dict[str, PostgresSettings]:
    with psycopg.connect(cluster.superuser_dsn(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE gatekeeper")
    nodes: dict[str, PostgresSettings] = {}
    with psycopg.connect(cluster.superuser_dsn("gatekeeper"), autocommit=True) as conn:
        conn.execute(SCHEMA.read_text(encoding="utf-8"))
        for node in ("pbx_a", "pbx_b"):
            conn.execute(
                f"CREATE ROLE {node} LOGIN PASSWORD 'bench-{node}' IN ROLE gatekeeper_node"
            )
            secret = secrets / f"{node}.password"
            secret.write_text(f"bench-{node}\n", encoding="utf-8")
            nodes[node] = PostgresSettings(cluster.dsn(node, "gatekeeper"), secret)
    return nodes


def _percentiles(label: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p50, p99 = (ordered[int(q * (len(ordered) - 1))] * 1e3 for q in (0.5, 0.99))
    return f"{label}: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {ordered[-1] * 1e3:.2f} ms"


async def _lookups(label: str, acts: ActLookup, asked: list[tuple[str, str]]) -> None:
    took: list[float] = []
    for advertiser, e164 in asked:
        began = time.perf_counter()
        await acts.acts_for(advertiser, e164)
        took.append(time.perf_counter() - began)
    ordered = sorted(took)
    p50, p99 = (ordered[int(q * (len(ordered) - 1))] * 1e6 for q in (0.5, 0.99))
    print(f"acts_for {label}: p50 {p50:.0f} µs, p99 {p99:.0f} µs ({len(took)} lookups)")


async def _spread(
    writer: PostgresActStore, reader: PostgresActStore, label: str, prefix: str
) -> None:
    assert reader.replica is not None
    took: list[float] = []
    for n in range(SAMPLES):
        e164 = f"{prefix}{n:06d}"
        await writer.add(ActRecord(RecordKind.OBJECTION, "acme", e164, date(2026, 1, 1)))
        committed = time.perf_counter()
        while not reader.replica.acts_for("acme", e164)[0]:  # noqa: ASYNC110 - polls another task
            await asyncio.sleep(0.0005)
        took.append(time.perf_counter() - committed)
    print(_percentiles(f"objection on node A to node B's replica, {label}", took))


async def main(records: int, rows: int, rate: int, seconds: float) -> None:
    """Fill the shared store and a list, then measure."""
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp, PostgresCluster() as cluster:
        run = Path(tmp)
        nodes = _database(cluster, run)
        config = write_run_config(run, agi_port=4573, ami_port=5038, ami_secret="bench")
        settings = load_settings(config)
        list_file = run / "list.txt"
        write_list(list_file, rows, last_day=today())
        import_list_file(settings.data_dir / "dncm", list_file, source="bench", list_date=today())
        numbers = _numbers(list_file, 20_000, rng)
        e164s = [f"+32{n[1:]}" for n in numbers] + [f"+32470{n:06d}" for n in range(records)]
        writer = await open_postgres_act_store(nodes["pbx_a"], "pbx_a", replicate=False)
        records_of = [
            ActRecord(
                rng.choice(list(RecordKind)),
                rng.choice(ADVERTISERS),
                e164s[i % len(e164s)],
                date(2024, 1, 1) + timedelta(days=rng.randrange(700)),
            )
            for i in range(records)
        ]
        began = time.perf_counter()
        for start in range(0, records, 10_000):
            await writer.add_all(records_of[start : start + 10_000])
        print(f"{records} acts written in {time.perf_counter() - began:.1f} s")
        began = time.perf_counter()
        replicated = await open_postgres_act_store(nodes["pbx_b"], "pbx_b", replicate=True)
        assert replicated.replica is not None
        await replicated.replica.start(wait_s=60)
        print(f"replica first load: {time.perf_counter() - began:.2f} s,"
              f" {replicated.replica.status().acts} live acts")  # fmt: skip
        direct = await open_postgres_act_store(nodes["pbx_b"], "pbx_b", replicate=False)
        sqlite = await open_act_store(settings.data_dir / "consent" / "acts.sqlite")
        await sqlite.add_all(records_of)
        asked = [(rng.choice(ADVERTISERS), rng.choice(e164s)) for _ in range(5000)]
        for label, acts in (("SQLite", sqlite), ("query", direct), ("replica", replicated)):
            await _lookups(label, acts, asked)
        index = ListIndex(settings.data_dir / "dncm")
        log = await DecisionLog.open(settings.data_dir / "audit" / "decisions.sqlite")
        try:
            for label, acts in (("SQLite", sqlite), ("replica", replicated), ("query", direct)):
                checker = Checker(lambda: settings, index, acts, log)
                await _steady(checker, numbers, rate, 1.0)
                latencies = await _steady(checker, numbers, rate, seconds)
                print(_summary(f"decision, acts by {label:7} at {rate}/s", latencies), flush=True)
                await asyncio.sleep(2)
            await _spread(writer, replicated, "LISTEN/NOTIFY", "+32498")
            with psycopg.connect(cluster.superuser_dsn("gatekeeper"), autocommit=True) as conn:
                conn.execute("ALTER TABLE gatekeeper.acts DISABLE TRIGGER acts_notify")
            await _spread(writer, replicated, "poll only (notifications lost)", "+32499")
        finally:
            await log.close()
            index.close()
            for store in (writer, replicated, direct, sqlite):
                await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    configure_logging(level=logging.WARNING)
    asyncio.run(main(args.records, args.rows, args.rate, args.seconds))
