"""Exporting decisions as CSV or JSON lines, with every field the record holds.

Every CSV cell goes through `csv_cell`: dialled strings, campaigns and channel ids came from
the network, and a spreadsheet must read them as text, never as formulas (docs/audit.md).
"""

from __future__ import annotations

import csv
import enum
import json
from collections.abc import Iterable
from typing import Any, TextIO

from gatekeeper.audit.period import local_text
from gatekeeper.audit.store import DecisionRow
from gatekeeper.common import csv_cell, json_text


class ExportFormat(enum.StrEnum):
    """The export formats."""

    CSV = "csv"
    JSONL = "jsonl"


CSV_COLUMNS = (
    "decision_id",
    "seq",
    "at_utc",
    "at_brussels",
    "source",
    "campaign",
    "purpose",
    "advertiser",
    "dialled",
    "number",
    "verdict",
    "reason",
    "rule",
    "list_date",
    "list_sha256",
    "list_rows",
    "snapshot_id",
    "evidence",
    "channel",
    "uniqueid",
    "linkedid",
    "host",
    "outcome",
    "record_hash",
)


def evidence_text(evidence: list[dict[str, Any]]) -> str:
    """The weighed acts as one readable cell: `kind day [time] #record`, separated by `; `."""
    parts = []
    for act in evidence:
        text = f"{act.get('kind')} {act.get('day')}"
        if act.get("at"):
            text += f" {act['at']}"
        if act.get("record_id"):
            text += f" #{act['record_id']}"
        parts.append(text)
    return "; ".join(parts)


def decision_json(row: DecisionRow) -> dict[str, Any]:
    """One decision as a JSON object: its place in the chain, its fields, its call's outcome."""
    return {
        "decision_id": row.id,
        "seq": row.seq,
        "at": row.at,
        **row.body,
        "number": row.get("e164"),
        "outcome": row.outcome,
        "record_hash": row.hash,
    }


def csv_row(row: DecisionRow) -> list[object]:
    """One decision's CSV cells, before `csv_cell` (in CSV_COLUMNS order)."""
    snapshot = row.get("snapshot") or {}
    return [
        row.id,
        row.seq,
        row.at,
        local_text(row.at),
        row.get("source"),
        row.get("campaign"),
        row.get("purpose") or "",
        row.get("advertiser") or "",
        row.get("dialled"),
        row.get("e164") or "",
        row.get("verdict"),
        row.get("reason"),
        row.get("rule"),
        snapshot.get("list_date", ""),
        snapshot.get("sha256", ""),
        snapshot.get("rows", ""),
        snapshot.get("snapshot_id", ""),
        evidence_text(row.get("evidence") or []),
        row.get("channel"),
        row.get("uniqueid"),
        row.get("linkedid"),
        row.get("host"),
        json.dumps(row.outcome, sort_keys=True) if row.outcome is not None else "",
        row.hash,
    ]


def write_export(rows: Iterable[DecisionRow], out: TextIO, fmt: ExportFormat) -> int:
    """Write the decisions to `out`; returns how many were written."""
    count = 0
    if fmt is ExportFormat.CSV:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow([csv_cell(value) for value in csv_row(row)])
            count += 1
        return count
    for row in rows:
        out.write(json_text(decision_json(row), sort_keys=True) + "\n")
        count += 1
    return count
