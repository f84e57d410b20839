"""Sample decision records shared by the decision log's tests."""

from __future__ import annotations

import argparse
import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path

from gatekeeper.audit import cli as audit_cli
from gatekeeper.audit.records import DecisionEntry
from gatekeeper.rules.policy import Act, ActKind, SnapshotInfo

SNAPSHOT = SnapshotInfo(3, date(2025, 3, 2), "ab" * 32, 2_000_000)

LISTED = DecisionEntry(
    at=datetime(2025, 3, 3, 9, 15, tzinfo=UTC),
    source="agi",
    campaign="spring-promo",
    purpose="commercial",
    advertiser="acme",
    dialled="0470 12 34 56",
    e164="+32470123456",
    verdict="block",
    reason="listed",
    rule="listed since 2024-01-01",
    snapshot=SNAPSHOT,
    evidence=(Act(ActKind.LISTING, date(2024, 1, 1), record_id="list-3"),),
    uniqueid="1741000000.1",
    host="node-1",
)
"""A commercial call to a listed number, blocked, with its snapshot and listing evidence."""

NOT_LISTED = dataclasses.replace(
    LISTED,
    verdict="allow",
    reason="not_listed",
    rule="+32470123456 is not listed and has no objection",
    evidence=(),
)
"""The same call to an unlisted number, allowed."""


def run(config: Path, *argv: str) -> int:
    """Parse `-c CONFIG audit ARGV...` with the audit command group and run its handler."""
    parser = argparse.ArgumentParser(prog="gatekeeper")
    parser.add_argument("-c", "--config")
    audit_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["-c", str(config), "audit", *argv])
    code: int = args.handler(args)
    return code
