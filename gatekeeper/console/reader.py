"""What the console reads, behind one protocol: the local SQLite log and act store here.

(`central_reader.py` reads every node's shipped log from the central PostgreSQL store.)

Theory of operation: search pages are keyset-paginated, newest first, in (at, seq) order, the
order of the log's (e164, at), (campaign, at) and (at) indexes (each ends with the row's seq),
so a page costs an index range walk of one page whatever the log's size (docs/console.md). The
cursor is the seq of the last row shown (opaque text to the pages: each reader writes and
reads its own); its time is looked up by primary key. A decision's
page holds the chain around it: the records `CHAIN_WINDOW` either side are verified by hash and
link, without walking the whole log.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from gatekeeper.audit import (
    SELECT_RECORDS,
    ChainVerifier,
    Checkpoint,
    DecisionRow,
    EventRow,
    Filters,
    ReportData,
    StoredRecord,
    VerifyResult,
    checkpoints_before,
    gather,
    iter_decisions,
    outcome_of,
    reading,
    to_record,
)
from gatekeeper.common import GatekeeperError
from gatekeeper.consent import ActStore
from gatekeeper.consent import StoredRecord as StoredAct

PAGE_SIZE = 50
CHAIN_WINDOW = 50
SEARCH_DEADLINE_S = 5.0
"""A search page that takes longer is stopped and refused (a filter matching nothing among
millions of decisions, without a number, campaign or period to bound it)."""
_PROGRESS_STEPS = 100_000


class SearchTooBroadError(GatekeeperError):
    """A search page ran past SEARCH_DEADLINE_S; the officer should narrow it."""


class CursorError(GatekeeperError):
    """A page cursor this reader did not write; the message names the `before` field."""


MAX_SEQ_DIGITS = 18


def seq_cursor(text: str) -> int:
    """A record's sequence number from a cursor: ASCII digits only."""
    if not text.isascii() or not text.isdigit() or len(text) > MAX_SEQ_DIGITS:
        raise CursorError("before: expected a record's sequence number")
    return int(text)


@dataclass(frozen=True, slots=True)
class Query:
    """A search: the log's filters, plus the advertiser recorded in each decision."""

    filters: Filters
    advertiser: str | None = None
    node: str | None = None
    """The node that recorded the decision (central store only)."""
    pbx: str | None = None
    """The PBX the decision's AGI request named."""

    def index_hint(self) -> str:
        """Without a number or campaign, walk the time index newest first and stop at a page.

        Left to itself SQLite picks the (type, kind, at) index and sorts every decision.
        """
        if self.filters.e164 is None and self.filters.campaign is None:
            return " INDEXED BY chain_at"
        return ""

    def where(self) -> tuple[str, list[object]]:
        """The SQL condition and its parameters."""
        where, params = self.filters.where()
        if self.advertiser is not None:
            where += " AND json_extract(body, '$.advertiser') = ?"
            params.append(self.advertiser)
        if self.pbx is not None:
            where += " AND json_extract(body, '$.pbx') = ?"
            params.append(self.pbx)
        return where, params


@dataclass(frozen=True, slots=True)
class Page:
    """One page of decisions, newest first; `next_before` is the cursor of the next page."""

    rows: tuple[DecisionRow, ...]
    next_before: str | None


@dataclass(frozen=True, slots=True)
class EventPage:
    """One page of events, newest first; `next_before` is the cursor of the next page."""

    rows: tuple[EventRow, ...]
    next_before: str | None


@dataclass(frozen=True, slots=True)
class ChainPlace:
    """A record's place in the chain and whether the records around it verify."""

    seq: int
    prev_hash: str
    hash: str
    window_first: int
    window_last: int
    verified: VerifyResult


@dataclass(frozen=True, slots=True)
class DecisionView:
    """One decision with everything that decided it."""

    row: DecisionRow
    place: ChainPlace


@dataclass(frozen=True, slots=True)
class DecisionChoice:
    """A decision id asked for without a node, held by several nodes: the officer picks one.

    Ids are unique within a node's chain only (time in milliseconds and chain position), so
    two nodes can give the same id; the console never picks one of them silently.
    """

    decision_id: str
    nodes: tuple[str, ...]


