"""The hash chain: the record hash format, the verifier's verdicts and the anchor checks."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from gatekeeper.audit.chain import (
    GENESIS,
    AnchoredHead,
    AnchorVerdict,
    ChainVerifier,
    Checkpoint,
    Head,
    StoredRecord,
    VerifyResult,
    check_anchors,
    hash_of,
    record_hash,
)

AT = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
"""Shown as `2025-03-03 11:00:00+01:00`, Brussels wall-clock time, in anchor problems."""


def _chain(count: int) -> list[StoredRecord]:
    records: list[StoredRecord] = []
    prev = GENESIS
    for seq in range(1, count + 1):
        record = StoredRecord(
            seq, f"id{seq}", "event", "2025-03-03T10:00:00", "k", None, None, None, None, None,
            "{}", prev, "",
        )  # fmt: skip
        prev = hash_of(record)
        records.append(dataclasses.replace(record, hash=prev))
    return records


def _no_record(seq: int) -> str | None:
    del seq
    return None


def _verified(
    records: list[StoredRecord],
    head: Head | None = None,
    checkpoints: tuple[Checkpoint, ...] = (),
) -> VerifyResult:
    verifier = ChainVerifier(checkpoints)
    for record in records:
        verifier.feed(record)
    return verifier.finish(head)


def test_record_hash_format_is_pinned() -> None:
    """Compact separators, UTF-8 text unescaped: the hash of logs already written never moves."""
    content = (7, "id-é", "decision", "2025-03-03T10:00:00", "check", None, "+32470", "", 0)
    assert record_hash(content) == (
        "757752b8058d4c332e5d72e02a3963ff0e8514e33e9230d61d96ef21ec2288e6"
    )


def test_stored_record_hash_covers_every_column_in_order() -> None:
    """A record's hash is taken over seq .. prev_hash in column order, each column distinct."""
    record = StoredRecord(
        3, "i", "t", "a", "k", "c", "e", "v", "r", "u", "b", "p", "ignored-by-the-hash"
    )
    assert hash_of(record) == record_hash(
        (3, "i", "t", "a", "k", "c", "e", "v", "r", "u", "b", "p")
    )


def test_intact_chain_reports_its_extent() -> None:
    """A verified chain gives its record count, first and last seq, and last hash."""
    records = _chain(3)
    assert _verified(records, Head(3, records[-1].hash)) == VerifyResult(
        ok=True, records=3, first_seq=1, last_seq=3, last_hash=records[-1].hash
    )


def test_chain_without_a_head_row_verifies() -> None:
    """With no head row to compare, an intact chain passes on its own links."""
    assert _verified(_chain(2)).ok


def test_empty_log_verifies_against_the_genesis_head() -> None:
    """No records and a head at (0, GENESIS): an empty, intact log."""
    assert _verified([], Head(0, GENESIS)) == VerifyResult(
        ok=True, records=0, first_seq=None, last_seq=None, last_hash=GENESIS
    )


def test_head_beyond_the_chain_means_records_were_removed_from_the_end() -> None:
    """A head naming a later record than the last one reports the first missing seq."""
    records = _chain(3)
    result = _verified(records[:2], Head(3, records[2].hash))
    assert (result.ok, result.bad_seq, result.bad_id, result.records, result.problem) == (
        False,
        3,
        None,
        2,
        "the log's head names record 3 but the chain ends at 2: records were removed from the end",
    )


def test_head_with_another_hash_at_the_last_seq_fails() -> None:
    """A head at the chain's last seq with a different hash is a mismatch at that record."""
    records = _chain(3)
    result = _verified(records, Head(3, records[1].hash))
    assert (result.ok, result.bad_seq, result.last_hash, result.problem) == (
        False,
        3,
        records[2].hash,
        "the log's head (3) does not match the chain's end",
    )


def test_head_before_the_chain_end_fails() -> None:
    """A head moved back (records appended behind it) is a mismatch, not a removal."""
    records = _chain(3)
    result = _verified(records, Head(2, records[1].hash))
    assert (result.bad_seq, result.problem) == (
        3,
        "the log's head (2) does not match the chain's end",
    )


def test_gap_inside_the_chain_names_the_missing_records() -> None:
    """Records removed in the middle are named by their range at the next record."""
    records = _chain(5)
    result = _verified([*records[:2], *records[4:]])
    assert (result.bad_seq, result.bad_id, result.records, result.last_seq, result.problem) == (
        5,
        "id5",
        2,
        2,
        "record(s) 3..4 are missing (removed) before this one",
    )


def test_record_linking_elsewhere_is_named() -> None:
    """A record whose prev_hash is not the previous record's hash breaks the link."""
    records = _chain(3)
    records[1] = dataclasses.replace(records[1], prev_hash=GENESIS)
    result = _verified(records)
    assert (result.bad_seq, result.problem) == (
        2,
        "does not link to the record before it (removed, reordered or inserted)",
    )


def test_verifier_keeps_the_first_failure() -> None:
    """Once broken, later records are refused and the first bad record stays the verdict."""
    records = _chain(4)
    records[1] = dataclasses.replace(records[1], body='{"x":1}')
    verifier = ChainVerifier(())
    fed = [verifier.feed(record) for record in records]
    result = verifier.finish(Head(4, records[3].hash))
    assert (fed, result.bad_seq, result.first_seq, result.last_hash) == (
        [True, False, False, False],
        2,
        1,
        records[0].hash,
    )


