"""`audit report`: one self-contained HTML page, checked as a person sees it in Chromium."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from gatekeeper.audit import cli as audit_cli
from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.period import parse_moment

from audit_support import LISTED

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
CHROMIUM_TIMEOUT_S = 120
BASE = LISTED


async def _fill(path: Path) -> None:
    log = await DecisionLog.open(path)
    try:
        for day, status, list_date in ((2, "imported", "2025-03-02"), (4, "refused", None)):
            await log.record_event(
                "list_sync",
                {"status": status, "list_date": list_date, "rows": 2_000_000, "sha256": "ab" * 32},
                at=datetime(2025, 3, day, 23, 30, tzinfo=UTC),
            )
        await log.record_event(
            "config_reload",
            {"campaigns": ["spring-promo", "delivery-notice"]},
            at=datetime(2025, 3, 2, 8, tzinfo=UTC),
        )
        for day in (3, 3, 3, 4, 6):
            await log.record(dataclasses.replace(BASE, at=datetime(2025, 3, day, 10, tzinfo=UTC)))
        for day in (3, 4, 4):
            await log.record(
                dataclasses.replace(
                    BASE,
                    at=datetime(2025, 3, day, 11, tzinfo=UTC),
                    campaign="delivery-notice",
                    purpose="informational",
                    verdict="allow",
                    reason="informational_campaign",
                    e164="+32470999999",
                    evidence=(),
                    uniqueid="",
                )
            )
        await log.record_outcome("1741000000.1", {"result": "no_answer", "reached_network": True})
    finally:
        await log.close()


@pytest.fixture
def report(tmp_path: Path) -> Path:
    """The report for 1 to 7 March 2025, with the evidence for 0470 12 34 56."""
    log_file = tmp_path / "decisions.sqlite"
    asyncio.run(_fill(log_file))
    output = tmp_path / "report.html"
    args = argparse.Namespace(
        log=log_file,
        since=parse_moment("2025-03-01"),
        until=parse_moment("2025-03-07", end_of_day=True),
        number="0470/12.34.56",
        output=output,
    )
    assert audit_cli.report_command(args) == 0
    return output


def _chromium(*argv: str, profile: Path) -> str:
    binary = shutil.which("chromium")
    assert binary is not None, "chromium is missing: tools/system-deps.sh installs it"
    done = subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *argv,
        ],
        capture_output=True,
        text=True,
        timeout=CHROMIUM_TIMEOUT_S,
        check=True,
    )
    return done.stdout


def test_report_has_no_external_resource(report: Path) -> None:
    """The page loads nothing from elsewhere: no src/href to http, no link or script tag."""
    page = report.read_text(encoding="utf-8")
    assert re.findall(r'(?:src|href)\s*=\s*"(?:https?:)?//|<link|<script', page) == []


def test_report_renders_totals_chart_and_evidence_in_chromium(report: Path, tmp_path: Path) -> None:
    """Chromium's DOM shows totals, per-day SVG bars, syncs, config reloads and the evidence."""
    dom = _chromium("--dump-dom", report.as_uri(), profile=tmp_path / "profile-dom")
    total = re.search(r'id="total-decisions".*?<b>(\d+)</b>', dom)
    allowed = re.search(r'id="total-allow".*?<b class="allow">(\d+)</b>', dom)
    evidence = dom[dom.index('id="evidence"') :]
    assert (
        total.group(1) if total else None,
        allowed.group(1) if allowed else None,
        '<svg id="day-chart"' in dom,
        dom.count('class="bar-block"'),
        "Beslissingen per dag" in dom and "Décisions par jour" in dom,
        "Chain verified" in dom,
        evidence.count("listing 2024-01-01 #list-3"),
        "no answer" in evidence,
        dom.count("refused"),
        "delivery-notice&quot;]}" in dom or 'delivery-notice"]}' in dom,
    ) == ("8", "3", True, 7, True, True, 5, True, 1, True)


def test_report_screenshot_is_taken(report: Path, tmp_path: Path) -> None:
    """Chromium renders the page to a PNG (kept under tests/artifacts/ for a person to look at)."""
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "audit_report.png"
    shot.unlink(missing_ok=True)
    _chromium(
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        report.as_uri(),
        profile=tmp_path / "profile-shot",
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


BYPASS_HERE = {
    "context": "gatekeeper-example-trunk",
    "exten": "0470123456",
    "reason": "number_mismatch",
    "allowed_number": "+32470999999",
    "action": "hangup",
    "hung_up": True,
    "provider_reached": False,
}
BYPASS_ELSEWHERE = {
    "context": "gatekeeper-example-trunk",
    "exten": "<b>0471</b>",
    "reason": "no_allow",
    "allowed_number": None,
    "action": "alert",
    "hung_up": False,
    "provider_reached": True,
    "provider_channel": "IAX2/provider-0001",
}


def test_report_shows_bypasses_as_sentences_in_totals_and_evidence(tmp_path: Path) -> None:
    """Bypasses are counted in the totals and told as sentences, the number's in its evidence."""
    log_file = tmp_path / "decisions.sqlite"

    async def fill() -> None:
        log = await DecisionLog.open(log_file)
        try:
            await log.record(BASE)
            for details in (BYPASS_HERE, BYPASS_ELSEWHERE):
                await log.record_event("bypass", details, at=datetime(2025, 3, 3, 12, tzinfo=UTC))
        finally:
            await log.close()

    asyncio.run(fill())
    output = tmp_path / "report.html"
    args = argparse.Namespace(
        log=log_file,
        since=parse_moment("2025-03-01"),
        until=parse_moment("2025-03-07", end_of_day=True),
        number="0470 12 34 56",
        output=output,
    )
    assert audit_cli.report_command(args) == 0
    page = output.read_text(encoding="utf-8")
    card = re.search(r'id="total-bypass".*?<b class="block">(\d+)</b>.*?: (\d+)</div>', page)
    evidence = page[page.index('id="evidence-bypasses"') :]
    assert (
        card.groups() if card else None,
        evidence.count("a call dialled &#x27;0470123456&#x27;"),
        "while its ALLOW was for +32470999999" in evidence,
        "0471" in evidence,
        "&lt;b&gt;0471&lt;/b&gt;" in page,
        "provider_reached" in page,
    ) == (("2", "1"), 1, True, False, True, False)


def test_report_lists_console_reads_apart_from_other_events(tmp_path: Path) -> None:
    """Who searched or exported in the console has its own section, not among other events."""
    log_file = tmp_path / "decisions.sqlite"
    at = datetime(2025, 3, 3, 12, tzinfo=UTC)

    async def fill() -> None:
        log = await DecisionLog.open(log_file)
        try:
            await log.record(BASE)
            await log.record_event(
                "console_access",
                {"account": "<i>officer</i>", "action": "search", "number": "+32470123456"},
                at=at,
            )
            await log.record_event("scrub", {"rows": 3}, at=at)
        finally:
            await log.close()

    asyncio.run(fill())
    output = tmp_path / "report.html"
    args = argparse.Namespace(
        log=log_file,
        since=parse_moment("2025-03-01"),
        until=parse_moment("2025-03-07", end_of_day=True),
        number=None,
        output=output,
    )
    assert audit_cli.report_command(args) == 0
    page = output.read_text(encoding="utf-8")
    others = page[page.index('id="events"') : page.index('id="access"')]
    access = page[page.index('id="access"') :]
    assert (
        "console_access" in others,
        "scrub" in others,
        "<td>&lt;i&gt;officer&lt;/i&gt;</td><td>search</td>" in access,
        "+32470123456" in access,
    ) == (False, True, True, True)
