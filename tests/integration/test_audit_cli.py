"""`gatekeeper audit show|export|purge` on a real log, through the command group's parser."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gatekeeper.audit.anchor import FileAnchor, anchor_dir
from gatekeeper.audit.anchoring import HeadAnchorer
from gatekeeper.audit.chain import AnchoredHead
from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.schema import log_path
from gatekeeper.audit.store import verify_log

from audit_support import LISTED, run

BASE = LISTED
ENTRIES = (
    BASE,
    dataclasses.replace(
        BASE,
        at=datetime(2025, 3, 3, 23, 30, tzinfo=UTC),  # 4 March in Brussels
        dialled="0032 470 99 99 99",
        e164="+32470999999",
        verdict="allow",
        reason="not_listed",
        rule="+32470999999 is not listed and has no objection",
        evidence=(),
        uniqueid="1741000000.2",
    ),
    dataclasses.replace(
        BASE,
        at=datetime(2025, 3, 5, 8, 0, tzinfo=UTC),
        campaign="delivery-notice",
        purpose="informational",
        verdict="allow",
        reason="informational_campaign",
        rule="informational calls are outside the list",
        evidence=(),
        uniqueid="1741000000.3",
    ),
    dataclasses.replace(
        BASE,
        at=datetime(2025, 3, 5, 9, 0, tzinfo=UTC),
        dialled="12",
        e164=None,
        reason="invalid_number",
        rule="not a callable number: too_short",
        evidence=(),
        uniqueid="",
    ),
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A configuration whose data_dir holds a log with four decisions and one outcome."""
    path = tmp_path / "gatekeeper.yaml"
    path.write_text(
        "licensee: {name: Example NV, role: service_provider, licence_valid_until: 2027-06-30}\n"
        "data_dir: data\n"
        "audit: {retention_days: 30}\n",
        encoding="utf-8",
    )

    async def fill() -> None:
        log = await DecisionLog.open(log_path(tmp_path / "data"))
        try:
            for entry in ENTRIES:
                await log.record(entry)
            await log.record_outcome("1741000000.2", {"disposition": "ANSWERED", "billsec": 31})
        finally:
            await log.close()

    asyncio.run(fill())
    return path


def _shown_ids(out: str) -> list[str]:
    lines = out.strip().splitlines()[2:-1]
    return [line.split()[3] for line in lines]


