"""Every node's DNCM list as the central decision log shows it, and which nodes are out of step.

Theory of operation: each node records every list sync in its own hash chain (`list_sync`
events, docs/dncm.md) and ships that chain to the central copy, so the central copy already
holds, per node, which list it put in force and when. Nothing new is written (the nodes' role
stays INSERT-only on their own rows): this module reads, per node, the newest `list_sync` record
that put a list in force (status `ok` or `unchanged`), the record that imported it, and when the
central copy last received anything from the node. Then it compares the nodes: the newest list
date any node holds is the reference; a node on an older date is BEHIND; a node on that date
whose sha256 is not the one most nodes on that date hold (every one of them on a tie) DIFFERS;
a node showing no list in force is NO_LIST; with a silence bound, a node the central copy has
heard nothing from for longer is SILENT.

Every read is bounded: node names by a loose index scan of the table's key (at most
`MAX_NODES`), list records newest first through their partial index (at most
`MAX_SYNC_RECORDS` per node, bodies over `MAX_BODY_BYTES` read as unreadable), PBX names from
the node's last `PBX_LOOKBACK` records. The records are read as the nodes shipped them, as
untrusted text: `audit verify --central` is what proves each chain.
"""

from __future__ import annotations

import enum
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg

from gatekeeper.common import StoreError
from gatekeeper.config import PostgresSettings
from gatekeeper.dncm import IN_FORCE_STATUSES
from gatekeeper.stores.postgres.connect import connect_blocking

MAX_NODES = 1000
MAX_SYNC_RECORDS = 5000
"""List records read back per node, newest first, looking for the list in force."""
MAX_BODY_BYTES = 16384
PBX_LOOKBACK = 1_000
MAX_PBXES = 8
PAGE = 200

"""The `list_sync` statuses that put (or keep) a list in force (docs/dncm.md)."""
_SHA256 = re.compile(r"[0-9a-f]{64}")

_NODES = """
WITH RECURSIVE names(node) AS (
    (SELECT node FROM gatekeeper.decision_log ORDER BY node LIMIT 1)
    UNION ALL
    SELECT (SELECT d.node FROM gatekeeper.decision_log d WHERE d.node > names.node
            ORDER BY d.node LIMIT 1)
    FROM names WHERE names.node IS NOT NULL
)
SELECT node FROM names WHERE node IS NOT NULL LIMIT %s
"""
_HEAD = (
    "SELECT seq, shipped_at, now() - shipped_at FROM gatekeeper.decision_log"
    " WHERE node = %s ORDER BY seq DESC LIMIT 1"
)
_PBXES = (
    "SELECT DISTINCT pbx FROM gatekeeper.decision_log"
    " WHERE node = %s AND seq > %s AND pbx IS NOT NULL ORDER BY pbx LIMIT %s"
)
_SYNCS = (
    "SELECT seq, at, CASE WHEN octet_length(body) <= %s THEN body END"
    " FROM gatekeeper.decision_log"
    " WHERE node = %s AND kind = 'list_sync' AND type = 'event' AND seq < %s"
    " ORDER BY seq DESC LIMIT %s"
)


class Flag(enum.StrEnum):
    """Why a node is out of step with the others."""

    NO_LIST = "NO_LIST"
    BEHIND = "BEHIND"
    DIFFERS = "DIFFERS"
    SILENT = "SILENT"


@dataclass(frozen=True, slots=True)
class LiveList:
    """The list a node's chain last shows in force."""

    list_date: date
    sha256: str
    rows: int | None
    imported_at: str | None
    """UTC ISO time the node imported it, when its records say."""
    seq: int
    """The in-force record's sequence number in the node's chain."""


@dataclass(frozen=True, slots=True)
class NodeReading:
    """What the central copy shows of one node."""

    node: str
    pbxes: tuple[str, ...]
    last_seq: int
    last_received: datetime
    silent_s: float
    """Seconds since the central copy last received a record from this node (its clock)."""
    live: LiveList | None
    notes: tuple[str, ...]
    """Problems found reading its list records (an unreadable record, a failed last sync)."""


@dataclass(frozen=True, slots=True)
class NodesView:
    """Every node's reading, its flags, and the list the comparison took as the reference."""

    readings: tuple[NodeReading, ...]
    flags: dict[str, tuple[Flag, ...]]
    newest_date: date | None
    reference_sha256: str | None
    """The sha256 most nodes on the newest date hold; None when they tie or none has a list."""

    @property
    def flagged(self) -> tuple[NodeReading, ...]:
        """The nodes with at least one flag."""
        return tuple(r for r in self.readings if self.flags[r.node])


def read_nodes(settings: PostgresSettings) -> list[NodeReading]:
    """Every node that shipped records, as the central copy shows it (one read-only session)."""
    try:
        with connect_blocking(settings, "audit nodes") as conn:
            conn.read_only = True
            reader = conn.execute(
                "SELECT pg_has_role(current_user, 'gatekeeper_reader', 'USAGE')"
            ).fetchone()
            if reader is None or not reader[0]:
                raise StoreError(
                    f"PostgreSQL {settings.dsn!r}: this role is not in gatekeeper_reader and"
                    " sees only its own records: compare the nodes with a reader's role"
                    " (docs/scaling.md)"
                )
            names = [str(row[0]) for row in conn.execute(_NODES, (MAX_NODES + 1,))]
            if len(names) > MAX_NODES:
                raise StoreError(
                    f"PostgreSQL {settings.dsn!r}: over {MAX_NODES} nodes in the central"
                    " decision log: not read (raise MAX_NODES)"
                )
            return [_reading(conn, name) for name in names]
    except psycopg.Error as err:
        raise StoreError(f"PostgreSQL {settings.dsn!r}: cannot read: {_first(err)}") from err


