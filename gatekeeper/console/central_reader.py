"""The console's reads over the central PostgreSQL decision log: every node's records as one.

Theory of operation: pages query `gatekeeper.decision_log` directly, newest first in
(at, node, seq) order. A cursor is `node:seq` of the last row shown; its time is read by primary
key, so the next page is an index range walk from there, like the local reader's
(docs/console.md): a number walks `decision_log_e164 (e164, at)`, a campaign
`decision_log_campaign (campaign, at)`, anything else `decision_log_at (at)`, and events the
partial `decision_log_events` index. Each page's outcomes are read in one query. A statement
past SEARCH_DEADLINE_S is cancelled by PostgreSQL (`statement_timeout`) and refused as too
broad. Connections are opened lazily, at most MAX_CONNECTIONS at once, the password read from
its file at each connection (stores/postgres/connect.py); errors name the DSN, never the secret.

A decision's chain place is verified per node, within that node's chain: the records
CHAIN_WINDOW either side, held to the hash of the record before them. The report needs every
node's whole chain verified: it reuses `central_logs` (each node's chain streamed into a
temporary log file) and the report's own `gather` per node, then adds the nodes' figures up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import structlog

from gatekeeper.audit import (
    COLUMNS,
    Checkpoint,
    DayFigures,
    DecisionRow,
    EventRow,
    ReportData,
    StoredRecord,
    VerifyResult,
    gather,
    purge_checkpoint,
    utc_text,
)
from gatekeeper.common import ConfigError, StoreError
from gatekeeper.config import PostgresSettings
from gatekeeper.consent import ActStore
from gatekeeper.consent import StoredRecord as StoredAct
from gatekeeper.console.reader import (
    CHAIN_WINDOW,
    SEARCH_DEADLINE_S,
    ChainPlace,
    CursorError,
    DecisionChoice,
    DecisionView,
    EventPage,
    NodeDecisionRow,
    NodeEventRow,
    Page,
    Query,
    SearchTooBroadError,
    seq_cursor,
    verified_place,
)
from gatekeeper.stores.postgres.central import central_logs
from gatekeeper.stores.postgres.connect import Connection, connect, read_password

MAX_CONNECTIONS = 4
EXPORT_FETCH = 2000
READER_ROLE = "gatekeeper_reader"
MAX_NODES_SHOWN = 100
"""Most nodes listed when a decision id asked for without a node is held by several."""
_NODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SELECT = f"SELECT {', '.join(COLUMNS)}, node FROM gatekeeper.decision_log"
_NEWEST_FIRST = " ORDER BY at DESC, node DESC, seq DESC"
_log = structlog.get_logger("gatekeeper.console")


def node_cursor(node: str, seq: int) -> str:
    """The cursor of a row: `node:seq`."""
    return f"{node}:{seq}"


def parse_node_cursor(text: str) -> tuple[str, int]:
    """A `node:seq` cursor's node and seq; CursorError for anything else."""
    node, sep, seq = text.rpartition(":")
    if not sep or not _NODE.fullmatch(node):
        raise CursorError("before: expected a page cursor (node:seq)")
    return node, seq_cursor(seq)


def condition(query: Query) -> tuple[str, list[object]]:
    """The search's SQL condition over decision_log and its parameters (values bound)."""
    filters = query.filters
    clauses = ["type = 'decision'"]
    params: list[object] = []
    for column, value in (
        ("e164", filters.e164),
        ("campaign", filters.campaign),
        ("verdict", filters.verdict),
        ("reason", filters.reason),
        ("node", query.node),
        ("pbx", query.pbx),
    ):
        if value is not None:
            clauses.append(f"{column} = %s")
            params.append(value)
    for key, value in (("dialled", filters.dialled), ("advertiser", query.advertiser)):
        if value is not None:
            clauses.append(f"body::jsonb ->> '{key}' = %s")
            params.append(value)
    if filters.since is not None:
        clauses.append("at >= %s")
        params.append(utc_text(filters.since))
    if filters.until is not None:
        clauses.append("at < %s")
        params.append(utc_text(filters.until))
    return " AND ".join(clauses), params


