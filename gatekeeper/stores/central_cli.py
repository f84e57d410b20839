"""`audit show|events|export|verify|nodes --central`: every node's records from the central copy.

Each node's chain is read into a temporary log file (stores/postgres/central.py) and the usual
readers run on it; the results are merged in time order with the node (and PBX, when the AGI
URL named one) beside each record. `verify --central` walks every node's chain on its own and
names, per node, its range, head, when the central copy last received a record, what the
central copy lacks at the start of the chain, and, for this node, whether its local log agrees
with what it shipped and how much is not shipped yet. `nodes --central` prints one line per
node with the DNCM list its shipped `list_sync` records show in force, and flags the nodes out
of step (stores/postgres/nodes.py).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from gatekeeper.audit import (
    CSV_COLUMNS,
    EVENT_COLUMNS,
    NON_DECISION_TYPES,
    DecisionRow,
    EventRow,
    ExportFormat,
    FileAnchor,
    csv_row,
    decision_json,
    event_json,
    iter_decisions,
    iter_events,
    local_text,
    log_path,
    reading,
    summary,
    verify_log,
)
from gatekeeper.audit.cli import SHOW_COLUMNS, filters_of, show_cells
from gatekeeper.common import AuditError, ConfigError, create_output, csv_cell, json_text, shown
from gatekeeper.config import ExitCode, PostgresSettings, Settings, load_settings_from
from gatekeeper.stores.postgres.central import CentralNode, central_logs
from gatekeeper.stores.postgres.nodes import NodeReading, NodesView, compare, read_nodes

SHA256_SHOWN = 12
NODES_COLUMNS = (
    "node",
    "pbx",
    "list date",
    "sha256",
    "rows",
    "imported (Brussels)",
    "last received (Brussels)",
    "silent",
    "flag",
)


def _central(settings: Settings) -> PostgresSettings:
    if settings.central_log is None:
        raise ConfigError(
            f"{settings.path}: central_log.postgresql is not set: --central reads the central"
            " decision log it names (docs/scaling.md)"
        )
    return settings.central_log


def show(args: argparse.Namespace) -> int:
    """Every node's matching decisions as one table, oldest first, with node and PBX."""
    if args.pseudonym is not None:
        raise ConfigError("--pseudonym reads this node's key: it cannot be used with --central")
    rows = _decisions(load_settings_from(args), args)
    if args.limit is not None:
        rows = rows[-args.limit :]
    columns = ("node", "pbx", *SHOW_COLUMNS)
    cells = [columns] + [
        tuple(map(shown, (node, str(row.get("pbx") or "-"), *show_cells(row))))
        for node, row in rows
    ]
    print(_table(cells, f"{len(rows)} decision(s)"))
    return ExitCode.OK


def events(args: argparse.Namespace) -> int:
    """Every node's other records, oldest first, with the node."""
    kinds = tuple(args.kind) if args.kind else None
    found: list[tuple[str, EventRow]] = []
    with central_logs(_central(load_settings_from(args))) as nodes:
        for node in nodes:
            with reading(node.log) as conn:
                found += [
                    (node.node, event)
                    for event in iter_events(
                        conn, kinds, args.since, args.until, types=NON_DECISION_TYPES
                    )
                ]
    found.sort(key=lambda pair: pair[1].at)
    if args.json:
        for name, event in found:
            print(json_text({"node": name, **event_json(event)}, sort_keys=True))
        return ExitCode.OK
    cells = [("node", *EVENT_COLUMNS)] + [
        tuple(map(shown, (name, local_text(e.at), e.id, e.kind, summary(e)))) for name, e in found
    ]
    print(_table(cells, f"{len(found)} record(s)"))
    return ExitCode.OK


def export(args: argparse.Namespace) -> int:
    """Every node's matching decisions as CSV or JSON lines, with node and PBX first."""
    settings = load_settings_from(args)
    rows = _decisions(settings, args)
    with _output(args.output, settings) as out:
        if ExportFormat(args.format) is ExportFormat.CSV:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(("node", "pbx", *CSV_COLUMNS))
            for node, row in rows:
                cells = [node, row.get("pbx") or "", *csv_row(row)]
                writer.writerow([csv_cell(value) for value in cells])
        else:
            for node, row in rows:
                out.write(json_text({"node": node, **decision_json(row)}, sort_keys=True) + "\n")
    if args.output is not None:
        print(f"{len(rows)} decision(s) written to {args.output}")
    return ExitCode.OK


def verify(args: argparse.Namespace) -> int:
    """Walk every node's central chain; 0 if all are intact, 1 naming each bad one."""
    settings = load_settings_from(args)
    failed = False
    with central_logs(_central(settings)) as nodes, tempfile.TemporaryDirectory() as empty:
        if not nodes:
            print("the central decision log holds no records")
        for node in nodes:
            result = verify_log(node.log, FileAnchor(Path(empty)))
            if not result.ok:
                failed = True
                where = f"record {result.bad_seq}" + (
                    f" (id {result.bad_id})" if result.bad_id else ""
                )
                print(shown(f"node {node.node}: TAMPERED: {where}: {result.problem}"))
            else:
                print(shown(_node_line(node)))
            if node.first_seq > 1:
                print(
                    shown(
                        f"node {node.node}: records 1..{node.first_seq - 1} are not in the central"
                        " copy (shipping began after them, or they were purged first)"
                    )
                )
            if node.node == settings.node:
                failed |= _against_local(node, log_path(settings.data_dir))
    return ExitCode.FAILURE if failed else ExitCode.OK


