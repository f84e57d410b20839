"""Appending to the chain inside a caller's transaction: sequence numbers, ids, hashes, head."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass

from gatekeeper.audit.chain import record_hash
from gatekeeper.audit.ids import record_id
from gatekeeper.audit.records import RecordType, canonical_json
from gatekeeper.audit.schema import read_head

_INSERT = (
    "INSERT INTO chain (seq, id, type, at, kind, campaign, e164, verdict, reason, uniqueid,"
    " body, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_MOVE_HEAD = "UPDATE head SET seq = ?, hash = ?, millis = ? WHERE one = 1"
_DECISION_OF_UNIQUEID = (
    "SELECT id FROM chain WHERE type = 'decision' AND uniqueid = ? ORDER BY seq DESC LIMIT 1"
)


@dataclass(frozen=True, slots=True)
class NewRecord:
    """A record waiting for its place in the chain (body already canonical JSON)."""

    type: RecordType
    at: str
    kind: str
    body: str
    campaign: str | None = None
    e164: str | None = None
    verdict: str | None = None
    reason: str | None = None
    uniqueid: str | None = None


def append(conn: sqlite3.Connection, records: list[NewRecord]) -> list[str]:
    """Chain and insert `records` in order; the caller holds a write transaction."""
    head, last_millis = read_head(conn)
    seq, prev_hash = head.seq, head.hash
    millis = max(last_millis, time.time_ns() // 1_000_000)
    ids: list[str] = []
    rows: list[tuple[object, ...]] = []
    for record in records:
        seq += 1
        rid = record_id(millis, seq)
        body = record.body
        if record.type is RecordType.OUTCOME and record.uniqueid is not None:
            body = _link_outcome(conn, record.uniqueid, body, rows)
        content = (
            seq,
            rid,
            record.type.value,
            record.at,
            record.kind,
            record.campaign,
            record.e164,
            record.verdict,
            record.reason,
            record.uniqueid,
            body,
            prev_hash,
        )
        prev_hash = record_hash(content)
        rows.append((*content, prev_hash))
        ids.append(rid)
    conn.executemany(_INSERT, rows)
    conn.execute(_MOVE_HEAD, (seq, prev_hash, millis))
    return ids


def _link_outcome(
    conn: sqlite3.Connection, uniqueid: str, outcome: str, batch_rows: list[tuple[object, ...]]
) -> str:
    """The outcome's body with the id of its decision.

    The watchdog names the decision when it knows it (a channel checked twice, once per trunk,
    has one outcome per decision); otherwise it is the latest decision taken for the same call.
    """
    fields = json.loads(outcome)
    named = fields.pop("decision_id", None) if isinstance(fields, dict) else None
    if isinstance(named, str) and named:
        return canonical_json({"decision_id": named, "outcome": fields, "uniqueid": uniqueid})
    decision_id: str | None = None
    for row in reversed(batch_rows):
        if row[2] == RecordType.DECISION.value and row[9] == uniqueid:
            decision_id = str(row[1])
            break
    if decision_id is None:
        found = conn.execute(_DECISION_OF_UNIQUEID, (uniqueid,)).fetchone()
        decision_id = str(found[0]) if found is not None else None
    return canonical_json({"decision_id": decision_id, "outcome": fields, "uniqueid": uniqueid})