class CentralReader:
    """The console's reads over the central decision log, and the configured act store."""

    nodes = True

    def __init__(self, settings: PostgresSettings, acts: ActStore) -> None:
        self._settings = settings
        self._acts = acts
        self._idle: list[Connection] = []
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def check(self) -> None:
        """Refuse a role that would see one node only (ConfigError); StoreError if unreachable."""
        async with self._connection() as conn:
            cursor = await conn.execute(
                "SELECT pg_has_role(current_user, %s, 'MEMBER')", (READER_ROLE,)
            )
            row = await cursor.fetchone()
        if row is None or not row[0]:
            raise ConfigError(
                f"console.central_log: the role of {self._settings.dsn!r} is not a member of"
                f" {READER_ROLE}: it would see its own node's records only (docs/scaling.md)"
            )

    async def close(self) -> None:
        """Close the idle connections."""
        while self._idle:
            await self._idle.pop().close()

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Connection]:
        async with self._slots:
            conn = self._idle.pop() if self._idle else await self._open()
            try:
                yield conn
            except psycopg.errors.QueryCanceled as err:
                await conn.close()
                raise SearchTooBroadError(
                    f"the search took longer than {SEARCH_DEADLINE_S:.0f} s: "
                    "add a number, a campaign or a period"
                ) from err
            except psycopg.Error as err:
                await conn.close()
                raise StoreError(
                    f"PostgreSQL {self._settings.dsn!r}: cannot read: {_first_line(err)}"
                ) from err
            except BaseException:
                await conn.close()
                raise
            if conn.closed:
                return
            self._idle.append(conn)

    async def _open(self) -> Connection:
        conn = await connect(self._settings, "console")
        try:
            await conn.execute(f"SET statement_timeout = {int(SEARCH_DEADLINE_S * 1000)}")
        except psycopg.Error:
            await conn.close()
            raise
        return conn

    async def search(self, query: Query, before: str | None, limit: int) -> Page:
        """A page of matching decisions of every node, newest first."""
        where, params = condition(query)
        after = None if before is None else parse_node_cursor(before)
        async with self._connection() as conn:
            if after is not None:
                older = await _older_than(conn, *after)
                if older is None:
                    return Page((), None)
                where += older[0]
                params = [*params, *older[1]]
            cursor = await conn.execute(
                f"{_SELECT} WHERE {where}{_NEWEST_FIRST} LIMIT %s", [*params, limit + 1]
            )
            rows = await cursor.fetchall()
            decisions = await _with_outcomes(conn, rows[:limit])
        more = len(rows) > limit
        last = decisions[-1] if decisions else None
        return Page(decisions, node_cursor(last.node, last.seq) if more and last else None)

    async def decision(
        self, decision_id: str, node: str | None = None
    ) -> DecisionView | DecisionChoice | None:
        """One node's decision and its place; without `node`, a choice if several hold the id."""
        async with self._connection() as conn:
            if node is None:
                cursor = await conn.execute(
                    "SELECT DISTINCT node FROM gatekeeper.decision_log"
                    " WHERE id = %s AND type = 'decision' ORDER BY node LIMIT %s",
                    (decision_id, MAX_NODES_SHOWN),
                )
                nodes = tuple(str(found) for (found,) in await cursor.fetchall())
                if len(nodes) > 1:
                    return DecisionChoice(decision_id, nodes)
                if not nodes:
                    return None
                node = nodes[0]
            cursor = await conn.execute(
                f"{_SELECT} WHERE id = %s AND type = 'decision' AND node = %s",
                (decision_id, node),
            )
            row = await cursor.fetchone()
            if row is None:
                return None
            (decision,) = await _with_outcomes(conn, [row])
            place = await _place(conn, decision.node, _stored(row))
        return DecisionView(decision, place)

    async def events(
        self, kinds: tuple[str, ...] | None, before: str | None, limit: int
    ) -> EventPage:
        """Every node's events and checkpoints, newest first."""
        where = "type IN ('event', 'checkpoint')"
        params: list[object] = []
        if kinds:
            where += " AND kind = ANY(%s)"
            params.append(list(kinds))
        after = None if before is None else parse_node_cursor(before)
        async with self._connection() as conn:
            if after is not None:
                older = await _older_than(conn, *after)
                if older is None:
                    return EventPage((), None)
                where += older[0]
                params += older[1]
            cursor = await conn.execute(
                f"{_SELECT} WHERE {where}{_NEWEST_FIRST} LIMIT %s", [*params, limit]
            )
            rows = await cursor.fetchall()
        events = tuple(_event(row) for row in rows)
        last = events[-1] if len(events) == limit and events else None
        return EventPage(events, node_cursor(last.node, last.seq) if last else None)

    async def report(self, since: datetime, until: datetime, number: str | None) -> ReportData:
        """Every node's report facts (each chain verified whole), added up."""
        return await asyncio.to_thread(self._report, since, until, number)

    def _report(self, since: datetime, until: datetime, number: str | None) -> ReportData:
        with central_logs(self._settings) as nodes:
            parts = [(node.node, gather(node.log, since, until, number=number)) for node in nodes]
        return merge_reports(parts, since, until, number)

    def export(self, query: Query) -> Iterator[DecisionRow]:
        """Every node's matching decisions, oldest first, streamed from a server-side cursor."""
        where, params = condition(query)
        extra: dict[str, Any] = {"connect_timeout": 5, "application_name": "gatekeeper console"}
        if self._settings.password_file is not None:
            extra["password"] = read_password(self._settings.password_file)
        try:
            with (
                psycopg.connect(self._settings.dsn, **extra) as conn,
                conn.cursor(name="console_export") as cursor,
            ):
                cursor.itersize = EXPORT_FETCH
                cursor.execute(f"{_SELECT} WHERE {where} ORDER BY at, node, seq", params)
                while rows := cursor.fetchmany(EXPORT_FETCH):
                    yield from _outcomes_sync(conn, rows)
        except psycopg.Error as err:
            raise StoreError(
                f"PostgreSQL {self._settings.dsn!r}: cannot export: {_first_line(err)}"
            ) from err

    async def acts(self, e164: str) -> tuple[StoredAct, ...]:
        """A number's acts, from the act store the configuration names."""
        return await self._acts.records(e164)