def compare(readings: Sequence[NodeReading], max_silence_s: float | None = None) -> NodesView:
    """Flag the nodes out of step: no list, an older list date, another list on the newest date."""
    lists = [r.live for r in readings if r.live is not None]
    newest = max((live.list_date for live in lists), default=None)
    on_newest = Counter(live.sha256 for live in lists if live.list_date == newest)
    ranked = on_newest.most_common(2)
    alone = len(ranked) == 1 or (len(ranked) == 2 and ranked[0][1] > ranked[1][1])
    reference = ranked[0][0] if alone else None
    flags: dict[str, tuple[Flag, ...]] = {}
    for reading in readings:
        found: list[Flag] = []
        live = reading.live
        if live is None:
            found.append(Flag.NO_LIST)
        elif live.list_date != newest:
            found.append(Flag.BEHIND)
        elif live.sha256 != reference:
            found.append(Flag.DIFFERS)
        if max_silence_s is not None and reading.silent_s > max_silence_s:
            found.append(Flag.SILENT)
        flags[reading.node] = tuple(found)
    return NodesView(tuple(readings), flags, newest, reference)


def _reading(conn: psycopg.Connection[tuple[Any, ...]], node: str) -> NodeReading:
    head = conn.execute(_HEAD, (node,)).fetchone()
    assert head is not None, "a node is listed only when it has records"
    last_seq, received, silence = int(head[0]), head[1], head[2]
    pbxes = conn.execute(_PBXES, (node, last_seq - PBX_LOOKBACK, MAX_PBXES)).fetchall()
    live, notes = _live_list(_syncs(conn, node))
    return NodeReading(
        node=node,
        pbxes=tuple(str(row[0]) for row in pbxes),
        last_seq=last_seq,
        last_received=received,
        silent_s=max(0.0, silence.total_seconds()),
        live=live,
        notes=notes,
    )


def _syncs(conn: psycopg.Connection[tuple[Any, ...]], node: str) -> Iterator[Shipped]:
    """The node's list records, newest first, at most MAX_SYNC_RECORDS, a page at a time."""
    before = 2**63 - 1
    read = 0
    while read < MAX_SYNC_RECORDS:
        rows = conn.execute(
            _SYNCS, (MAX_BODY_BYTES, node, before, min(PAGE, MAX_SYNC_RECORDS - read))
        ).fetchall()
        for seq, at, body in rows:
            yield int(seq), str(at), body
        if len(rows) < PAGE:
            return
        read += len(rows)
        before = int(rows[-1][0])


Shipped = tuple[int, str, str | None]
"""A list record as read: its sequence number, time and body (None when over the bound)."""


def _live_list(records: Iterable[Shipped]) -> tuple[LiveList | None, tuple[str, ...]]:
    """The newest in-force list among `records` (newest first) and the problems met on the way."""
    notes: list[str] = []
    newest = True
    live: LiveList | None = None
    for seq, at, body in records:
        details = _details(body)
        status = details.get("status") if details is not None else None
        if newest and status == "failed":
            notes.append(f"its newest list sync failed (record {seq})")
        newest = False
        if live is None:
            if details is None:
                notes.append(f"list record {seq} is unreadable")
                continue
            if status not in IN_FORCE_STATUSES:
                continue
            live = _parsed(seq, at, details)
            if live is None:
                notes.append(f"list record {seq} does not name a list date and sha256")
                break
            if live.imported_at is not None:
                break
        elif details is not None and status == "ok" and details.get("sha256") == live.sha256:
            imported = _utc_text(details.get("imported_at")) or _utc_text(at)
            live = LiveList(live.list_date, live.sha256, live.rows, imported, live.seq)
            break
    else:
        if live is None and not notes:
            notes.append("no list sync in force among its shipped records")
    return live, tuple(notes)


def _parsed(seq: int, at: str, details: dict[str, Any]) -> LiveList | None:
    sha256, rows = details.get("sha256"), details.get("rows")
    try:
        list_date = date.fromisoformat(str(details.get("list_date")))
    except ValueError:
        return None
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        return None
    imported = _utc_text(details.get("imported_at"))
    if imported is None and details.get("status") == "ok":
        imported = _utc_text(at)
    count = rows if isinstance(rows, int) and not isinstance(rows, bool) and rows >= 0 else None
    return LiveList(list_date, sha256, count, imported, seq)


def _details(body: str | None) -> dict[str, Any] | None:
    if body is None:
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    details = value.get("details", value)
    return details if isinstance(details, dict) else None


def _utc_text(value: object) -> str | None:
    """An ISO time with its offset, as given, or None when it is not one."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return value if moment.tzinfo is not None else None


def _first(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
