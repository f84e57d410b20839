"""`gatekeeper audit show|events|export|verify|report|purge`: reading and keeping the record."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from gatekeeper.audit.bypass_view import bypass_line, bypasses
from gatekeeper.audit.event_view import event_json, format_events, outcome_text
from gatekeeper.audit.export import ExportFormat, write_export
from gatekeeper.audit.period import local_text, parse_moment
from gatekeeper.audit.purge import purge_before
from gatekeeper.audit.report_data import gather
from gatekeeper.audit.report_html import render
from gatekeeper.audit.schema import log_path
from gatekeeper.audit.store import (
    NON_DECISION_TYPES,
    DecisionRow,
    Filters,
    iter_decisions,
    iter_events,
    reading,
    verify_log,
)
from gatekeeper.cli_support import ExitCode, load_settings_from
from gatekeeper.config import DEFAULT_MAX_AGE_DAYS
from gatekeeper.errors import AuditError
from gatekeeper.numbers import InvalidNumber, normalise
from gatekeeper.policy import Reason, Verdict

PRIVATE_FILE_MODE = 0o600
MAX_SHOWN_DIALLED = 40
SHOW_COLUMNS = (
    "time (Brussels)",
    "decision id",
    "campaign",
    "number",
    "verdict",
    "reason",
    "list",
    "outcome",
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `audit` and its sub-commands."""
    audit = subparsers.add_parser(
        "audit", help="read, verify, report on and purge the decision log"
    )
    commands = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)

    show = commands.add_parser("show", help="list decisions as a table")
    _add_filters(show)
    show.add_argument(
        "--limit", type=_positive, default=None, help="show at most this many (newest)"
    )
    show.set_defaults(handler=show_command)

    events = commands.add_parser(
        "events",
        help="list the other records: service starts, reloads, list syncs, scrubs, outcomes...",
    )
    _add_log(events)
    events.add_argument(
        "--kind",
        action="append",
        metavar="KIND",
        help="only this kind (list_sync, config_reload, scrub, outcome, purge...); repeatable",
    )
    events.add_argument("--since", type=_since, help="ISO date or date-time (Brussels)")
    events.add_argument("--until", type=_until, help="ISO date (inclusive) or date-time")
    events.add_argument("--json", action="store_true", help="one JSON object per line")
    events.set_defaults(handler=events_command)

    export = commands.add_parser("export", help="export decisions as CSV or JSON lines")
    _add_filters(export)
    export.add_argument("--format", choices=[f.value for f in ExportFormat], default="csv")
    export.add_argument("--output", type=Path, help="write here instead of stdout")
    export.set_defaults(handler=export_command)

    verify = commands.add_parser("verify", help="check the hash chain; exit 1 names the first bad")
    _add_log(verify)
    verify.set_defaults(handler=verify_command)

    report = commands.add_parser("report", help="one self-contained HTML report for a period")
    _add_log(report)
    report.add_argument("--since", type=_since, required=True, help="ISO date or date-time")
    report.add_argument("--until", type=_until, required=True, help="ISO date (inclusive)")
    report.add_argument("--number", help="also show the evidence for this number")
    report.add_argument("--output", type=Path, required=True, help="the HTML file to write")
    report.set_defaults(handler=report_command)

    purge = commands.add_parser("purge", help="remove records older than audit.retention_days")
    _add_log(purge)
    purge.add_argument("--dry-run", action="store_true", help="only count what would go")
    purge.set_defaults(handler=purge_command)


def _add_log(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log", type=Path, help="the log file (default: data_dir/audit/decisions.sqlite)"
    )


def _since(text: str) -> datetime:
    try:
        return parse_moment(text)
    except AuditError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _until(text: str) -> datetime:
    try:
        return parse_moment(text, end_of_day=True)
    except AuditError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _add_filters(parser: argparse.ArgumentParser) -> None:
    _add_log(parser)
    parser.add_argument("--number", help="a number in any form (0470 12 34 56, +32..., 0032...)")
    parser.add_argument("--campaign")
    parser.add_argument("--since", type=_since, help="ISO date or date-time (Brussels)")
    parser.add_argument("--until", type=_until, help="ISO date (inclusive) or date-time")
    parser.add_argument("--verdict", choices=[v.value for v in Verdict])
    parser.add_argument("--reason", choices=[r.value for r in Reason])


def _log_of(args: argparse.Namespace) -> Path:
    explicit: Path | None = args.log
    if explicit is not None:
        return explicit
    return log_path(load_settings_from(args).data_dir)


def filters_of(args: argparse.Namespace) -> Filters:
    """The filters given on the command line; a number is normalised like at decision time."""
    e164: str | None = None
    dialled: str | None = None
    if args.number is not None:
        number = normalise(args.number)
        if isinstance(number, InvalidNumber):
            print(
                f"gatekeeper: {args.number!r} is not a valid number ({number.detail}); "
                "matching the dialled string exactly",
                file=sys.stderr,
            )
            dialled = args.number
        else:
            e164 = number.e164
    return Filters(
        e164=e164,
        dialled=dialled,
        campaign=args.campaign,
        since=args.since,
        until=args.until,
        verdict=args.verdict,
        reason=args.reason,
    )


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    try:
        with _private(path).open("w", encoding="utf-8", newline="") as out:
            yield out
    except OSError as err:
        raise AuditError(f"{path}: cannot write: {err.strerror}") from err


