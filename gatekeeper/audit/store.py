"""Reading the decision log: filtered selections, decoded decisions, and verification.

Readers open the file read-only; in WAL mode they see a consistent snapshot while the service
keeps appending.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gatekeeper.audit.anchor import Anchor, FileAnchor, anchor_dir
from gatekeeper.audit.chain import (
    AnchorVerdict,
    ChainVerifier,
    Checkpoint,
    StoredRecord,
    VerifyResult,
    check_anchors,
)
from gatekeeper.audit.records import RecordType, utc_text
from gatekeeper.audit.schema import (
    SELECT_RECORDS,
    connect_reader,
    read_head,
    to_record,
)
from gatekeeper.common import AuditError

_FETCH = 1000
QUICK_TAIL = 10_000
"""At most this many of the newest records are walked by `quick_check`."""


@dataclass(frozen=True, slots=True)
class Filters:
    """Which decisions to select; every given filter must match."""

    e164: str | None = None
    dialled: str | None = None
    campaign: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    verdict: str | None = None
    reason: str | None = None

    def where(self) -> tuple[str, list[object]]:
        """The SQL condition and its parameters (column names are fixed, values bound)."""
        clauses = ["type = ?"]
        params: list[object] = [RecordType.DECISION.value]
        for column, value in (
            ("e164", self.e164),
            ("campaign", self.campaign),
            ("verdict", self.verdict),
            ("reason", self.reason),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.dialled is not None:
            clauses.append("json_extract(body, '$.dialled') = ?")
            params.append(self.dialled)
        if self.since is not None:
            clauses.append("at >= ?")
            params.append(utc_text(self.since))
        if self.until is not None:
            clauses.append("at < ?")
            params.append(utc_text(self.until))
        return " AND ".join(clauses), params


@dataclass(frozen=True, slots=True)
class DecisionRow:
    """A stored decision decoded for reading, with the outcome of its call if known."""

    seq: int
    id: str
    at: str
    body: dict[str, Any]
    hash: str
    outcome: dict[str, Any] | None = None

    def get(self, key: str) -> Any:  # noqa: ANN401 - JSON values are of any JSON type
        """One field of the decision's body."""
        return self.body.get(key)