def nodes(args: argparse.Namespace) -> int:
    """One line per node with the list it shows in force; 1 when a node is flagged (or none)."""
    view = compare(read_nodes(_central(load_settings_from(args))), args.max_silence)
    if not view.readings:
        print("the central decision log holds no records: no node to compare")
        return ExitCode.FAILURE
    cells = [NODES_COLUMNS] + [
        tuple(map(shown, _nodes_cells(node, view))) for node in view.readings
    ]
    print(_table(cells, _nodes_summary(view)))
    for node in view.readings:
        for note in node.notes:
            print(shown(f"node {node.node}: {note}"))
    return ExitCode.FAILURE if view.flagged else ExitCode.OK


def _nodes_cells(reading: NodeReading, view: NodesView) -> tuple[str, ...]:
    live = reading.live
    listed: tuple[str, ...] = ("-", "-", "-", "-")
    if live is not None:
        listed = (
            live.list_date.isoformat(),
            live.sha256[:SHA256_SHOWN],
            "-" if live.rows is None else str(live.rows),
            "-" if live.imported_at is None else _minute(live.imported_at),
        )
    return (
        reading.node,
        ",".join(reading.pbxes) or "-",
        *listed,
        _minute(reading.last_received.isoformat()),
        f"{reading.silent_s:.0f} s",
        ",".join(view.flags[reading.node]) or "-",
    )


def _nodes_summary(view: NodesView) -> str:
    count = f"{len(view.readings)} node(s), {len(view.flagged)} flagged"
    if view.newest_date is None:
        return f"{count}; no node shows a list in force"
    if view.reference_sha256 is None:
        return f"{count}; newest list {view.newest_date}: the nodes on it disagree on its sha256"
    holding = sum(
        1
        for r in view.readings
        if r.live is not None
        and r.live.list_date == view.newest_date
        and r.live.sha256 == view.reference_sha256
    )
    return (
        f"{count}; newest list {view.newest_date}, sha256"
        f" {view.reference_sha256[:SHA256_SHOWN]} on {holding} node(s)"
    )


def _minute(utc_iso: str) -> str:
    """A UTC time as Brussels wall-clock text to the minute."""
    return local_text(utc_iso)[:16]


def _node_line(node: CentralNode) -> str:
    age = (datetime.now(UTC) - node.last_shipped).total_seconds()
    pbx = f", PBX {', '.join(node.pbxes)}" if node.pbxes else ""
    return (
        f"node {node.node}: OK: {node.records} records, sequence {node.first_seq}..{node.last_seq},"
        f" head sha256 {node.head_hash}; last received {local_text(node.last_shipped.isoformat())}"
        f" ({age:.0f} s ago){pbx}"
    )


def _against_local(node: CentralNode, local: Path) -> bool:
    """Print whether this node's local log holds the central head; True when it does not."""
    try:
        with reading(local) as conn:
            row = conn.execute("SELECT hash FROM chain WHERE seq = ?", (node.last_seq,)).fetchone()
            (head,) = conn.execute("SELECT coalesce(max(seq), 0) FROM chain").fetchone()
    except AuditError as err:
        print(shown(f"node {node.node}: local log not compared: {err}"))
        return False
    if row is None:
        print(f"node {node.node}: the local log no longer holds record {node.last_seq}")
        return False
    if str(row[0]) != node.head_hash:
        print(
            f"node {node.node}: TAMPERED: the local record {node.last_seq} differs from the"
            " one shipped to the central copy"
        )
        return True
    print(
        f"node {node.node}: the local log holds the central head (record {node.last_seq});"
        f" {int(head) - node.last_seq} local record(s) not shipped yet"
    )
    return False


def _decisions(settings: Settings, args: argparse.Namespace) -> list[tuple[str, DecisionRow]]:
    rows: list[tuple[str, DecisionRow]] = []
    filters = filters_of(args)
    with central_logs(_central(settings)) as nodes:
        for node in nodes:
            with reading(node.log) as conn:
                rows += [(node.node, row) for row in iter_decisions(conn, filters)]
    rows.sort(key=lambda pair: pair[1].at)
    return rows


def _table(cells: list[tuple[str, ...]], count: str) -> str:
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(count)
    return "\n".join(lines)


@contextmanager
def _output(path: Path | None, settings: Settings) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    try:
        target = create_output(path, settings.officers_group, settings.data_dir)
        with target.open("w", encoding="utf-8", newline="") as out:
            yield out
    except OSError as err:
        raise AuditError(f"{path}: cannot write: {err.strerror}") from err
