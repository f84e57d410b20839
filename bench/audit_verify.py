"""Benchmark: `audit verify` (the whole chain) against the bounded check of `show` and `export`.

Writes a log of `--records` decisions (default 1,000,000) with the writer's own `append`, in
transactions of 10,000, anchors its head every `--anchor-every` records (default 30,000: one
minute at 500 decisions/s), then times `verify_log` (every record hashed, every anchor held to
its record) and `quick_check` (the newest anchor, the records after it, the head; and with no
anchor, the newest QUICK_TAIL records) three times each and prints the best and the worst.
About a minute for the default size.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from gatekeeper.audit.anchor import FileAnchor, anchor_dir
from gatekeeper.audit.append import NewRecord, append
from gatekeeper.audit.chain import AnchoredHead, VerifyResult
from gatekeeper.audit.records import (
    DecisionEntry,
    RecordType,
    canonical_json,
    decision_body,
    utc_text,
)
from gatekeeper.audit.schema import Synchronous, connect_writer
from gatekeeper.audit.store import QUICK_TAIL, quick_check, verify_log
from gatekeeper.rules.policy import Act, ActKind, SnapshotInfo

BATCH = 10_000
ENTRY = DecisionEntry(
    at=datetime.now(UTC),
    source="agi",
    campaign="spring-promo",
    purpose="commercial",
    advertiser="acme",
    dialled="0470 12 34 56",
    e164="+32470123456",
    verdict="allow",
    reason="consent_after_listing",
    rule="consent of 2025-02-01 is later than the listing",
    snapshot=SnapshotInfo(3, date(2025, 3, 2), "ab" * 32, 2_000_000),
    evidence=(Act(ActKind.LISTING, date(2024, 1, 1)), Act(ActKind.CONSENT, date(2025, 2, 1))),
    channel="Local/0470123456@gated-00000001;2",
    uniqueid="1741000000.17",
    linkedid="1741000000.16",
    host="node-1",
)


def build(path: Path, records: int, anchor_every: int) -> None:
    """A log of `records` decisions, its head anchored every `anchor_every` records."""
    conn = connect_writer(path, synchronous=Synchronous.NORMAL, busy_timeout_s=5.0)
    anchor = FileAnchor(anchor_dir(path))
    record = NewRecord(
        type=RecordType.DECISION,
        at=utc_text(ENTRY.at),
        kind=ENTRY.source,
        campaign=ENTRY.campaign,
        e164=ENTRY.e164,
        verdict=ENTRY.verdict,
        reason=ENTRY.reason,
        uniqueid=ENTRY.uniqueid,
        body=canonical_json(decision_body(ENTRY)),
    )
    written = 0
    while written < records:
        count = min(BATCH, records - written)
        conn.execute("BEGIN IMMEDIATE")
        append(conn, [record] * count)
        conn.execute("COMMIT")
        written += count
        if written % anchor_every < count or written == records:
            seq, digest = conn.execute("SELECT seq, hash FROM head").fetchone()
            anchor.append(AnchoredHead(int(seq), str(digest), datetime.now(UTC)))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def timed(check: Callable[[Path], VerifyResult], path: Path) -> list[float]:
    """Three runs of `check`, in seconds; each must pass."""
    times = []
    for _ in range(3):
        began = time.perf_counter()
        result = check(path)
        times.append(time.perf_counter() - began)
        assert result.ok, result.problem
    return times


def main() -> None:
    """Build the log, time both checks, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--anchor-every", type=int, default=30_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "audit" / "decisions.sqlite"
        began = time.perf_counter()
        build(path, args.records, args.anchor_every)
        size = path.stat().st_size / 1e6
        print(
            f"built {args.records:,} records ({size:.0f} MB) in {time.perf_counter() - began:.1f} s"
        )
        no_anchor = FileAnchor(Path(folder) / "none")
        checks: tuple[tuple[str, Callable[[Path], VerifyResult]], ...] = (
            ("verify_log (whole chain)", verify_log),
            ("quick_check", quick_check),
            (
                f"quick_check, no anchor (the newest {QUICK_TAIL:,})",
                lambda p: quick_check(p, no_anchor),
            ),
        )
        for name, check in checks:
            times = timed(check, path)
            print(f"{name}: {min(times):.3f}-{max(times):.3f} s")


if __name__ == "__main__":
    main()
