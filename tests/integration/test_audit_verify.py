"""`audit verify` against a log tampered with through plain sqlite3, as an insider would."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from gatekeeper.audit.chain import record_hash
from gatekeeper.audit.cli import verify_command
from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.store import verify_log

from audit_support import NOT_LISTED

ENTRY = dataclasses.replace(NOT_LISTED, dialled="0470123456", snapshot=None, uniqueid="")


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    """A log of 6 decisions (sequence 1..6), one minute apart."""
    path = tmp_path / "decisions.sqlite"

    async def fill() -> None:
        log = await DecisionLog.open(path)
        try:
            for minute in range(6):
                at = ENTRY.at + timedelta(minutes=minute)
                await log.record(dataclasses.replace(ENTRY, at=at, dialled=f"0470{minute}"))
        finally:
            await log.close()

    asyncio.run(fill())
    return path


def _tamper(path: Path, *statements: str) -> None:
    with sqlite3.connect(path) as conn:
        for statement in statements:
            conn.execute(statement)


def _verdict(path: Path) -> tuple[bool, int | None]:
    result = verify_log(path)
    return result.ok, result.bad_seq


def test_intact_log_verifies(log_file: Path) -> None:
    """A log nobody touched passes, all six records counted."""
    result = verify_log(log_file)
    assert (result.ok, result.records) == (True, 6)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE chain SET verdict = 'block', reason = 'listed' WHERE seq = 3",
        "UPDATE chain SET e164 = '+32470999999' WHERE seq = 3",
        "UPDATE chain SET at = '2025-03-01T09:15:00.000000+00:00' WHERE seq = 3",
        "UPDATE chain SET body = replace(body, '04702', '04709') WHERE seq = 3",
    ],
)
def test_changed_field_is_named(log_file: Path, statement: str) -> None:
    """Changing any stored field of record 3 is caught at record 3."""
    _tamper(log_file, statement)
    assert _verdict(log_file) == (False, 3)


def test_removed_record_is_named(log_file: Path) -> None:
    """Deleting record 3 is caught at record 4, which lost its predecessor."""
    _tamper(log_file, "DELETE FROM chain WHERE seq = 3")
    assert _verdict(log_file) == (False, 4)


def test_removed_last_record_is_caught_by_the_head(log_file: Path) -> None:
    """Deleting the newest record is caught: the log's head still names record 6."""
    _tamper(log_file, "DELETE FROM chain WHERE seq = 6")
    assert _verdict(log_file) == (False, 6)


def test_swapped_records_are_named(log_file: Path) -> None:
    """Swapping the sequence numbers of records 3 and 4 is caught at record 3."""
    _tamper(
        log_file,
        "UPDATE chain SET seq = -1 WHERE seq = 3",
        "UPDATE chain SET seq = 3 WHERE seq = 4",
        "UPDATE chain SET seq = 4 WHERE seq = -1",
    )
    assert _verdict(log_file) == (False, 3)


def test_forged_record_inserted_in_the_middle_is_named(log_file: Path) -> None:
    """A forged record with a correct hash, slid in after record 3, breaks record 5 (old 4)."""
    with sqlite3.connect(log_file) as conn:
        row = conn.execute("SELECT * FROM chain WHERE seq = 3").fetchone()
        conn.execute("UPDATE chain SET seq = seq + 1000 WHERE seq > 3")
        conn.execute("UPDATE chain SET seq = seq - 999 WHERE seq > 1000")
        content = (4, "FORGED0000000", *row[2:10], row[10].replace("04702", "04708"), row[12])
        conn.execute(
            "INSERT INTO chain VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*content, record_hash(content)),
        )
    assert _verdict(log_file) == (False, 5)


def test_forged_record_appended_is_caught(log_file: Path) -> None:
    """A record appended with a made-up hash is caught at its own sequence number."""
    with sqlite3.connect(log_file) as conn:
        row = conn.execute("SELECT * FROM chain WHERE seq = 6").fetchone()
        conn.execute(
            "INSERT INTO chain VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (7, "FORGED0000000", *row[2:11], row[12], "f" * 64),
        )
    assert _verdict(log_file) == (False, 7)


def test_verify_command_exits_1_naming_the_record(
    log_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`audit verify` prints the first bad record's sequence number and id, and exits 1."""
    with sqlite3.connect(log_file) as conn:
        (bad_id,) = conn.execute("SELECT id FROM chain WHERE seq = 2").fetchone()
        conn.execute("UPDATE chain SET reason = 'consent_after_listing' WHERE seq = 2")
    code = verify_command(argparse.Namespace(log=log_file))
    out = capsys.readouterr().out
    assert (code, out.startswith(f"TAMPERED: record 2 (id {bad_id})")) == (1, True)


def test_verify_command_exits_0_with_head(
    log_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`audit verify` on an intact log exits 0 and prints the count and head hash."""
    code = verify_command(argparse.Namespace(log=log_file))
    out = capsys.readouterr().out
    assert (code, out.startswith("OK: 6 records, sequence 1..6, head sha256 ")) == (0, True)
