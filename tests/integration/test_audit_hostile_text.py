"""Text that came from the network, read back from a real log: never a formula, never a command."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
from pathlib import Path

import pytest
from gatekeeper.audit.log import DecisionLog
from gatekeeper.common.clock import today
from tools.gatekeeper_run import gatekeeper, write_run_config

from audit_support import LISTED, run

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b31m"
HOSTILE = dataclasses.replace(
    LISTED,
    campaign='=HYPERLINK("http://evil.example","x")' + ESCAPES,
    advertiser="@SUM(1)",
    dialled="=cmd|'/c calc'!A0",
    e164=None,
    reason="invalid_number",
    rule="+1+1",
    channel="-1+1",
    linkedid="\t=1+1",
    uniqueid="\r=1+1\x00",
    host="nul\x00host",
)
"""A decision whose every outside field holds a formula, terminal escapes or a NUL."""


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    """A real log holding the hostile decision, an outcome and an event with escapes."""
    path = tmp_path / "audit" / "decisions.sqlite"

    async def fill() -> None:
        log = await DecisionLog.open(path)
        try:
            await log.record(HOSTILE)
            await log.record_outcome(HOSTILE.uniqueid, {"result": "answered" + ESCAPES})
            await log.record_event("bypass", {"campaign": ESCAPES, "channel": "x\x1b[2J"})
        finally:
            await log.close()

    asyncio.run(fill())
    return path


def _raw_controls(text: str) -> list[str]:
    return [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0]


def test_export_csv_quotes_every_hostile_cell(
    log_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Read back with the csv module, every cell that came from AGI starts with a quote; no NUL."""
    run(log_file, "export", "--log", str(log_file), "--format", "csv")
    out = capsys.readouterr().out
    (row,) = csv.DictReader(io.StringIO(out, newline=""))
    hostile = ("campaign", "advertiser", "dialled", "rule", "channel", "linkedid", "uniqueid")
    assert ({key: row[key][0] for key in hostile}, "\x00" in out) == (
        dict.fromkeys(hostile, "'"),
        False,
    )


def test_export_jsonl_has_no_raw_control_character(
    log_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The JSON lines export escapes C1 controls too, and still holds the exact campaign."""
    run(log_file, "export", "--log", str(log_file), "--format", "jsonl")
    out = capsys.readouterr().out
    assert (_raw_controls(out), json.loads(out)["campaign"]) == ([], HOSTILE.campaign)


@pytest.mark.parametrize(
    "command", [("show",), ("events",), ("events", "--json"), ("verify",)], ids=" ".join
)
def test_audit_output_has_no_raw_control_character(
    log_file: Path, capsys: pytest.CaptureFixture[str], command: tuple[str, ...]
) -> None:
    """`audit show`, `audit events` (table and JSON) and `verify` print no ESC, BEL, CSI or NUL."""
    run(log_file, *command, "--log", str(log_file))
    captured = capsys.readouterr()
    assert _raw_controls(captured.out + captured.err) == []


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The example config with the sample list imported today."""
    path = write_run_config(tmp_path, agi_port=4573, ami_port=5038, ami_secret="unused")
    gatekeeper(path, "sync", "--list-date", today().isoformat())
    return path


@pytest.mark.parametrize("json_flag", [(), ("--json",)], ids=["human", "json"])
def test_check_prints_no_raw_control_character(config: Path, json_flag: tuple[str, ...]) -> None:
    """`check` with ESC, BEL and CSI in the campaign prints them escaped, human or JSON."""
    done = gatekeeper(config, "check", "0470999999", "--campaign", ESCAPES, *json_flag)
    assert (_raw_controls(done.stdout), done.stdout.count("\n")) == ([], 1)