def _private(path: Path) -> Path:
    """Create `path` owner-only before writing: exports and reports hold subscribers' numbers."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))
    path.chmod(PRIVATE_FILE_MODE)
    return path


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from err
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


def _shown_dialled(dialled: str) -> str:
    """A dialled string that is not a number, quoted so no control character reaches the screen."""
    shown = repr(dialled)
    return shown if len(shown) <= MAX_SHOWN_DIALLED else shown[: MAX_SHOWN_DIALLED - 1] + "…"


def show_command(args: argparse.Namespace) -> int:
    """Print matching decisions as a table."""
    filters = filters_of(args)
    with reading(_log_of(args)) as conn:
        rows = list(iter_decisions(conn, filters))
        found = (
            list(bypasses(conn, e164=filters.e164, since=filters.since, until=filters.until))
            if filters.e164 is not None
            else []
        )
    if args.limit is not None:
        rows = rows[-args.limit :]
    print(format_table(rows))
    if found:
        print(f"\n{len(found)} bypass(es) of the check involving {filters.e164}:")
        for event in found:
            print(bypass_line(event))
    return ExitCode.OK


def _show_cells(row: DecisionRow) -> tuple[str, ...]:
    snapshot = row.get("snapshot") or {}
    return (
        local_text(row.at),
        row.id,
        str(row.get("campaign")),
        str(row.get("e164") or _shown_dialled(str(row.get("dialled")))),
        str(row.get("verdict")).upper(),
        str(row.get("reason")),
        str(snapshot.get("list_date", "-")),
        outcome_text(row.outcome),
    )


def format_table(rows: list[DecisionRow]) -> str:
    """Decisions as an aligned text table with a count line."""
    cells = [SHOW_COLUMNS, *(_show_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(SHOW_COLUMNS))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"{len(rows)} decision(s)")
    return "\n".join(lines)


def events_command(args: argparse.Namespace) -> int:
    """Print the chain's non-decision records, oldest first."""
    kinds = tuple(args.kind) if args.kind else None
    with reading(_log_of(args)) as conn:
        events = list(iter_events(conn, kinds, args.since, args.until, types=NON_DECISION_TYPES))
    if args.json:
        for event in events:
            print(json.dumps(event_json(event), sort_keys=True, ensure_ascii=False))
    else:
        print(format_events(events))
    return ExitCode.OK


def export_command(args: argparse.Namespace) -> int:
    """Write matching decisions as CSV or JSON lines."""
    with reading(_log_of(args)) as conn, _output(args.output) as out:
        count = write_export(iter_decisions(conn, filters_of(args)), out, ExportFormat(args.format))
    if args.output is not None:
        print(f"{count} decision(s) written to {args.output}")
    return ExitCode.OK


def verify_command(args: argparse.Namespace) -> int:
    """Walk the chain; 0 if intact, 1 naming the first bad record."""
    result = verify_log(_log_of(args))
    if result.ok:
        print(
            f"OK: {result.records} records, sequence {result.first_seq or 0}.."
            f"{result.last_seq or 0}, head sha256 {result.last_hash}"
        )
        return ExitCode.OK
    record = f"record {result.bad_seq}" + (f" (id {result.bad_id})" if result.bad_id else "")
    print(f"TAMPERED: {record}: {result.problem}")
    return ExitCode.FAILURE


def report_command(args: argparse.Namespace) -> int:
    """Write the HTML report for a period."""
    path = _log_of(args)
    max_age = DEFAULT_MAX_AGE_DAYS if args.log is not None else _max_age(args)
    number: str | None = None
    if args.number is not None:
        normalised = normalise(args.number)
        if isinstance(normalised, InvalidNumber):
            print(f"gatekeeper: {args.number!r} is not a valid number", file=sys.stderr)
            return ExitCode.USAGE
        number = normalised.e164
    if args.until <= args.since:
        print("gatekeeper: --until must be after --since", file=sys.stderr)
        return ExitCode.USAGE
    try:
        data = gather(path, args.since, args.until, number=number)
    except ValueError as err:
        print(f"gatekeeper: {err}", file=sys.stderr)
        return ExitCode.USAGE
    page = render(data, max_age_days=max_age)
    try:
        _private(args.output).write_text(page, encoding="utf-8")
    except OSError as err:
        raise AuditError(f"{args.output}: cannot write: {err.strerror}") from err
    print(f"{args.output}: {data.total} decision(s) from {len(data.days)} day(s)")
    return ExitCode.OK


def _max_age(args: argparse.Namespace) -> int:
    return load_settings_from(args).dncm.max_age_days


def purge_command(args: argparse.Namespace) -> int:
    """Remove records older than the retention period, leaving a checkpoint in the chain."""
    settings = load_settings_from(args)
    path = args.log if args.log is not None else log_path(settings.data_dir)
    cutoff = datetime.now(UTC) - timedelta(days=settings.audit.retention_days)
    result = purge_before(path, cutoff, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    counts = ", ".join(f"{kind}: {n}" for kind, n in sorted(result.by_type.items())) or "nothing"
    print(
        f"{verb} {result.removed} record(s) older than {local_text(cutoff.isoformat())} "
        f"(retention {settings.audit.retention_days} days): {counts}"
    )
    if not args.dry_run and result.checkpoints:
        print(f"checkpoint record(s): {', '.join(result.checkpoints)}")
    return ExitCode.OK
