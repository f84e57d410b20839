"""`gatekeeper audit events` and the outcome column of `audit show`, on a real decision log."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.purge import purge_before
from gatekeeper.audit.schema import log_path

from audit_support import NOT_LISTED, run

DECISION = NOT_LISTED
OUTCOME = {
    "result": "answered",
    "talk_seconds": 31.0,
    "hangup_cause_text": "Normal Clearing",
    "reached_network": True,
}
EVENTS: tuple[tuple[str, dict[str, object], datetime], ...] = (
    (
        "service_start",
        {
            "licensee": "Example NV",
            "licence_valid_until": "2027-06-30",
            "max_age_days": 5,
            "campaigns": {"spring-promo": {"purpose": "commercial", "advertiser": "acme"}},
            "config_sha256": "cd" * 32,
        },
        datetime(2025, 3, 2, 6, 0, tzinfo=UTC),
    ),
    (
        "list_sync",
        {
            "status": "imported",
            "list_date": "2025-03-02",
            "rows": 2_000_000,
            "snapshot_id": 3,
            "sha256": "ab" * 32,
        },
        datetime(2025, 3, 2, 23, 30, tzinfo=UTC),  # 3 March in Brussels
    ),
    (
        "config_reload",
        {"status": "applied", "max_age_days": 4, "config_sha256": "ef" * 32},
        datetime(2025, 3, 4, 8, 0, tzinfo=UTC),
    ),
    (
        "scrub",
        {
            "scrub_id": "20250304-100000-0a1b2c3d",
            "campaign": "spring-promo",
            "input": {"name": "march.csv", "sha256": "12" * 32},
            "rows": 200,
            "verdicts": {"allow": 150, "block": 50},
            "snapshot": {"list_date": "2025-03-02", "sha256": "ab" * 32},
        },
        datetime(2025, 3, 4, 9, 0, tzinfo=UTC),
    ),
    ("bypass", {"channel": "PJSIP/trunk-0001", "number": "+32470999999"}, datetime.now(UTC)),
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A log with one decision, five events and one call outcome, in that order."""
    path = tmp_path / "gatekeeper.yaml"
    path.write_text(
        "licensee: {name: Example NV, role: service_provider, licence_valid_until: 2027-06-30}\n"
        "data_dir: data\n",
        encoding="utf-8",
    )

    async def fill() -> None:
        log = await DecisionLog.open(log_path(tmp_path / "data"))
        try:
            await log.record(DECISION)
            for kind, details, at in EVENTS:
                await log.record_event(kind, details, at=at)
            await log.record_outcome("1741000000.1", OUTCOME)
        finally:
            await log.close()

    asyncio.run(fill())
    return path


def shown_kinds(out: str) -> list[str]:
    """The kind column of an events table."""
    return [line.split()[3] for line in out.strip().splitlines()[2:-1]]


def test_events_lists_every_non_decision_record_in_chain_order(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Events and the outcome are listed oldest first; the decision is not."""
    assert run(config, "events") == 0
    out = capsys.readouterr().out
    assert shown_kinds(out) == [
        "service_start",
        "list_sync",
        "config_reload",
        "scrub",
        "bypass",
        "outcome",
    ]
    assert out.strip().endswith("\n6 record(s)")


@pytest.mark.parametrize(
    ("argv", "kinds"),
    [
        (("--kind", "scrub"), ["scrub"]),
        (("--kind", "list_sync", "--kind", "config_reload"), ["list_sync", "config_reload"]),
        (("--kind", "outcome"), ["outcome"]),
        (("--kind", "nothing-like-this"), []),
        (
            ("--since", "2025-03-03", "--until", "2025-03-04"),
            ["list_sync", "config_reload", "scrub"],
        ),
        (("--until", "2025-03-02"), ["service_start"]),
    ],
)
def test_events_filters_by_kind_and_brussels_period(
    config: Path, argv: tuple[str, ...], kinds: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """--kind (repeatable) and --since/--until (Brussels days) narrow the list."""
    assert run(config, "events", *argv) == 0
    assert shown_kinds(capsys.readouterr().out) == kinds


def test_events_table_shows_which_list_and_rules_were_in_force(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each line names what matters for its kind: list date and hash, campaigns, scrub counts."""
    assert run(config, "events") == 0
    lines = capsys.readouterr().out.splitlines()[2:-1]
    by_kind = {line.split()[3]: line for line in lines}
    assert (
        "list_date=2025-03-02 rows=2000000 snapshot_id=3 sha256=abababababab…"
        in (by_kind["list_sync"])
    )
    assert "campaigns=spring-promo(advertiser:acme,purpose:commercial)" in by_kind["service_start"]
    assert "status=applied max_age_days=4" in by_kind["config_reload"]
    assert (
        "input.name=march.csv rows=200 verdicts.allow=150 verdicts.block=50" in (by_kind["scrub"])
    )
    assert "channel=PJSIP/trunk-0001 number=+32470999999" in by_kind["bypass"]
    assert "outcome=answered, talked 31.0 s" in by_kind["outcome"]


def test_events_json_is_one_complete_object_per_line(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json prints one object per record with every detail, its id, time and kind."""
    assert run(config, "events", "--json") == 0
    objects = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["kind"] for o in objects][:4] == [e[0] for e in EVENTS][:4]
    scrub = next(o for o in objects if o["kind"] == "scrub")
    assert scrub["details"] == EVENTS[3][1]
    assert (scrub["type"], scrub["at_brussels"]) == ("event", "2025-03-04 10:00:00+01:00")
    outcome = objects[-1]
    assert (outcome["type"], outcome["details"]["uniqueid"]) == ("outcome", "1741000000.1")
    assert outcome["details"]["outcome"] == OUTCOME


def test_events_shows_purge_checkpoints(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A purge's checkpoint is listed with the sequence it vouches for."""
    purge_before(log_path(config.parent / "data"), datetime(2025, 3, 3, 12, 0, tzinfo=UTC))
    assert run(config, "events", "--kind", "purge") == 0
    out = capsys.readouterr().out
    assert shown_kinds(out) == ["purge"]
    assert "purged_through_seq=" in out


def test_events_of_an_empty_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A log without events prints the header and `0 record(s)`."""
    log = tmp_path / "decisions.sqlite"

    async def create() -> None:
        await (await DecisionLog.open(log)).close()

    asyncio.run(create())
    assert run(tmp_path / "unused.yaml", "events", "--log", str(log)) == 0
    assert capsys.readouterr().out.strip().endswith("\n0 record(s)")


def test_show_has_the_call_outcome_of_each_decision(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`audit show --number` has an outcome column filled from the outcome record of the call."""
    assert run(config, "show", "--number", "0470 12 34 56") == 0
    header, _rule, row, _count = capsys.readouterr().out.strip().splitlines()
    assert header.split()[-1] == "outcome"
    assert row.endswith("answered, talked 31.0 s")


def test_show_marks_a_decision_without_outcome(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A decision whose call has no outcome record shows `-` in the outcome column."""
    log = tmp_path / "decisions.sqlite"

    async def fill() -> None:
        decision_log = await DecisionLog.open(log)
        try:
            await decision_log.record(DECISION)
        finally:
            await decision_log.close()

    asyncio.run(fill())
    assert run(tmp_path / "unused.yaml", "show", "--log", str(log)) == 0
    row = capsys.readouterr().out.strip().splitlines()[2]
    assert row.split()[-1] == "-"
