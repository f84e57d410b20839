"""`gatekeeper audit show|events|export|verify|report|purge`: reading and keeping the record."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from gatekeeper.audit import pseudonym_cli
from gatekeeper.audit.anchor import FileAnchor, anchor_dir
from gatekeeper.audit.bypass_view import bypass_line, bypasses
from gatekeeper.audit.chain import VerifyResult
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
    quick_check,
    reading,
    verify_log,
)
from gatekeeper.common import AuditError, create_output, json_text, shown
from gatekeeper.config import (
    ExitCode,
    data_dir_from,
    load_settings_from,
    positive_number,
)
from gatekeeper.dncm import DEFAULT_MAX_AGE_DAYS
from gatekeeper.rules import InvalidNumber, Reason, Verdict, normalise

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
        "--limit", type=positive_number, default=None, help="show at most this many (newest)"
    )
    show.add_argument("--pseudonym", help="only the number the journal shows as this pseudonym")
    _add_central(show)
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
    _add_central(events)
    events.set_defaults(handler=events_command)

    export = commands.add_parser("export", help="export decisions as CSV or JSON lines")
    _add_filters(export)
    export.add_argument("--format", choices=[f.value for f in ExportFormat], default="csv")
    export.add_argument("--output", type=Path, help="write here instead of stdout")
    _add_central(export)
    export.set_defaults(handler=export_command)

    verify = commands.add_parser("verify", help="check the hash chain; exit 1 names the first bad")
    _add_log(verify)
    _add_anchors(verify)
    _add_central(verify)
    verify.set_defaults(handler=verify_command)

    nodes = commands.add_parser(
        "nodes",
        help="every node's DNCM list from the central copy; exit 1 when one is out of step",
    )
    nodes.add_argument(
        "--central",
        action="store_true",
        required=True,
        help="read the central copy (central_log.postgresql); required",
    )
    nodes.add_argument(
        "--max-silence",
        type=positive_number,
        metavar="SECONDS",
        help="also flag a node the central copy has received nothing from for this long",
    )
    nodes.set_defaults(handler=nodes_command)

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

    pseudonym_cli.register(commands, _add_log, _log_of)


def _add_log(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log", type=Path, help="the log file (default: data_dir/audit/decisions.sqlite)"
    )


def _add_central(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--central",
        action="store_true",
        help="every node's records from the central copy (central_log.postgresql)",
    )


def _central(command: str, args: argparse.Namespace) -> int:
    """Run `command` on the central copy (docs/scaling.md)."""
    from gatekeeper.stores import central_cli  # noqa: PLC0415 - it builds on this module

    handlers = {
        "show": central_cli.show,
        "events": central_cli.events,
        "export": central_cli.export,
        "verify": central_cli.verify,
        "nodes": central_cli.nodes,
    }
    return handlers[command](args)


def _add_anchors(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--anchors",
        type=Path,
        metavar="DIR",
        help="the folder of head anchors (default: the 'anchors' folder beside the log)",
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
    _add_anchors(parser)
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
    return log_path(data_dir_from(args))


def _anchor_of(args: argparse.Namespace, log_file: Path) -> FileAnchor:
    folder: Path | None = getattr(args, "anchors", None)
    return FileAnchor(folder if folder is not None else anchor_dir(log_file))


def warn_if_unverified(log_file: Path, anchor: FileAnchor) -> None:
    """Tell stderr when the bounded check (newest anchor, newest records, head) fails."""
    result = quick_check(log_file, anchor)
    if not result.ok:
        print(
            f"gatekeeper: WARNING: the decision log does not verify: {_failure_text(result)}; "
            "run `gatekeeper audit verify`",
            file=sys.stderr,
        )


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
def _output(path: Path | None, args: argparse.Namespace) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    try:
        with _for_officers(path, args).open("w", encoding="utf-8", newline="") as out:
            yield out
    except OSError as err:
        raise AuditError(f"{path}: cannot write: {err.strerror}") from err


def _for_officers(path: Path, args: argparse.Namespace) -> Path:
    """Create `path` before writing: 0600, or 0640 to `officers_group` (docs/operations.md).

    With `--log` no configuration is read, so the file stays owner-only.
    """
    if args.log is not None:
        return create_output(path, None, None)
    settings = load_settings_from(args)
    return create_output(path, settings.officers_group, settings.data_dir)


def _shown_dialled(dialled: str) -> str:
    """A dialled string that is not a number, quoted so no control character reaches the screen."""
    shown = repr(dialled)
    return shown if len(shown) <= MAX_SHOWN_DIALLED else shown[: MAX_SHOWN_DIALLED - 1] + "…"


def show_command(args: argparse.Namespace) -> int:
    """Print matching decisions as a table (a warning on stderr if the log does not verify)."""
    if getattr(args, "central", False):
        return _central("show", args)
    filters = filters_of(args)
    log_file = _log_of(args)
    warn_if_unverified(log_file, _anchor_of(args, log_file))
    with reading(log_file) as conn:
        rows = list(iter_decisions(conn, filters))
        found = (
            list(bypasses(conn, e164=filters.e164, since=filters.since, until=filters.until))
            if filters.e164 is not None
            else []
        )
    if args.pseudonym is not None:
        rows = pseudonym_cli.with_pseudonym(rows, args.pseudonym, log_file)
    if args.limit is not None:
        rows = rows[-args.limit :]
    print(format_table(rows))
    if found:
        print(f"\n{len(found)} bypass(es) of the check involving {filters.e164}:")
        for event in found:
            print(bypass_line(event))
    return ExitCode.OK


def show_cells(row: DecisionRow) -> tuple[str, ...]:
    """One decision's cells in SHOW_COLUMNS order (before `shown`)."""
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
    cells = [SHOW_COLUMNS, *(tuple(map(shown, show_cells(row))) for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(SHOW_COLUMNS))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"{len(rows)} decision(s)")
    return "\n".join(lines)


