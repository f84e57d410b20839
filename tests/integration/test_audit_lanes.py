"""The decision log never blocks the event loop on another writer's lock, and keeps order."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.store import verify_log
from gatekeeper.common.errors import AuditError

pytestmark = pytest.mark.asyncio


@contextlib.contextmanager
def _foreign_write_lock(path: Path) -> Iterator[sqlite3.Connection]:
    """Another writer (another process in real life) holding the log's write lock."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


async def test_records_wait_for_a_foreign_lock_without_blocking_the_loop(tmp_path: Path) -> None:
    """While another writer holds the lock, the loop keeps running; records land afterwards."""
    path = tmp_path / "decisions.sqlite"
    log = await DecisionLog.open(path)
    try:
        with _foreign_write_lock(path):
            pending = [asyncio.ensure_future(log.record_event("probe", {"n": n})) for n in range(3)]
            ticks = 0
            for _ in range(20):
                await asyncio.sleep(0.005)
                ticks += 1
            waiting = [not f.done() for f in pending]
        ids = await asyncio.gather(*pending)
    finally:
        await log.close()
    assert (ticks, waiting, ids == sorted(ids), verify_log(path).ok) == (
        20,
        [True, True, True],
        True,
        True,
    )


async def test_records_after_a_lock_keep_the_order_they_were_made_in(tmp_path: Path) -> None:
    """Records made while earlier ones wait in the slow lane are chained after them."""
    path = tmp_path / "decisions.sqlite"
    log = await DecisionLog.open(path)
    try:
        with _foreign_write_lock(path):
            first = asyncio.ensure_future(log.record_event("probe", {"n": 1}))
            await asyncio.sleep(0.01)
        second = asyncio.ensure_future(log.record_event("probe", {"n": 2}))
        ids = [await first, await second]
    finally:
        await log.close()
    assert ids == sorted(ids)


async def test_unencodable_record_fails_alone_and_the_log_goes_on(tmp_path: Path) -> None:
    """A record holding a lone surrogate is refused; the next record is committed as usual."""
    path = tmp_path / "decisions.sqlite"
    log = await DecisionLog.open(path)
    try:
        with pytest.raises(AuditError):
            await log.record_event("scrub", {"input": "liste_\udce9.csv"})
        after = await log.record_event("probe", {"n": 1})
    finally:
        await log.close()
    assert (bool(after), verify_log(path).ok) == (True, True)


async def test_record_abandoned_by_its_caller_is_not_committed(tmp_path: Path) -> None:
    """A record whose caller gave up (deadline) while the file was locked is dropped, not kept."""
    path = tmp_path / "decisions.sqlite"
    log = await DecisionLog.open(path)
    try:
        with _foreign_write_lock(path):
            abandoned = asyncio.ensure_future(log.record_event("probe", {"n": "abandoned"}))
            await asyncio.sleep(0.01)
            abandoned.cancel()
            kept = asyncio.ensure_future(log.record_event("probe", {"n": "kept"}))
            await asyncio.sleep(0.01)
        await kept
    finally:
        await log.close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        bodies = [body for (body,) in conn.execute("SELECT body FROM chain ORDER BY seq")]
    assert (["abandoned" in b for b in bodies], ["kept" in b for b in bodies]) == (
        [False],
        [True],
    )


async def test_a_caller_cancelled_after_its_commit_gets_the_id(tmp_path: Path) -> None:
    """Cancelled once its record is committed, the caller is given the id, not a cancellation."""
    path = tmp_path / "decisions.sqlite"
    log = await DecisionLog.open(path)
    try:
        task = asyncio.ensure_future(log.record_event("probe", {"n": 1}))
        await asyncio.sleep(0)
        asyncio.get_running_loop().call_soon(task.cancel)
        outcome = await asyncio.gather(task, return_exceptions=True)
    finally:
        await log.close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        stored = conn.execute("SELECT id FROM chain").fetchall()
    assert [(rid,) for rid in outcome] == stored
