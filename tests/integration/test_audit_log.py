"""The decision log on a real SQLite file: records, events, outcomes, ids, permissions."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import stat
from datetime import date, datetime
from pathlib import Path

import pytest
import structlog
from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.oplog import log_decision
from gatekeeper.audit.store import verify_log
from gatekeeper.common.errors import AuditError
from gatekeeper.common.pseudonyms import KEY_BYTES, Pseudonyms
from gatekeeper.rules.policy import Act, ActKind

from audit_support import LISTED

ENTRY = dataclasses.replace(
    LISTED,
    evidence=(Act(ActKind.LISTING, date(2024, 1, 1)),),
    channel="Local/0470123456@gated-0001;2",
    uniqueid="1741000000.17",
    linkedid="1741000000.16",
)


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    """Where the test's log lives (in an audit folder that does not exist yet)."""
    return tmp_path / "data" / "audit" / "decisions.sqlite"


@pytest.mark.asyncio
async def test_record_returns_id_of_committed_row(log_file: Path) -> None:
    """The id record() returns is already in the file, readable by another connection."""
    log = await DecisionLog.open(log_file)
    try:
        decision_id = await log.record(ENTRY)
        stored = _rows(log_file, f"SELECT id, e164, reason FROM chain WHERE id = '{decision_id}'")
    finally:
        await log.close()
    assert stored == [(decision_id, "+32470123456", "listed")]


@pytest.mark.asyncio
async def test_record_keeps_every_field(log_file: Path) -> None:
    """Every field of the entry is in the stored body, snapshot and evidence included."""
    log = await DecisionLog.open(log_file)
    try:
        await log.record(ENTRY)
    finally:
        await log.close()
    body = json.loads(str(_rows(log_file, "SELECT body FROM chain")[0][0]))
    assert (
        body["linkedid"],
        body["host"],
        body["snapshot"]["sha256"],
        body["evidence"][0]["kind"],
    ) == (
        "1741000000.16",
        "node-1",
        "ab" * 32,
        "listing",
    )


@pytest.mark.asyncio
async def test_concurrent_records_get_unique_ids_in_chain_order(log_file: Path) -> None:
    """Many concurrent callers each get a distinct id, and ids sort in sequence order."""
    log = await DecisionLog.open(log_file)
    try:
        ids = await asyncio.gather(*(log.record(ENTRY) for _ in range(300)))
    finally:
        await log.close()
    stored = [str(row[0]) for row in _rows(log_file, "SELECT id FROM chain ORDER BY seq")]
    assert (len(set(ids)), stored) == (300, sorted(stored))


@pytest.mark.asyncio
async def test_events_and_outcomes_join_the_same_chain(log_file: Path) -> None:
    """A list sync, a decision and its outcome are consecutive links of one verifiable chain."""
    log = await DecisionLog.open(log_file)
    try:
        await log.record_event("list_sync", {"list_date": date(2025, 3, 2), "rows": 10})
        decision_id = await log.record(ENTRY)
        await log.record_outcome(ENTRY.uniqueid, {"disposition": "ANSWERED", "billsec": 42})
    finally:
        await log.close()
    types = [row[0] for row in _rows(log_file, "SELECT type FROM chain ORDER BY seq")]
    outcome = json.loads(str(_rows(log_file, "SELECT body FROM chain WHERE type='outcome'")[0][0]))
    assert (types, outcome["decision_id"], verify_log(log_file).ok) == (
        ["event", "decision", "outcome"],
        decision_id,
        True,
    )


@pytest.mark.asyncio
async def test_outcome_of_unknown_call_is_kept_unlinked(log_file: Path) -> None:
    """An outcome whose uniqueid matches no decision is still recorded, with a null link."""
    log = await DecisionLog.open(log_file)
    try:
        await log.record_outcome("no-such-call", {"disposition": "ANSWERED"})
    finally:
        await log.close()
    body = json.loads(str(_rows(log_file, "SELECT body FROM chain")[0][0]))
    assert body == {
        "decision_id": None,
        "outcome": {"disposition": "ANSWERED"},
        "uniqueid": "no-such-call",
    }


@pytest.mark.asyncio
async def test_reopened_log_continues_the_chain(log_file: Path) -> None:
    """Closing and reopening appends after the last record; the chain stays verifiable."""
    for _ in range(2):
        log = await DecisionLog.open(log_file)
        try:
            await log.record(ENTRY)
        finally:
            await log.close()
    assert (verify_log(log_file).records, verify_log(log_file).ok) == (2, True)


@pytest.mark.asyncio
async def test_two_writers_share_one_chain(log_file: Path) -> None:
    """Two open logs on one file (service and `check`) interleave without breaking the chain."""
    first = await DecisionLog.open(log_file)
    second = await DecisionLog.open(log_file)
    try:
        await asyncio.gather(*(log.record(ENTRY) for log in (first, second) for _ in range(50)))
    finally:
        await first.close()
        await second.close()
    result = verify_log(log_file)
    assert (result.ok, result.records) == (True, 100)


@pytest.mark.asyncio
async def test_log_file_is_private(log_file: Path) -> None:
    """The log file is created readable and writable by its owner only."""
    log = await DecisionLog.open(log_file)
    await log.close()
    mode = (await asyncio.to_thread(log_file.stat)).st_mode
    assert stat.S_IMODE(mode) == 0o600


@pytest.mark.asyncio
async def test_naive_time_is_refused(log_file: Path) -> None:
    """A decision without a timezone raises AuditError instead of being stored ambiguously."""
    log = await DecisionLog.open(log_file)
    try:
        with pytest.raises(AuditError, match="no timezone"):
            await log.record(dataclasses.replace(ENTRY, at=datetime(2025, 3, 3, 9, 15)))  # noqa: DTZ001
    finally:
        await log.close()


@pytest.mark.asyncio
async def test_lone_surrogate_in_nested_evidence_is_refused(log_file: Path) -> None:
    """A lone surrogate deep in the entry (an act's reference) raises AuditError, nothing stored."""
    log = await DecisionLog.open(log_file)
    try:
        act = Act(ActKind.CONSENT, date(2023, 5, 1), None, "c-\ud800")
        with pytest.raises(AuditError, match="not valid Unicode"):
            await log.record(dataclasses.replace(ENTRY, evidence=(act,)))
    finally:
        await log.close()
    assert _rows(log_file, "SELECT count(*) FROM chain WHERE type = 'decision'") == [(0,)]


@pytest.mark.asyncio
async def test_record_after_close_raises(log_file: Path) -> None:
    """A closed log refuses records with AuditError (the caller then blocks the call)."""
    log = await DecisionLog.open(log_file)
    await log.close()
    with pytest.raises(AuditError, match="closed"):
        await log.record(ENTRY)


def test_decision_line_carries_the_fields() -> None:
    """The operations log emits one `decision` event with id, pseudonym, verdict and list."""
    pseudonyms = Pseudonyms(bytes(KEY_BYTES))
    with structlog.testing.capture_logs() as captured:
        log_decision(ENTRY, "1M84S8GD50001", pseudonyms)
    line = captured[0]
    assert (
        line["event"],
        line["decision_id"],
        line["pseudonym"],
        line["verdict"],
        line["list_date"],
        line["channel"],
    ) == (
        "decision",
        "1M84S8GD50001",
        pseudonyms.of("+32470123456"),
        "block",
        "2025-03-02",
        f"Local/{pseudonyms.of('0470123456')}@gated-0001;2",
    )
