"""Benchmark: shipping the decision log to the central copy in PostgreSQL.

A throw-away PostgreSQL on a Unix socket (tools/postgres_cluster.py). Measures: a backlog of
RECORDS local decisions shipped from scratch (records/s, as after a long cut-off); the lag
while decisions are recorded at a steady RATE with the shipper running beside them (records
and seconds behind, sampled every 10 ms); and the decision latency at that rate with and
without the shipper, so its cost on the call path shows.

Usage: .venv/bin/python bench/postgres_central_log.py [--records 100000] [--rate 500]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.records import DecisionEntry
from gatekeeper.config import PostgresSettings
from gatekeeper.stores.postgres.shipper import LogShipper
from tools.postgres_cluster import PostgresCluster

from audit_support import LISTED

SCHEMA = Path(__file__).resolve().parent.parent / "gatekeeper/stores/postgres/schema.sql"


def _node(cluster: PostgresCluster, secrets: Path) -> PostgresSettings:
    with psycopg.connect(cluster.superuser_dsn(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE gatekeeper")
    with psycopg.connect(cluster.superuser_dsn("gatekeeper"), autocommit=True) as conn:
        conn.execute(SCHEMA.read_text(encoding="utf-8"))
        conn.execute("CREATE ROLE pbx_a LOGIN PASSWORD 'bench-pbx_a' IN ROLE gatekeeper_node")
    secret = secrets / "pbx_a.password"
    secret.write_text("bench-pbx_a\n", encoding="utf-8")
    return PostgresSettings(cluster.dsn("pbx_a", "gatekeeper"), secret)


def _entry(n: int) -> DecisionEntry:
    return dataclasses.replace(LISTED, at=datetime.now(UTC), uniqueid=f"1741000000.{n}")


async def _record(log: DecisionLog, count: int, start: int) -> None:
    for n in range(start, start + count):
        await log.record(_entry(n))


async def _steady(log: DecisionLog, rate: int, seconds: float, start: int) -> list[float]:
    took: list[float] = []
    began = time.perf_counter()

    async def one(n: int) -> None:
        at = time.perf_counter()
        await log.record(_entry(n))
        took.append(time.perf_counter() - at)

    async with asyncio.TaskGroup() as tasks:
        for i in range(int(rate * seconds)):
            delay = began + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.create_task(one(start + i))
    return took


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


async def main(records: int, rate: int, seconds: float) -> None:
    """Ship a backlog, then measure the lag and the cost at a steady rate."""
    with tempfile.TemporaryDirectory() as tmp, PostgresCluster() as cluster:
        settings = _node(cluster, Path(tmp))
        log = await DecisionLog.open(Path(tmp) / "audit" / "decisions.sqlite")
        try:
            await _record(log, records, 0)
            shipper = LogShipper(settings, "pbx_a", log.path)
            began = time.perf_counter()
            shipped = await shipper.ship_once()
            took = time.perf_counter() - began
            print(f"backlog of {shipped} records shipped in {took:.1f} s: {shipped / took:,.0f}/s")
            alone = await _steady(log, rate, seconds, records)
            print(f"record at {rate}/s, no shipper: p50 {_p(alone, 0.5) * 1e3:.2f} ms,"
                  f" p99 {_p(alone, 0.99) * 1e3:.2f} ms")  # fmt: skip
            await shipper.ship_once()
            stop = asyncio.Event()
            running = asyncio.create_task(shipper.run(stop))
            lag_records: list[float] = []
            lag_seconds: list[float] = []

            async def sample() -> None:
                while not stop.is_set():
                    status = shipper.status()
                    lag_records.append(status.lag_records)
                    lag_seconds.append(status.lag_s)
                    await asyncio.sleep(0.01)

            sampler = asyncio.create_task(sample())
            beside = await _steady(log, rate, seconds, records + int(rate * seconds))
            stop.set()
            await running
            await sampler
            print(f"record at {rate}/s, shipper running: p50 {_p(beside, 0.5) * 1e3:.2f} ms,"
                  f" p99 {_p(beside, 0.99) * 1e3:.2f} ms")  # fmt: skip
            print(f"lag at {rate}/s: p50 {_p(lag_records, 0.5):.0f} records, p99"
                  f" {_p(lag_records, 0.99):.0f} records, max {max(lag_records):.0f};"
                  f" oldest waiting p99 {_p(lag_seconds, 0.99):.2f} s,"
                  f" max {max(lag_seconds):.2f} s")  # fmt: skip
        finally:
            await log.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(main(args.records, args.rate, args.seconds))