@contextmanager
def reading(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection inside one read transaction (a consistent snapshot)."""
    conn = connect_reader(path)
    try:
        conn.execute("BEGIN")
        yield conn
    except sqlite3.Error as err:
        raise AuditError(f"{path}: cannot read the decision log: {err}") from err
    finally:
        conn.close()


def iter_records(
    conn: sqlite3.Connection, where: str = "1", params: list[object] | None = None
) -> Iterator[StoredRecord]:
    """Stored records in chain order."""
    cursor = conn.execute(f"{SELECT_RECORDS} WHERE {where} ORDER BY seq", params or [])
    while rows := cursor.fetchmany(_FETCH):
        for row in rows:
            yield to_record(row)


def iter_decisions(
    conn: sqlite3.Connection, filters: Filters, *, with_outcomes: bool = True
) -> Iterator[DecisionRow]:
    """The decisions that match, oldest first, each with its call's outcome when recorded."""
    where, params = filters.where()
    for record in iter_records(conn, where, params):
        outcome = (
            outcome_of(conn, record.id, record.uniqueid)
            if with_outcomes and record.uniqueid
            else None
        )
        yield DecisionRow(
            seq=record.seq,
            id=record.id,
            at=record.at,
            body=json.loads(record.body),
            hash=record.hash,
            outcome=outcome,
        )


def outcome_of(conn: sqlite3.Connection, decision_id: str, uniqueid: str) -> dict[str, Any] | None:
    """The latest outcome recorded for a decision (found through its call's uniqueid), if any."""
    rows = conn.execute(
        "SELECT body FROM chain WHERE uniqueid = ? AND type = 'outcome' ORDER BY seq DESC",
        (uniqueid,),
    )
    for (text,) in rows:
        body = json.loads(text)
        if body.get("decision_id") == decision_id:
            outcome: dict[str, Any] = body.get("outcome") or {}
            return outcome
    return None


@dataclass(frozen=True, slots=True)
class EventRow:
    """A stored event (list sync, config reload, bypass, scrub), checkpoint or call outcome."""

    seq: int
    id: str
    at: str
    type: str
    kind: str
    details: dict[str, Any]


EVENT_TYPES = (RecordType.EVENT.value, RecordType.CHECKPOINT.value)
NON_DECISION_TYPES = (*EVENT_TYPES, RecordType.OUTCOME.value)


def iter_events(
    conn: sqlite3.Connection,
    kinds: tuple[str, ...] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    types: tuple[str, ...] = EVENT_TYPES,
) -> Iterator[EventRow]:
    """Records of these types (events and checkpoints unless told) in chain order.

    Optionally only some kinds, within a period. An outcome's details are its whole body
    (`uniqueid`, `decision_id`, `outcome`).
    """
    clauses = [f"type IN ({', '.join('?' for _ in types)})"]
    params: list[object] = list(types)
    if kinds is not None:
        clauses.append(f"kind IN ({', '.join('?' for _ in kinds)})")
        params.extend(kinds)
    if since is not None:
        clauses.append("at >= ?")
        params.append(utc_text(since))
    if until is not None:
        clauses.append("at < ?")
        params.append(utc_text(until))
    for record in iter_records(conn, " AND ".join(clauses), params):
        body = json.loads(record.body)
        details = body.get("details", body) if record.type == RecordType.EVENT else body
        yield EventRow(record.seq, record.id, record.at, record.type, record.kind, details)


def verify_log(path: Path, anchor: Anchor | None = None) -> VerifyResult:
    """Walk the whole chain, then hold it to every anchor (default: the folder beside the log).

    Reports the first bad record, else the first anchor the chain does not reach or match.
    """
    anchor = anchor if anchor is not None else FileAnchor(anchor_dir(path))
    with reading(path) as conn:
        verifier = ChainVerifier(checkpoints_before(conn, 1))
        for record in iter_records(conn):
            if not verifier.feed(record):
                break
        result = verifier.finish(read_head(conn)[0])
        verdict = check_anchors(
            anchor.heads(), result.first_seq, result.last_seq, lambda seq: _hash_at(conn, seq)
        )
    return _with_anchors(result, verdict)


def quick_check(path: Path, anchor: Anchor | None = None) -> VerifyResult:
    """A bounded check for commands that only read: the newest anchor, and the tail after it.

    Holds the chain to the newest anchor (its record is there with its hash), then verifies the
    records after it (at most `QUICK_TAIL` of them, the newest) and the log's head. Records
    before that are not walked: `verify_log` does. Reads the anchors' last lines only.
    """
    anchor = anchor if anchor is not None else FileAnchor(anchor_dir(path))
    newest = anchor.latest()
    with reading(path) as conn:
        (first,) = conn.execute("SELECT MIN(seq) FROM chain").fetchone()
        (last,) = conn.execute("SELECT MAX(seq) FROM chain").fetchone()
        start = max(first or 1, (last or 0) - QUICK_TAIL + 1)
        if newest is not None and start <= newest.seq <= (last or 0):
            start = newest.seq
        verifier = ChainVerifier(checkpoints_before(conn, start))
        for record in iter_records(conn, "seq >= ?", [start]):
            if not verifier.feed(record):
                break
        result = verifier.finish(read_head(conn)[0])
        heads = [] if newest is None else [newest]
        verdict = check_anchors(heads, first, last, lambda seq: _hash_at(conn, seq))
    return _with_anchors(result, verdict)


def checkpoints_before(conn: sqlite3.Connection, start: int) -> list[Checkpoint]:
    """What the record at `start` may link to: the stored record before it, or a purge's."""
    checkpoints = [
        checkpoint
        for (body,) in conn.execute("SELECT body FROM chain WHERE type = 'checkpoint'")
        if (checkpoint := purge_checkpoint(body)) is not None
    ]
    before = _hash_at(conn, start - 1)
    if before is not None:
        checkpoints.append(Checkpoint(start - 1, before))
    return checkpoints


def purge_checkpoint(body: str) -> Checkpoint | None:
    """The seq and hash a purge's checkpoint record vouches for; None for a malformed body."""
    try:
        decoded = json.loads(body)
        return Checkpoint(int(decoded["purged_through_seq"]), str(decoded["purged_last_hash"]))
    except (ValueError, KeyError, TypeError):
        return None


def _hash_at(conn: sqlite3.Connection, seq: int) -> str | None:
    row = conn.execute("SELECT hash FROM chain WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else str(row[0])


def _with_anchors(result: VerifyResult, verdict: AnchorVerdict) -> VerifyResult:
    if not result.ok or verdict.failed is None:
        return dataclasses.replace(result, anchored=verdict.newest, anchors_checked=verdict.checked)
    return dataclasses.replace(
        result,
        ok=False,
        bad_seq=verdict.failed.seq,
        bad_id=None,
        problem=verdict.problem,
        anchored=verdict.newest,
        anchors_checked=verdict.checked,
    )
