"""Reading the central decision log: every node's shipped chain, as a local log file per node.

Theory of operation: the reading commands (`audit show|events|export|verify --central`) already
know how to read, filter and verify one node's chain in a SQLite log file. Rather than a second
implementation of every reader, each node's rows are streamed from PostgreSQL (a server-side
cursor, `FETCH` rows at a time, so memory stays bounded) into a private temporary log file of
the same schema, and the existing readers run on those files. What the central copy adds is
named per node: its first and last sequence numbers, its head hash, and when it last received
a record (the node's shipping lag as the central side sees it).
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from gatekeeper.audit import COLUMNS, Synchronous, connect_writer
from gatekeeper.common import StoreError
from gatekeeper.config import PostgresSettings
from gatekeeper.stores.postgres.connect import read_password

FETCH = 5000


@dataclass(frozen=True, slots=True)
class CentralNode:
    """One node's chain as the central copy holds it, in a temporary log file."""

    node: str
    log: Path
    records: int
    first_seq: int
    last_seq: int
    head_hash: str
    last_shipped: datetime
    pbxes: tuple[str, ...]


@contextlib.contextmanager
def central_logs(
    settings: PostgresSettings, only: str | None = None
) -> Iterator[list[CentralNode]]:
    """Every node's (or `only` that node's) central chain as a log file; removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="gatekeeper-central-") as folder:
        try:
            with _connect(settings) as conn:
                yield [_materialise(conn, node, Path(folder)) for node in _nodes(conn, only)]
        except psycopg.Error as err:
            raise StoreError(f"PostgreSQL {settings.dsn!r}: cannot read: {_first(err)}") from err


def _connect(settings: PostgresSettings) -> psycopg.Connection[tuple[object, ...]]:
    extra: dict[str, Any] = {"connect_timeout": 5, "application_name": "gatekeeper audit"}
    if settings.password_file is not None:
        extra["password"] = read_password(settings.password_file)
    try:
        return psycopg.connect(settings.dsn, **extra)
    except psycopg.Error as err:
        raise StoreError(f"PostgreSQL {settings.dsn!r}: cannot connect: {_first(err)}") from err


def _nodes(conn: psycopg.Connection[tuple[object, ...]], only: str | None) -> list[str]:
    rows = conn.execute(
        "SELECT DISTINCT node FROM gatekeeper.decision_log"
        " WHERE %(only)s::text IS NULL OR node = %(only)s ORDER BY node",
        {"only": only},
    ).fetchall()
    return [str(row[0]) for row in rows]


def _materialise(
    conn: psycopg.Connection[tuple[object, ...]], node: str, folder: Path
) -> CentralNode:
    path = folder / f"{len(list(folder.iterdir()))}.sqlite"
    log = connect_writer(path, synchronous=Synchronous.NORMAL, busy_timeout_s=1.0)
    insert = f"INSERT INTO chain ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
    pbxes: set[str] = set()
    try:
        log.execute("BEGIN")
        with conn.cursor(name="central_log") as cursor:
            cursor.itersize = FETCH
            cursor.execute(
                f"SELECT {', '.join(COLUMNS)}, pbx FROM gatekeeper.decision_log"
                " WHERE node = %s ORDER BY seq",
                (node,),
            )
            for row in cursor:
                log.execute(insert, row[:-1])
                if row[-1]:
                    pbxes.add(str(row[-1]))
        first, last, count = log.execute(
            "SELECT min(seq), max(seq), count(*) FROM chain"
        ).fetchone()
        (head,) = log.execute("SELECT hash FROM chain WHERE seq = ?", (last,)).fetchone()
        log.execute("UPDATE head SET seq = ?, hash = ? WHERE one = 1", (last, head))
        log.execute("COMMIT")
    except sqlite3.Error as err:
        raise StoreError(f"{path}: cannot copy node {node}'s records: {err}") from err
    finally:
        log.close()
    (shipped,) = conn.execute(
        "SELECT max(shipped_at) FROM gatekeeper.decision_log WHERE node = %s", (node,)
    ).fetchone() or (None,)
    assert isinstance(shipped, datetime)
    return CentralNode(
        node, path, int(count), int(first), int(last), str(head), shipped, tuple(sorted(pbxes))
    )


def _first(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