def test_first_record_after_a_checkpoint_must_link_to_its_hash() -> None:
    """After a purge the first record must link to the checkpoint's last removed hash."""
    records = _chain(4)
    result = _verified(records[2:], checkpoints=(Checkpoint(2, records[0].hash),))
    assert (result.bad_seq, result.first_seq, result.problem) == (
        3,
        3,
        "does not link to the record before it (removed, reordered or inserted)",
    )


def _stored(records: list[StoredRecord]) -> dict[int, str]:
    return {record.seq: record.hash for record in records}


def test_anchors_held_by_the_chain_name_the_newest() -> None:
    """Every anchor inside the chain that matches is counted; the newest is vouched for."""
    records = _chain(4)
    hashes = _stored(records)
    anchors = [AnchoredHead(3, hashes[3], AT), AnchoredHead(2, hashes[2], AT)]
    assert check_anchors(anchors, 1, 4, hashes.get) == AnchorVerdict(2, anchors[0])


def test_anchor_of_a_purged_record_is_passed_over() -> None:
    """An anchor before the first remaining record is not compared, nor counted."""
    hashes = _stored(_chain(4))
    verdict = check_anchors([AnchoredHead(1, "other", AT)], 2, 4, hashes.get)
    assert (verdict.checked, verdict.newest, verdict.failed) == (0, None, None)


def test_anchor_at_the_first_remaining_record_is_compared() -> None:
    """An anchor on the first record kept after a purge is still held to the chain."""
    hashes = _stored(_chain(4))
    anchor = AnchoredHead(2, hashes[2], AT)
    verdict = check_anchors([anchor], 2, 4, hashes.get)
    assert (verdict.checked, verdict.newest) == (1, anchor)


def test_anchor_with_another_hash_means_the_chain_was_rewritten() -> None:
    """An anchored hash the log does not hold fails, naming both hashes and the time."""
    hashes = _stored(_chain(2))
    anchor = AnchoredHead(2, "f" * 64, AT)
    verdict = check_anchors([anchor], 1, 2, hashes.get)
    assert (verdict.failed, verdict.problem) == (
        anchor,
        (
            f"record 2 was anchored at 2025-03-03 11:00:00+01:00 with sha256 {'f' * 64}, "
            f"the log holds {hashes[2]} there: the chain was rewritten"
        ),
    )


def test_anchor_on_a_missing_record_names_no_record() -> None:
    """An anchored seq inside the range the log cannot find reads `no record`."""
    verdict = check_anchors([AnchoredHead(2, "f" * 64, AT)], 1, 2, _no_record)
    assert verdict.problem.endswith("the log holds no record there: the chain was rewritten")


def test_newest_anchor_beyond_the_end_means_records_were_removed() -> None:
    """Of the anchors past the chain's end, the highest seq is named."""
    hashes = _stored(_chain(2))
    held = AnchoredHead(2, hashes[2], AT)
    beyond = [AnchoredHead(4, "a", AT), AnchoredHead(5, "b", AT), AnchoredHead(3, "c", AT)]
    verdict = check_anchors([held, *beyond], 1, 2, hashes.get)
    assert verdict == dataclasses.replace(
        verdict,
        checked=4,
        newest=held,
        failed=beyond[1],
        problem="record 5 was anchored at 2025-03-03 11:00:00+01:00 but the log ends at record "
        "2: records were removed from the end",
    )


def test_anchor_on_an_empty_log_means_records_were_removed() -> None:
    """With no record left at all, any anchor names records removed from the end (at 0)."""
    verdict = check_anchors([AnchoredHead(1, "a", AT)], None, None, _no_record)
    assert (verdict.checked, verdict.problem.split(" but ")[1]) == (
        1,
        "the log ends at record 0: records were removed from the end",
    )


def test_two_anchors_on_one_record_keep_the_later_listed() -> None:
    """Anchors of the same seq are equal in age; the last one listed is the newest."""
    hashes = _stored(_chain(2))
    first, second = AnchoredHead(2, hashes[2], AT), AnchoredHead(2, hashes[2], AT.replace(hour=11))
    assert check_anchors([first, second], 1, 2, hashes.get).newest == second


def test_rewritten_chain_verdict_keeps_what_was_vouched_for_before() -> None:
    """At a rewritten record, the anchors compared and the newest one held so far are kept."""
    hashes = _stored(_chain(3))
    held, rewritten = AnchoredHead(2, hashes[2], AT), AnchoredHead(3, "f" * 64, AT)
    verdict = check_anchors([held, rewritten], 1, 3, hashes.get)
    assert (verdict.checked, verdict.newest, verdict.failed) == (2, held, rewritten)


def test_anchors_after_a_purged_one_are_still_checked() -> None:
    """Passing over an anchor of a purged record does not end the check of the others."""
    hashes = _stored(_chain(4))
    kept = AnchoredHead(3, hashes[3], AT)
    verdict = check_anchors([AnchoredHead(1, "gone", AT), kept], 2, 4, hashes.get)
    assert (verdict.checked, verdict.newest) == (1, kept)
