"""The decision log's WAL file is kept under its limit while records come and readers read."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.store import reading

from audit_support import LISTED

pytestmark = pytest.mark.asyncio

LIMIT = 1024 * 1024
BURST_ROUNDS = 40
BURST_WIDTH = 50
TRICKLE_ROUNDS = 200


def _read_until(path: Path, stop: threading.Event) -> None:
    """A reader as the audit commands read: short read transactions, over and over."""
    while not stop.wait(0.005):
        with reading(path) as conn:
            conn.execute("SELECT count(*) FROM chain WHERE type = 'decision'").fetchone()


async def test_wal_is_cut_back_under_its_limit_after_a_burst(tmp_path: Path) -> None:
    """A burst takes the WAL past its limit; with records still coming, it is cut back under."""
    path = tmp_path / "decisions.sqlite"
    log = await DecisionLog.open(path, wal_limit_bytes=LIMIT, checkpoint_interval_s=0.05)
    stop = threading.Event()
    reader = threading.Thread(target=_read_until, args=(path, stop))
    reader.start()
    try:
        peak = 0
        for _ in range(BURST_ROUNDS):
            await asyncio.gather(*(log.record(LISTED) for _ in range(BURST_WIDTH)))
            peak = max(peak, log.wal_bytes())
        for _ in range(TRICKLE_ROUNDS):
            await log.record(LISTED)
            if log.wal_bytes() <= LIMIT:
                break
            await asyncio.sleep(0.02)
        after = log.wal_bytes()
    finally:
        stop.set()
        await asyncio.to_thread(reader.join)
        await log.close()
    assert (peak > LIMIT, after <= LIMIT) == (True, True)