@pytest.mark.parametrize(
    "number", ["0470 12 34 56", "+32470123456", "0032470123456", "32470123456"]
)
def test_show_finds_a_number_given_in_any_form(
    config: Path, number: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--number` in any written form matches the decisions on that E.164 number."""
    assert run(config, "show", "--number", number) == 0
    out = capsys.readouterr().out
    assert (out.count("+32470123456"), out.strip().endswith("2 decision(s)")) == (2, True)


@pytest.mark.parametrize(
    ("argv", "count"),
    [
        ((), 4),
        (("--campaign", "delivery-notice"), 1),
        (("--verdict", "allow"), 2),
        (("--reason", "invalid_number"), 1),
        (("--since", "2025-03-04"), 3),
        (("--until", "2025-03-03"), 1),
        (("--since", "2025-03-03T23:00", "--until", "2025-03-04"), 1),
        (("--since", "2025-03-05T09:00:00+00:00"), 1),
        (("--number", "12"), 1),
    ],
)
def test_show_filters(
    config: Path, argv: tuple[str, ...], count: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each filter narrows the table to the decisions it names (dates are Brussels days)."""
    assert run(config, "show", *argv) == 0
    assert capsys.readouterr().out.strip().endswith(f"\n{count} decision(s)")


def test_show_bad_date_is_a_usage_error(config: Path) -> None:
    """A --since that is not ISO is refused by the parser (exit 2)."""
    with pytest.raises(SystemExit) as exited:
        run(config, "show", "--since", "3 March")
    assert exited.value.code == 2


def test_export_csv_has_every_field(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """CSV export has a header and one row per decision with snapshot, evidence and outcome."""
    assert run(config, "export", "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    first, second = rows[0], rows[1]
    assert (
        len(rows),
        first["number"],
        first["list_date"],
        first["list_sha256"],
        first["evidence"],
        json.loads(second["outcome"])["billsec"],
    ) == (4, "'+32470123456", "2025-03-02", "ab" * 32, "listing 2024-01-01 #list-3", 31)


def test_export_jsonl_to_file(config: Path, tmp_path: Path) -> None:
    """JSON-lines export to --output writes one object per decision with its chain place."""
    out = tmp_path / "export.jsonl"
    assert (
        run(config, "export", "--format", "jsonl", "--output", str(out), "--verdict", "allow") == 0
    )
    objects = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(o["seq"], o["reason"], len(o["record_hash"])) for o in objects] == [
        (2, "not_listed", 64),
        (3, "informational_campaign", 64),
    ]


def test_purge_removes_old_records_and_keeps_the_chain_verifiable(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Old decisions go (the outcome, recorded now, stays); a checkpoint keeps verify passing."""
    log_file = log_path(tmp_path / "data")

    async def add_recent() -> None:
        log = await DecisionLog.open(log_file)
        try:
            await log.record(dataclasses.replace(BASE, at=datetime.now(UTC) - timedelta(days=1)))
        finally:
            await log.close()

    asyncio.run(add_recent())
    assert run(config, "purge") == 0
    out = capsys.readouterr().out
    result = verify_log(log_file)
    assert (out.startswith("removed 4 record(s)"), result.ok, result.first_seq, result.records) == (
        True,
        True,
        5,
        3,
    )


def test_purge_removes_anchor_files_of_months_before_the_period(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Anchor files of months wholly before the retention period go; this month's file stays."""
    log_file = log_path(tmp_path / "data")
    anchor = FileAnchor(anchor_dir(log_file))
    HeadAnchorer(log_file, anchor).anchor_now()
    anchor.append(AnchoredHead(1, "a" * 64, datetime(2025, 3, 3, tzinfo=UTC)))
    assert run(config, "purge") == 0
    capsys.readouterr()
    assert [path.name for path in sorted(anchor.folder.iterdir())] == [
        f"heads-{datetime.now(UTC):%Y-%m}.jsonl"
    ]


def test_purge_dry_run_removes_nothing(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`purge --dry-run` counts what would go and leaves every record in place."""
    assert run(config, "purge", "--dry-run") == 0
    out = capsys.readouterr().out
    assert (
        out.startswith("would remove 4 record(s)"),
        verify_log(log_path(tmp_path / "data")).records,
    ) == (True, 5)


def test_show_number_tells_the_bypasses_that_involve_it(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`show --number` adds a sentence per bypass that dialled or was allowed that number."""

    async def add_bypasses() -> None:
        log = await DecisionLog.open(log_path(config.parent / "data"))
        try:
            for exten, allowed in (("0470123456", "+32470999999"), ("0470555555", None)):
                await log.record_event(
                    "bypass",
                    {
                        "context": "gatekeeper-example-trunk",
                        "exten": exten,
                        "reason": "number_mismatch" if allowed else "no_allow",
                        "allowed_number": allowed,
                        "action": "hangup",
                        "hung_up": True,
                        "provider_reached": False,
                    },
                )
        finally:
            await log.close()

    asyncio.run(add_bypasses())
    assert run(config, "show", "--number", "+32470999999") == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-2:] == [
        "1 bypass(es) of the check involving +32470999999:",
        lines[-1].split("  bypass: ")[0]
        + "  bypass: a call dialled '0470123456' into trunk context 'gatekeeper-example-trunk'"
        " while its ALLOW was for +32470999999: hung up by the watchdog;"
        " the provider leg was not reached.",
    ]
