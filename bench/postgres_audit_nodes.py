"""Benchmark: `audit nodes --central` reading every node's list in force from a large central log.

A throw-away PostgreSQL on a Unix socket (tools/postgres_cluster.py). The central log is filled
directly (COPY, the link trigger off while filling) with NODES nodes of RECORDS records each,
decisions of about 600 bytes with a `list_sync` record every SYNC_EVERY of them and one PBX
name. Measures the time to read and compare every node as a `gatekeeper_reader` role would
(median and worst of RUNS), with the partial index on list records, then without it.

Usage: .venv/bin/python bench/postgres_audit_nodes.py [--nodes 4] [--records 100000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gatekeeper.config import PostgresSettings
from gatekeeper.stores.postgres.nodes import compare, read_nodes
from tools.postgres_cluster import PostgresCluster

SCHEMA = Path(__file__).resolve().parent.parent / "gatekeeper/stores/postgres/schema.sql"
RUNS = 5
_COPY = (
    "COPY gatekeeper.decision_log (node, seq, id, type, at, kind, body, prev_hash, hash, pbx)"
    " FROM STDIN"
)


def _fill(
    conn: psycopg.Connection[tuple[object, ...]], nodes: int, records: int, every: int
) -> None:
    decision = json.dumps({"reason": "not_listed", "rule": "x" * 500, "pbx": "pbx-1"})
    conn.execute("ALTER TABLE gatekeeper.decision_log DISABLE TRIGGER decision_log_link")
    with conn.cursor() as cursor, cursor.copy(_COPY) as copy:
        for n in range(nodes):
            node = f"pbx_{n}"
            for seq in range(1, records + 1):
                at = f"2026-11-30T{seq // 3600 % 24:02d}:{seq // 60 % 60:02d}:{seq % 60:02d}Z"
                row: tuple[object, ...]
                if seq % every == 1:
                    body = json.dumps(
                        {
                            "details": {
                                "status": "ok" if seq % (every * 4) == 1 else "unchanged",
                                "list_date": "2026-11-30",
                                "sha256": "ab" * 32,
                                "rows": 2_000_000,
                            }
                        }
                    )
                    row = (node, seq, f"e{seq}", "event", at, "list_sync", body, "p", "h", None)
                else:
                    row = (node, seq, f"d{seq}", "decision", at, "commercial", decision, "p", "h",
                           "pbx-1")  # fmt: skip
                copy.write_row(row)
    conn.execute("ALTER TABLE gatekeeper.decision_log ENABLE TRIGGER decision_log_link")
    conn.execute("ANALYZE gatekeeper.decision_log")


def _timed(settings: PostgresSettings) -> list[float]:
    took = []
    for _ in range(RUNS):
        began = time.perf_counter()
        view = compare(read_nodes(settings))
        took.append(time.perf_counter() - began)
    assert not view.flagged
    return took


def main(nodes: int, records: int, every: int) -> None:
    """Fill the central log, then time the nodes view with and without the list index."""
    with tempfile.TemporaryDirectory() as tmp, PostgresCluster() as cluster:
        with psycopg.connect(cluster.superuser_dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE gatekeeper")
        with psycopg.connect(cluster.superuser_dsn("gatekeeper"), autocommit=True) as conn:
            conn.execute(SCHEMA.read_text(encoding="utf-8"))
            conn.execute("CREATE ROLE officer LOGIN PASSWORD 'bench' IN ROLE gatekeeper_reader")
            began = time.perf_counter()
            _fill(conn, nodes, records, every)
            print(
                f"{nodes} nodes x {records:,} records filled in {time.perf_counter() - began:.0f} s"
            )
            secret = Path(tmp) / "officer.password"
            secret.write_text("bench\n", encoding="utf-8")
            settings = PostgresSettings(cluster.dsn("officer", "gatekeeper"), secret)
            for label in ("with the list index", "without it"):
                took = _timed(settings)
                print(f"audit nodes, {label}: median {statistics.median(took) * 1e3:.0f} ms,"
                      f" worst {max(took) * 1e3:.0f} ms")  # fmt: skip
                conn.execute("DROP INDEX IF EXISTS gatekeeper.decision_log_list_syncs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--sync-every", type=int, default=20_000)
    args = parser.parse_args()
    main(args.nodes, args.records, args.sync_every)
