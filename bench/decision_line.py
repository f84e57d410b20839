"""Benchmark: the `decision` journal line, with the number's pseudonym and without one.

Renders the line as `serve` does (structlog, JSON, to a stream that discards it) for the same
decision many times, once with the keyed pseudonym (HMAC-SHA256) and once with no pseudonyms,
so that the pseudonym's own cost per decision shows.

Usage: .venv/bin/python bench/decision_line.py [--lines 100000]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import secrets
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gatekeeper.audit.oplog import log_decision
from gatekeeper.audit.records import DecisionEntry
from gatekeeper.common.logs import configure_logging
from gatekeeper.common.pseudonyms import KEY_BYTES, Pseudonyms
from gatekeeper.rules.policy import Act, ActKind, SnapshotInfo

ENTRY = DecisionEntry(
    at=datetime(2025, 3, 3, 9, 15, tzinfo=UTC),
    source="agi",
    campaign="spring-promo",
    purpose="commercial",
    advertiser="acme",
    dialled="0470123456",
    e164="+32470123456",
    verdict="block",
    reason="listed",
    rule="listing of 2019-03-14 is the latest act, no consent",
    snapshot=SnapshotInfo(3, date(2025, 3, 2), "ab" * 32, 2_000_000),
    evidence=(Act(ActKind.LISTING, date(2019, 3, 14)),),
    channel="Local/0470123456@gatekeeper-example-trunk-00000001;2",
    uniqueid="1741000000.17",
    linkedid="1741000000.16",
    host="node-1",
)


class _Discard(io.StringIO):
    def write(self, text: str) -> int:
        return len(text)

    def isatty(self) -> bool:
        return False


def _per_line_us(lines: int, pseudonyms: Pseudonyms | None) -> float:
    entries = [dataclasses.replace(ENTRY, e164=f"+3247{i:07d}") for i in range(1000)]
    started = time.process_time()
    for i in range(lines):
        log_decision(entries[i % len(entries)], "1M84S8GD50001", pseudonyms)
    return (time.process_time() - started) / lines * 1e6


def main() -> None:
    """Print the CPU time per line with and without the pseudonym."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    configure_logging(stream=_Discard())
    pseudonyms = Pseudonyms(secrets.token_bytes(KEY_BYTES))
    _per_line_us(2_000, pseudonyms)
    plain = _per_line_us(args.lines, None)
    named = _per_line_us(args.lines, pseudonyms)
    hmac_only = time.process_time()
    for i in range(args.lines):
        pseudonyms.of(f"+3247{i:07d}")
    hmac_us = (time.process_time() - hmac_only) / args.lines * 1e6
    print(f"decision line without pseudonym: {plain:.1f} µs CPU")
    print(f"decision line with pseudonym:    {named:.1f} µs CPU (+{named - plain:.1f} µs)")
    print(f"pseudonym alone (HMAC-SHA256):   {hmac_us:.2f} µs CPU")


if __name__ == "__main__":
    main()