class ConsoleReader(Protocol):
    """What the console reads: the local log here, every node's in central_reader.py.

    `nodes` says whether rows carry the node that recorded them (`NodeDecisionRow`,
    `NodeEventRow`). Cursors are the text a reader's pages give; CursorError for others.
    """

    @property
    def nodes(self) -> bool:
        """Whether rows name their node (several logs read as one)."""

    async def search(self, query: Query, before: str | None, limit: int) -> Page:
        """A page of matching decisions, newest first, older than the cursor `before`."""

    async def decision(
        self, decision_id: str, node: str | None = None
    ) -> DecisionView | DecisionChoice | None:
        """One decision and its chain place (a choice of nodes when several hold the id)."""

    async def events(
        self, kinds: tuple[str, ...] | None, before: str | None, limit: int
    ) -> EventPage:
        """Non-decision records, newest first, older than the cursor `before`."""

    async def report(self, since: datetime, until: datetime, number: str | None) -> ReportData:
        """The facts of the inspector's report for a period (and a number)."""

    def export(self, query: Query) -> Iterator[DecisionRow]:
        """Every matching decision, oldest first (blocking: run it in a thread)."""

    async def acts(self, e164: str) -> tuple[StoredAct, ...]:
        """Every consent and objection of a number, revoked ones too, oldest first."""


@dataclass(frozen=True, slots=True)
class NodeDecisionRow(DecisionRow):
    """A decision read from the central store, with the node that recorded it."""

    node: str = ""


@dataclass(frozen=True, slots=True)
class NodeEventRow(EventRow):
    """An event read from the central store, with the node that recorded it."""

    node: str = ""


class LocalReader:
    """The console's reads over the local decision log and act store."""

    nodes = False

    def __init__(
        self,
        log_file: Path,
        acts: ActStore,
        *,
        search_deadline_s: float = SEARCH_DEADLINE_S,
        progress_steps: int = _PROGRESS_STEPS,
    ) -> None:
        self._log = log_file
        self._acts = acts
        self._search_deadline_s = search_deadline_s
        self._progress_steps = progress_steps

    async def search(self, query: Query, before: str | None, limit: int) -> Page:
        """A page of matching decisions, newest first."""
        seq = None if before is None else seq_cursor(before)
        return await asyncio.to_thread(self._search, query, seq, limit)

    def _search(self, query: Query, before: int | None, limit: int) -> Page:
        where, params = query.where()
        deadline = time.monotonic() + self._search_deadline_s
        with reading(self._log) as conn:
            conn.set_progress_handler(lambda: time.monotonic() > deadline, self._progress_steps)
            try:
                return _page(conn, query, (where, params), before, limit)
            except sqlite3.OperationalError as err:
                if time.monotonic() > deadline:
                    raise SearchTooBroadError(
                        f"the search took longer than {self._search_deadline_s:.0f} s: "
                        "add a number, a campaign or a period"
                    ) from err
                raise

    async def decision(self, decision_id: str, node: str | None = None) -> DecisionView | None:
        """One decision with the chain around it verified (one log: `node` is not needed)."""
        del node
        return await asyncio.to_thread(self._decision, decision_id)

    def _decision(self, decision_id: str) -> DecisionView | None:
        with reading(self._log) as conn:
            row = conn.execute(
                f"{SELECT_RECORDS} WHERE id = ? AND type = 'decision'", (decision_id,)
            ).fetchone()
            if row is None:
                return None
            record = to_record(row)
            return DecisionView(_decision_row(conn, record), _place(conn, record))

    async def events(
        self, kinds: tuple[str, ...] | None, before: str | None, limit: int
    ) -> EventPage:
        """Events and checkpoints, newest first."""
        seq = None if before is None else seq_cursor(before)
        rows = await asyncio.to_thread(self._events, kinds, seq, limit)
        return EventPage(rows, str(rows[-1].seq) if len(rows) == limit and rows else None)

    def _events(
        self, kinds: tuple[str, ...] | None, before: int | None, limit: int
    ) -> tuple[EventRow, ...]:
        clauses = ["type IN ('event', 'checkpoint')"]
        params: list[object] = []
        if kinds:
            clauses.append(f"kind IN ({', '.join('?' for _ in kinds)})")
            params.extend(kinds)
        if before is not None:
            clauses.append("seq < ?")
            params.append(before)
        query = f"{SELECT_RECORDS} WHERE {' AND '.join(clauses)} ORDER BY seq DESC LIMIT ?"
        with reading(self._log) as conn:
            records = [to_record(r) for r in conn.execute(query, [*params, limit])]
        events = []
        for record in records:
            body = json.loads(record.body)
            details = body.get("details", body) if record.type == "event" else body
            events.append(
                EventRow(record.seq, record.id, record.at, record.type, record.kind, details)
            )
        return tuple(events)

    async def report(self, since: datetime, until: datetime, number: str | None) -> ReportData:
        """The report's facts, gathered by the report's own reader."""
        return await asyncio.to_thread(gather, self._log, since, until, number=number)

    def export(self, query: Query) -> Iterator[DecisionRow]:
        """Every matching decision, oldest first."""
        if query.advertiser is None and query.pbx is None:
            with reading(self._log) as conn:
                yield from iter_decisions(conn, query.filters)
            return
        with reading(self._log) as conn:
            for row in iter_decisions(conn, query.filters):
                if query.advertiser is not None and row.get("advertiser") != query.advertiser:
                    continue
                if query.pbx is not None and row.get("pbx") != query.pbx:
                    continue
                yield row

    async def acts(self, e164: str) -> tuple[StoredAct, ...]:
        """A number's acts, from the act store the checker reads."""
        return await self._acts.records(e164)


