"""When the log cannot be written, record() raises AuditError: nothing is silently dropped."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.purge import purge_before
from gatekeeper.audit.store import verify_log
from gatekeeper.common.errors import AuditError

from audit_support import NOT_LISTED

ENTRY = dataclasses.replace(
    NOT_LISTED, dialled="0470123456", rule="not listed", snapshot=None, uniqueid=""
)


@pytest.mark.asyncio
async def test_locked_log_raises_and_recovers(tmp_path: Path) -> None:
    """A write lock held past the timeout raises AuditError; once it is gone, writing resumes."""
    path = tmp_path / "decisions.sqlite"
    log = await DecisionLog.open(path, busy_timeout_s=0.05)
    try:
        await log.record(ENTRY)
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(AuditError, match="cannot write the decision log"):
                await log.record(ENTRY)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await log.record(ENTRY)
    finally:
        await log.close()
    result = await asyncio.to_thread(verify_log, path)
    assert (result.ok, result.records) == (True, 2)


@pytest.mark.asyncio
async def test_every_caller_of_a_failed_batch_gets_the_error(tmp_path: Path) -> None:
    """All callers whose records shared a failed commit are told; none gets an id."""
    path = tmp_path / "decisions.sqlite"
    log = await DecisionLog.open(path, busy_timeout_s=0.05)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        results = await asyncio.gather(
            *(log.record(ENTRY) for _ in range(20)), return_exceptions=True
        )
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        await log.close()
    assert {type(r) for r in results} == {AuditError}


@pytest.mark.asyncio
async def test_file_that_is_not_a_log_refuses_to_open(tmp_path: Path) -> None:
    """A file that is not an SQLite log makes open() raise AuditError naming the file."""
    path = tmp_path / "decisions.sqlite"
    await asyncio.to_thread(path.write_bytes, b"this is not a database" * 100)
    with pytest.raises(AuditError, match=r"decisions\.sqlite"):
        await DecisionLog.open(path)


@pytest.mark.asyncio
async def test_folder_that_cannot_be_created_refuses_to_open(tmp_path: Path) -> None:
    """A log path under a regular file (no folder possible) makes open() raise AuditError."""
    blocker = tmp_path / "data"
    await asyncio.to_thread(blocker.write_text, "a file, not a folder")
    with pytest.raises(AuditError, match="cannot open the decision log"):
        await DecisionLog.open(blocker / "audit" / "decisions.sqlite")


@pytest.mark.asyncio
async def test_purge_in_slices_while_the_service_writes(tmp_path: Path) -> None:
    """A purge in many small slices, racing a writer, leaves a verifiable chain."""
    path = tmp_path / "decisions.sqlite"
    log = await DecisionLog.open(path)
    try:
        await asyncio.gather(*(log.record(ENTRY) for _ in range(100)))
        recent = dataclasses.replace(ENTRY, at=datetime.now(UTC))
        cutoff = datetime(2025, 3, 4, tzinfo=UTC)
        purged, _ = await asyncio.gather(
            asyncio.to_thread(purge_before, path, cutoff, slice_records=7),
            asyncio.gather(*(log.record(recent) for _ in range(100))),
        )
    finally:
        await log.close()
    result = await asyncio.to_thread(verify_log, path)
    assert (purged.removed, len(purged.checkpoints), result.ok) == (100, 15, True)


def _execute(path: Path, statement: str) -> None:
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(statement)


@pytest.mark.asyncio
async def test_decision_after_recovery_does_not_wait_for_the_late_records_pause(
    tmp_path: Path,
) -> None:
    """Late records waiting out a failure do not hold back a decision once the file is writable."""
    path = tmp_path / "decisions.sqlite"
    log = await DecisionLog.open(path, late_retry_s=600.0)
    try:
        await log.record(ENTRY)
        _execute(
            path,
            "CREATE TRIGGER refuse BEFORE INSERT ON chain"
            " BEGIN SELECT RAISE(ABORT, 'disk refuses the write'); END",
        )
        assert log.record_late(ENTRY, "unwritable")
        with pytest.raises(AuditError):
            await log.record(ENTRY)
        _execute(path, "DROP TRIGGER refuse")
        async with asyncio.timeout(30):
            await log.record(ENTRY)
    finally:
        await log.close()
    result = await asyncio.to_thread(verify_log, path)
    assert (result.ok, result.records, log.late_pending) == (True, 3, 0)
