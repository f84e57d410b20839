"""`gatekeeper sync`: fetch and import the DNCM list now; prints a one-line summary."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from gatekeeper.audit.events import record_event_now
from gatekeeper.cli_support import ExitCode, load_settings_from
from gatekeeper.config import Settings
from gatekeeper.dncm.sync import sync_now
from gatekeeper.errors import ConfigError, GatekeeperError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `sync`."""
    parser = subparsers.add_parser("sync", help="fetch and import the DNCM list file now")
    parser.add_argument("--file", type=Path, metavar="PATH", help="import this file instead")
    parser.add_argument(
        "--list-date",
        type=_iso_date,
        metavar="DATE",
        help="the date the list describes (default: the file's modification date)",
    )
    parser.add_argument(
        "--force", action="store_true", help="import even if the list shrank suspiciously"
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.set_defaults(handler=run_sync)


def run_sync(args: argparse.Namespace) -> int:
    """Import the list; exit 0 done, 1 refused or failed, 2 configuration error."""
    try:
        settings = load_settings_from(args)
    except ConfigError as err:
        print(f"gatekeeper: configuration error: {err}", file=sys.stderr)
        return ExitCode.USAGE
    try:
        report = sync_now(settings, file=args.file, list_date=args.list_date, force=args.force)
    except ConfigError as err:
        print(f"gatekeeper: configuration error: {err}", file=sys.stderr)
        return ExitCode.USAGE
    except GatekeeperError as err:
        print(f"gatekeeper: sync failed, the current list is kept: {err}", file=sys.stderr)
        _record_sync(settings, {"status": "failed", "error": str(err)})
        return ExitCode.FAILURE
    for reject in report.rejects:
        print(f"gatekeeper: {report.record.source}: rejected {reject}", file=sys.stderr)
    recorded = _record_sync(settings, {"status": "ok", **report.as_json()})
    if args.json:
        print(json.dumps(report.as_json()))
    else:
        print(report.summary())
    return ExitCode.OK if recorded else ExitCode.FAILURE


def _record_sync(settings: Settings, details: dict[str, object]) -> bool:
    """Put the sync in the decision log's chain, so reports show which list was in force."""
    try:
        record_event_now(settings, "list_sync", details)
    except GatekeeperError as err:
        print(
            f"gatekeeper: the sync could not be recorded in the decision log: {err}",
            file=sys.stderr,
        )
        return False
    return True


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from err
