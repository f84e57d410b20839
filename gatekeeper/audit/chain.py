"""The hash chain: how a record's hash is computed, and how a sequence of records is verified.

Theory of operation: each stored record has a sequence number (1, 2, 3, ... with no gaps), an id,
and its content. Its hash is sha256 over the canonical JSON array of the sequence number, the id,
every stored column and the previous record's hash, so changing any field, removing, reordering
or inserting a record breaks either its own hash or the link of the next one. The first record
links to GENESIS. A purge removes a prefix of the chain and appends a checkpoint record carrying
the last removed sequence number and hash, so the first remaining record links to that checkpoint.
A `head` row, updated in the same transaction as every append, names the last sequence number and
hash, so removing records at the end is seen, unless the head is moved back too. Against that,
the service writes the head outside the log from time to time (anchors, audit/anchor.py):
`check_anchors` holds the chain to every anchored head, so a chain that ends before an anchored
sequence number, or holds another hash there, fails. Pure: no IO.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from gatekeeper.audit.period import local_text

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One row of the chain exactly as stored."""

    seq: int
    id: str
    type: str
    at: str
    kind: str
    campaign: str | None
    e164: str | None
    verdict: str | None
    reason: str | None
    uniqueid: str | None
    body: str
    prev_hash: str
    hash: str

    def content(self) -> tuple[object, ...]:
        """Every field the hash covers, in column order."""
        return (
            self.seq,
            self.id,
            self.type,
            self.at,
            self.kind,
            self.campaign,
            self.e164,
            self.verdict,
            self.reason,
            self.uniqueid,
            self.body,
            self.prev_hash,
        )


def record_hash(content: Sequence[object]) -> str:
    """sha256 (hex) over the canonical JSON array of a record's stored fields, in column order.

    `content` is every column from `seq` to `prev_hash` (all but the hash itself).
    """
    text = json.dumps(list(content), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_of(record: StoredRecord) -> str:
    """Recompute a stored record's hash from its fields."""
    return record_hash(record.content())


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """What a purge checkpoint vouches for: the last removed record."""

    purged_through_seq: int
    purged_last_hash: str


@dataclass(frozen=True, slots=True)
class Head:
    """The last record of the chain, as the log itself remembers it."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class AnchoredHead:
    """The chain's last record as written outside the log at a moment: its seq and hash."""

    seq: int
    hash: str
    at: datetime


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of a verification: ok, or the first bad record and what is wrong with it.

    `anchored` is the newest anchor the chain was held to (None when there was none), and
    `anchors_checked` how many anchors were compared with the records they name.
    """

    ok: bool
    records: int
    first_seq: int | None
    last_seq: int | None
    last_hash: str
    bad_seq: int | None = None
    bad_id: str | None = None
    problem: str = ""
    anchored: AnchoredHead | None = None
    anchors_checked: int = 0


@dataclass(frozen=True, slots=True)
class AnchorVerdict:
    """The chain held to its anchors: the newest anchor vouched for, or the first that fails."""

    checked: int
    newest: AnchoredHead | None
    failed: AnchoredHead | None = None
    problem: str = ""


def check_anchors(
    anchors: Iterable[AnchoredHead],
    first_seq: int | None,
    last_seq: int | None,
    hash_at: Callable[[int], str | None],
) -> AnchorVerdict:
    """Hold the chain (records `first_seq`..`last_seq`) to every anchor.

    An anchor before `first_seq` names a record a purge removed and is passed over. The first
    anchor whose record holds another hash fails (the chain was rewritten up to there); else the
    newest anchor beyond `last_seq` fails (records were removed from the end). `hash_at(seq)` is
    the stored hash of a record.
    """
    checked = 0
    newest: AnchoredHead | None = None
    beyond: AnchoredHead | None = None
    end = last_seq or 0
    for anchor in anchors:
        if first_seq is not None and anchor.seq < first_seq:
            continue
        checked += 1
        if anchor.seq > end:
            if beyond is None or anchor.seq > beyond.seq:
                beyond = anchor
            continue
        stored = hash_at(anchor.seq)
        if stored != anchor.hash:
            return AnchorVerdict(
                checked,
                newest,
                anchor,
                f"record {anchor.seq} was anchored at {_iso(anchor)} with sha256 {anchor.hash}, "
                f"the log holds {stored or 'no record'} there: the chain was rewritten",
            )
        if newest is None or anchor.seq >= newest.seq:
            newest = anchor
    if beyond is not None:
        return AnchorVerdict(
            checked,
            newest,
            beyond,
            f"record {beyond.seq} was anchored at {_iso(beyond)} but the log ends at record "
            f"{end}: records were removed from the end",
        )
    return AnchorVerdict(checked, newest)


def _iso(anchor: AnchoredHead) -> str:
    return local_text(anchor.at.isoformat())


class ChainVerifier:
    """Feed records in sequence order; stops at the first bad one."""

    def __init__(self, checkpoints: Iterable[Checkpoint]) -> None:
        self._anchors = {c.purged_through_seq: c.purged_last_hash for c in checkpoints}
        self._expected_prev: str | None = None
        self._last_seq: int | None = None
        self._first_seq: int | None = None
        self._count = 0
        self.failure: VerifyResult | None = None

    def feed(self, record: StoredRecord) -> bool:
        """Check one record; False once the chain is broken (see `failure`)."""
        if self.failure is not None:
            return False
        problem = self._problem(record)
        if problem:
            self.failure = self._fail(record.seq, record.id, problem)
            return False
        self._expected_prev = record.hash
        self._last_seq = record.seq
        self._count += 1
        return True

    def _problem(self, record: StoredRecord) -> str:
        if self._last_seq is None:
            self._first_seq = record.seq
            if record.seq == 1:
                expected = GENESIS
            elif record.seq - 1 in self._anchors:
                expected = self._anchors[record.seq - 1]
            else:
                return (
                    f"records before sequence {record.seq} are missing "
                    "and no purge checkpoint accounts for them"
                )
        else:
            if record.seq != self._last_seq + 1:
                return (
                    f"record(s) {self._last_seq + 1}..{record.seq - 1} are missing "
                    f"(removed) before this one"
                )
            expected = self._expected_prev or GENESIS
        if record.prev_hash != expected:
            return "does not link to the record before it (removed, reordered or inserted)"
        if hash_of(record) != record.hash:
            return "its content does not match its hash (changed)"
        return ""

    def _fail(self, seq: int | None, record_id: str | None, problem: str) -> VerifyResult:
        return VerifyResult(
            ok=False,
            records=self._count,
            first_seq=self._first_seq,
            last_seq=self._last_seq,
            last_hash=self._expected_prev or GENESIS,
            bad_seq=seq,
            bad_id=record_id,
            problem=problem,
        )

    def finish(self, head: Head | None) -> VerifyResult:
        """The verdict once every record was fed, checked against the log's head."""
        if self.failure is not None:
            return self.failure
        last_seq = self._last_seq or 0
        last_hash = self._expected_prev or GENESIS
        if head is not None and (head.seq, head.hash) != (last_seq, last_hash):
            if head.seq > last_seq:
                problem = (
                    f"the log's head names record {head.seq} but the chain ends at "
                    f"{last_seq}: records were removed from the end"
                )
                return self._fail(last_seq + 1, None, problem)
            return self._fail(
                last_seq, None, f"the log's head ({head.seq}) does not match the chain's end"
            )
        return VerifyResult(
            ok=True,
            records=self._count,
            first_seq=self._first_seq,
            last_seq=self._last_seq,
            last_hash=last_hash,
        )