def events_command(args: argparse.Namespace) -> int:
    """Print the chain's non-decision records, oldest first."""
    if getattr(args, "central", False):
        return _central("events", args)
    kinds = tuple(args.kind) if args.kind else None
    with reading(_log_of(args)) as conn:
        events = list(iter_events(conn, kinds, args.since, args.until, types=NON_DECISION_TYPES))
    if args.json:
        for event in events:
            print(json_text(event_json(event), sort_keys=True))
    else:
        print(format_events(events))
    return ExitCode.OK


def export_command(args: argparse.Namespace) -> int:
    """Write matching decisions as CSV or JSON lines (a warning on stderr if it does not verify)."""
    if getattr(args, "central", False):
        return _central("export", args)
    log_file = _log_of(args)
    warn_if_unverified(log_file, _anchor_of(args, log_file))
    with reading(log_file) as conn, _output(args.output, args) as out:
        count = write_export(iter_decisions(conn, filters_of(args)), out, ExportFormat(args.format))
    if args.output is not None:
        print(f"{count} decision(s) written to {args.output}")
    return ExitCode.OK


def nodes_command(args: argparse.Namespace) -> int:
    """Every node's list in force, from the central copy (docs/scaling.md)."""
    return _central("nodes", args)


def verify_command(args: argparse.Namespace) -> int:
    """Walk the chain and hold it to its anchors; 0 if intact, 1 naming the first bad record."""
    if getattr(args, "central", False):
        return _central("verify", args)
    log_file = _log_of(args)
    anchor = _anchor_of(args, log_file)
    result = verify_log(log_file, anchor)
    for problem in anchor.problems:
        print(f"warning: {shown(problem)}")
    if not result.ok:
        print(f"TAMPERED: {_failure_text(result)}")
        return ExitCode.FAILURE
    print(
        f"OK: {result.records} records, sequence {result.first_seq or 0}.."
        f"{result.last_seq or 0}, head sha256 {result.last_hash}"
    )
    print(vouching_text(result, anchor.where))
    return ExitCode.OK


def _failure_text(result: VerifyResult) -> str:
    record = f"record {result.bad_seq}" + (f" (id {result.bad_id})" if result.bad_id else "")
    return shown(f"{record}: {result.problem}")


def vouching_text(result: VerifyResult, where: str) -> str:
    """How far back a verified chain is vouched for against its newest records being removed."""
    anchored = result.anchored
    if anchored is None:
        lines = [
            (
                f"no head anchor in {where}: the end of the log cannot be vouched for against "
                "truncation (records removed from the end with the head moved back)"
            )
        ]
    else:
        lines = [
            (
                f"anchors: {result.anchors_checked} checked in {where}: the head (seq "
                f"{result.last_seq or 0}) is at or beyond the last anchor, and every anchored "
                "record holds its anchored hash"
            ),
            (
                f"records after the last anchor at {local_text(anchored.at.isoformat())} "
                f"(seq {anchored.seq}) cannot be vouched for against truncation"
            ),
        ]
    return "\n".join(shown(line) for line in lines)


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
        _for_officers(args.output, args).write_text(page, encoding="utf-8")
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
        f"(retention {settings.audit.retention_days} days): {shown(counts)}"
    )
    if not args.dry_run and result.checkpoints:
        print(f"checkpoint record(s): {shown(', '.join(result.checkpoints))}")
    if not args.dry_run:
        for pruned in FileAnchor(anchor_dir(path)).prune_before(cutoff):
            print(f"removed head anchors of a month before the period: {pruned}")
    return ExitCode.OK