def _stored(row: Sequence[Any]) -> StoredRecord:
    return StoredRecord(*row[: len(COLUMNS)])


def _decision(row: Sequence[Any], outcome: dict[str, Any] | None) -> NodeDecisionRow:
    record = _stored(row)
    return NodeDecisionRow(
        seq=record.seq,
        id=record.id,
        at=record.at,
        body=json.loads(record.body),
        hash=record.hash,
        outcome=outcome,
        node=str(row[len(COLUMNS)]),
    )


def _event(row: Sequence[Any]) -> NodeEventRow:
    record = _stored(row)
    body = json.loads(record.body)
    details = body.get("details", body) if record.type == "event" else body
    return NodeEventRow(
        record.seq, record.id, record.at, record.type, record.kind, details, str(row[-1])
    )


_OUTCOMES = (
    "SELECT node, uniqueid, body FROM gatekeeper.decision_log"
    " WHERE type = 'outcome' AND uniqueid = ANY(%s) ORDER BY seq"
)


def _pick_outcomes(
    rows: Sequence[Sequence[Any]], found: Sequence[Sequence[Any]]
) -> tuple[NodeDecisionRow, ...]:
    """Each decision with the latest outcome its node recorded for its call, if any."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for node, _uniqueid, text in found:
        body = json.loads(text)
        latest[(str(node), str(body.get("decision_id")))] = body.get("outcome") or {}
    return tuple(_decision(row, latest.get((str(row[len(COLUMNS)]), str(row[1])))) for row in rows)


def _uniqueids(rows: Sequence[Sequence[Any]]) -> list[str]:
    return sorted({str(row[9]) for row in rows if row[9]})


async def _with_outcomes(
    conn: Connection, rows: Sequence[Sequence[Any]]
) -> tuple[NodeDecisionRow, ...]:
    uniqueids = _uniqueids(rows)
    found: Sequence[Sequence[Any]] = ()
    if uniqueids:
        cursor = await conn.execute(_OUTCOMES, (uniqueids,))
        found = await cursor.fetchall()
    return _pick_outcomes(rows, found)


def _outcomes_sync(
    conn: psycopg.Connection[tuple[Any, ...]], rows: Sequence[Sequence[Any]]
) -> tuple[NodeDecisionRow, ...]:
    uniqueids = _uniqueids(rows)
    found: Sequence[Sequence[Any]] = ()
    if uniqueids:
        found = conn.execute(_OUTCOMES, (uniqueids,)).fetchall()
    return _pick_outcomes(rows, found)


async def _older_than(conn: Connection, node: str, seq: int) -> tuple[str, list[object]] | None:
    """The condition (and its values) for records after the cursor `node:seq`, newest first.

    None when that record is not in the log.
    """
    cursor = await conn.execute(
        "SELECT at FROM gatekeeper.decision_log WHERE node = %s AND seq = %s", (node, seq)
    )
    found = await cursor.fetchone()
    if found is None:
        return None
    return " AND at <= %s AND (at, node, seq) < (%s, %s, %s)", [found[0], found[0], node, seq]


async def _place(conn: Connection, node: str, record: StoredRecord) -> ChainPlace:
    """The records CHAIN_WINDOW either side of `record` in its node's chain, verified."""
    first = max(1, record.seq - CHAIN_WINDOW)
    cursor = await conn.execute(
        "SELECT hash FROM gatekeeper.decision_log WHERE node = %s AND seq = %s",
        (node, first - 1),
    )
    before = await cursor.fetchone()
    checkpoints = []
    if before is not None:
        checkpoints.append(Checkpoint(first - 1, str(before[0])))
    else:
        cursor = await conn.execute(
            "SELECT body FROM gatekeeper.decision_log WHERE node = %s AND type = 'checkpoint'",
            (node,),
        )
        purges = (purge_checkpoint(body) for (body,) in await cursor.fetchall())
        checkpoints += [checkpoint for checkpoint in purges if checkpoint is not None]
    cursor = await conn.execute(
        f"{_SELECT} WHERE node = %s AND seq BETWEEN %s AND %s ORDER BY seq",
        (node, first, record.seq + CHAIN_WINDOW),
    )
    window = (_stored(row) for row in await cursor.fetchall())
    return verified_place(record, first, checkpoints, window)


