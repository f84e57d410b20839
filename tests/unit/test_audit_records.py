"""Canonical serialisation of records and the pure chain verifier."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from gatekeeper.audit.chain import (
    GENESIS,
    ChainVerifier,
    Checkpoint,
    Head,
    StoredRecord,
    record_hash,
)
from gatekeeper.audit.records import DecisionEntry, canonical_json, decision_body, utc_text
from gatekeeper.common.errors import AuditError
from gatekeeper.rules.policy import Act, ActKind

from audit_support import LISTED


def _entry() -> DecisionEntry:
    return dataclasses.replace(
        LISTED,
        at=datetime(2025, 3, 3, 10, 0, tzinfo=UTC),
        evidence=(
            Act(ActKind.LISTING, date(2024, 1, 1)),
            Act(ActKind.CONSENT, date(2023, 5, 1), time(9, 30), "c-17"),
        ),
        uniqueid="",
    )


def test_canonical_json_is_independent_of_key_order() -> None:
    """Two mappings with the same content serialise to the same text."""
    assert canonical_json({"b": 1, "a": [1, "é"]}) == canonical_json({"a": [1, "é"], "b": 1})


def test_decision_body_holds_snapshot_and_evidence() -> None:
    """The body carries the list snapshot (date, fingerprint) and each weighed act."""
    body = decision_body(_entry())
    assert (body["snapshot"], body["evidence"]) == (
        {"snapshot_id": 3, "list_date": "2025-03-02", "sha256": "ab" * 32, "rows": 2_000_000},
        [
            {"kind": "listing", "day": "2024-01-01", "at": None, "record_id": ""},
            {"kind": "consent", "day": "2023-05-01", "at": "09:30:00", "record_id": "c-17"},
        ],
    )


def test_utc_text_is_fixed_width_utc() -> None:
    """Any aware time becomes UTC text with microseconds, so text order is time order."""
    brussels_winter = timezone(timedelta(hours=1))
    assert utc_text(datetime(2025, 3, 3, 11, 0, tzinfo=brussels_winter)) == (
        "2025-03-03T10:00:00.000000+00:00"
    )


def test_utc_text_refuses_naive_time() -> None:
    """A time without a timezone cannot be recorded."""
    with pytest.raises(AuditError, match="no timezone"):
        utc_text(datetime(2025, 3, 3, 11, 0))  # noqa: DTZ001 - the point of the test


def test_canonical_json_refuses_unknown_types() -> None:
    """A value that has no JSON form is an AuditError, not a silent str()."""
    with pytest.raises(AuditError, match="cannot be serialised"):
        canonical_json({"x": object()})


def _chain(count: int) -> list[StoredRecord]:
    records: list[StoredRecord] = []
    prev = GENESIS
    for seq in range(1, count + 1):
        content = (
            seq,
            f"id{seq}",
            "event",
            f"2025-03-03T10:00:0{seq}",
            "k",
            None,
            None,
            None,
            None,
            None,
            "{}",
            prev,
        )
        prev = record_hash(content)
        records.append(StoredRecord(*content, prev))
    return records


def _verify(records: list[StoredRecord], checkpoints: tuple[Checkpoint, ...] = ()) -> str | None:
    verifier = ChainVerifier(checkpoints)
    for record in records:
        if not verifier.feed(record):
            break
    last = records[-1] if records else None
    result = verifier.finish(Head(last.seq, last.hash) if last else Head(0, GENESIS))
    return None if result.ok else f"{result.bad_seq}: {result.problem}"


def test_intact_chain_verifies() -> None:
    """An untouched chain passes."""
    assert _verify(_chain(5)) is None


def test_changed_body_is_named() -> None:
    """A changed field is reported at that record."""
    records = _chain(5)
    records[2] = dataclasses.replace(records[2], body='{"x":1}')
    assert _verify(records) == "3: its content does not match its hash (changed)"


def test_missing_prefix_without_checkpoint_is_named() -> None:
    """A chain that starts after 1 with no checkpoint is reported at its first record."""
    assert _verify(_chain(5)[2:]) == (
        "3: records before sequence 3 are missing and no purge checkpoint accounts for them"
    )


def test_missing_prefix_with_matching_checkpoint_verifies() -> None:
    """A purged prefix is accepted when a checkpoint carries the last removed hash."""
    records = _chain(5)
    assert _verify(records[2:], (Checkpoint(2, records[1].hash),)) is None
