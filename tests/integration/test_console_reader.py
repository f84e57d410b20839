"""The console's reader over a real decision log: keyset pages, the chain window, the deadline."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.store import Filters
from gatekeeper.consent import open_act_store
from gatekeeper.console.reader import DecisionView, LocalReader, Page, Query, SearchTooBroadError

from audit_support import LISTED

T = TypeVar("T")
RECORDS = 120
START = datetime(2025, 3, 3, 9, tzinfo=UTC)


async def _fill(path: Path) -> list[str]:
    log = await DecisionLog.open(path)
    try:
        return [
            await log.record(dataclasses.replace(LISTED, at=START + timedelta(minutes=i)))
            for i in range(RECORDS)
        ]
    finally:
        await log.close()


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    """A log of 120 decisions for one number, a minute apart."""
    path = tmp_path / "decisions.sqlite"
    asyncio.run(_fill(path))
    return path


def _run(log_file: Path, use: Callable[[LocalReader], Awaitable[T]], deadline_s: float = 5.0) -> T:
    async def go() -> T:
        acts = await open_act_store(log_file.parent / "acts.sqlite")
        try:
            reader = LocalReader(log_file, acts, search_deadline_s=deadline_s, progress_steps=1)
            return await use(reader)
        finally:
            await acts.close()

    return asyncio.run(go())


def test_keyset_pages_cover_every_decision_once_newest_first(log_file: Path) -> None:
    """Following `next_before` from the first page lists each decision once, newest first."""

    async def walk(reader: LocalReader) -> tuple[list[int], int]:
        seqs: list[int] = []
        pages = 0
        before = None
        query = Query(Filters(e164=LISTED.e164))
        while True:
            page = await reader.search(query, before, 50)
            pages += 1
            seqs.extend(row.seq for row in page.rows)
            if page.next_before is None:
                return seqs, pages
            before = page.next_before

    seqs, pages = _run(log_file, walk)
    assert (seqs, pages) == (list(range(RECORDS, 0, -1)), 3)


def test_decision_page_sees_a_changed_neighbour(log_file: Path) -> None:
    """The chain window around a decision fails when a record beside it was changed."""
    with sqlite3.connect(log_file) as conn:
        (decision_id,) = conn.execute("SELECT id FROM chain WHERE seq = 60").fetchone()
        conn.execute("UPDATE chain SET body = replace(body, 'listed', 'LISTED') WHERE seq = 61")

    async def open_one(reader: LocalReader) -> DecisionView | None:
        return await reader.decision(decision_id)

    view = _run(log_file, open_one)
    assert view is not None
    place = view.place
    assert (place.verified.ok, place.verified.bad_seq) == (False, 61)


def test_a_search_past_its_deadline_is_refused(log_file: Path) -> None:
    """A page that runs past the deadline stops with SearchTooBroadError, not a hang."""

    async def search(reader: LocalReader) -> Page:
        return await reader.search(Query(Filters(reason="objection")), None, 50)

    with pytest.raises(SearchTooBroadError, match="add a number"):
        _run(log_file, search, deadline_s=-1.0)