def merge_reports(
    parts: Sequence[tuple[str, ReportData]], since: datetime, until: datetime, number: str | None
) -> ReportData:
    """One report of several nodes': figures added up, events merged in time order.

    A day's list in force is the oldest any node had (the figure the law is held to); the
    chain is intact only if every node's is, else the first broken one is named.
    """
    if not parts:
        return ReportData(
            since=since,
            until=until,
            generated_at=datetime.now(UTC),
            by_campaign={},
            by_reason=Counter(),
            days=(),
            syncs=(),
            sync_before=None,
            config_events=(),
            other_events=(),
            chain=VerifyResult(ok=True, records=0, first_seq=None, last_seq=None, last_hash=""),
            number=number,
        )
    by_campaign: dict[str, Counter[str]] = defaultdict(Counter)
    by_reason: Counter[tuple[str, str]] = Counter()
    for _node, data in parts:
        for campaign, counts in data.by_campaign.items():
            by_campaign[campaign].update(counts)
        by_reason.update(data.by_reason)

    def events(pick: str) -> tuple[EventRow, ...]:
        rows = [row for _node, data in parts for row in getattr(data, pick)]
        return tuple(sorted(rows, key=lambda row: row.at))

    decisions = sorted(
        (row for _node, data in parts for row in data.number_decisions), key=lambda row: row.at
    )
    befores = [data.sync_before for _node, data in parts if data.sync_before is not None]
    first = parts[0][1]
    return ReportData(
        since=since,
        until=until,
        generated_at=max(data.generated_at for _node, data in parts),
        by_campaign=dict(by_campaign),
        by_reason=by_reason,
        days=_merged_days([data.days for _node, data in parts]),
        syncs=events("syncs"),
        sync_before=min(befores, key=lambda row: row.at) if befores else None,
        config_events=events("config_events"),
        other_events=events("other_events"),
        chain=_merged_chain(parts),
        number=first.number,
        number_decisions=tuple(decisions),
        bypasses=events("bypasses"),
        number_bypasses=events("number_bypasses"),
        access_events=events("access_events"),
    )


def _merged_days(per_node: Sequence[Sequence[DayFigures]]) -> tuple[DayFigures, ...]:
    days: dict[date, DayFigures] = {}
    for figures in per_node:
        for day in figures:
            seen = days.get(day.day)
            if seen is None:
                days[day.day] = day
                continue
            in_force = [d for d in (seen.list_in_force, day.list_in_force) if d is not None]
            days[day.day] = DayFigures(
                day=day.day,
                allow=seen.allow + day.allow,
                block=seen.block + day.block,
                lists_used=tuple(sorted(set(seen.lists_used) | set(day.lists_used))),
                list_in_force=min(in_force) if in_force else None,
            )
    return tuple(days[key] for key in sorted(days))


def _merged_chain(parts: Sequence[tuple[str, ReportData]]) -> VerifyResult:
    for node, data in parts:
        if not data.chain.ok:
            return VerifyResult(
                ok=False,
                records=sum(d.chain.records for _n, d in parts),
                first_seq=data.chain.first_seq,
                last_seq=data.chain.last_seq,
                last_hash=data.chain.last_hash,
                bad_seq=data.chain.bad_seq,
                bad_id=data.chain.bad_id,
                problem=f"node {node}: {data.chain.problem}",
            )
    last = parts[-1][1].chain
    return VerifyResult(
        ok=True,
        records=sum(data.chain.records for _node, data in parts),
        first_seq=last.first_seq,
        last_seq=last.last_seq,
        last_hash=", ".join(f"{node} {data.chain.last_hash}" for node, data in parts),
    )


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