def _page(
    conn: sqlite3.Connection,
    query: Query,
    condition: tuple[str, list[object]],
    before: int | None,
    limit: int,
) -> Page:
    where, params = condition
    if before is not None:
        row = conn.execute("SELECT at FROM chain WHERE seq = ?", (before,)).fetchone()
        if row is None:
            return Page((), None)
        where += " AND (at, seq) < (?, ?)"
        params = [*params, row[0], before]
    rows = [
        to_record(r)
        for r in conn.execute(
            f"{SELECT_RECORDS}{query.index_hint()} WHERE {where}"
            " ORDER BY at DESC, seq DESC LIMIT ?",
            [*params, limit + 1],
        )
    ]
    decisions = tuple(_decision_row(conn, record) for record in rows[:limit])
    more = len(rows) > limit
    return Page(decisions, str(decisions[-1].seq) if more and decisions else None)


def _decision_row(conn: sqlite3.Connection, record: StoredRecord) -> DecisionRow:
    outcome = outcome_of(conn, record.id, record.uniqueid) if record.uniqueid else None
    return DecisionRow(
        seq=record.seq,
        id=record.id,
        at=record.at,
        body=json.loads(record.body),
        hash=record.hash,
        outcome=outcome,
    )


def _place(conn: sqlite3.Connection, record: StoredRecord) -> ChainPlace:
    first = max(1, record.seq - CHAIN_WINDOW)
    window = conn.execute(
        f"{SELECT_RECORDS} WHERE seq BETWEEN ? AND ? ORDER BY seq",
        (first, record.seq + CHAIN_WINDOW),
    )
    return verified_place(
        record, first, checkpoints_before(conn, first), (to_record(row) for row in window)
    )


def verified_place(
    record: StoredRecord,
    first: int,
    checkpoints: list[Checkpoint],
    window: Iterable[StoredRecord],
) -> ChainPlace:
    """`record`'s place: its chain from `first`, in order, verified up to the first break."""
    verifier = ChainVerifier(checkpoints)
    last = first
    for stored in window:
        last = stored.seq
        if not verifier.feed(stored):
            break
    return ChainPlace(
        seq=record.seq,
        prev_hash=record.prev_hash,
        hash=record.hash,
        window_first=first,
        window_last=last,
        verified=verifier.finish(None),
    )
