"""`gatekeeper sync`: fetch and import the DNCM list now; prints a one-line summary."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from gatekeeper.common import ConfigError, GatekeeperError
from gatekeeper.config import ExitCode, load_settings_from
from gatekeeper.dncm.chain import ChainJournal
from gatekeeper.dncm.storage import LOCK_WAIT_S
from gatekeeper.dncm.sync import sync_now

MAX_LOCK_WAIT_S = 3600


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
        "--force",
        action="store_true",
        help="import even if the list shrank suspiciously or is older than the live list",
    )
    parser.add_argument(
        "--lock-wait",
        type=_seconds,
        default=LOCK_WAIT_S,
        metavar="SECONDS",
        help=f"wait this long for a running sync to finish (default {LOCK_WAIT_S:g})",
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.set_defaults(handler=run_sync)


def run_sync(args: argparse.Namespace) -> int:
    """Import the list; exit 0 done, 1 refused or failed, 2 configuration error."""
    settings = load_settings_from(args)
    journal = ChainJournal(settings)
    try:
        report = sync_now(
            settings,
            file=args.file,
            list_date=args.list_date,
            force=args.force,
            journal=journal,
            lock_wait_s=args.lock_wait,
        )
    except ConfigError:
        raise
    except GatekeeperError as err:
        print(f"gatekeeper: sync failed, the current list is kept: {err}", file=sys.stderr)
        journal.failed(err)
        _report_unrecorded(journal)
        return ExitCode.FAILURE
    for reject in report.rejects:
        print(f"gatekeeper: {report.record.source}: rejected {reject}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.as_json()))
    else:
        print(report.summary())
    return ExitCode.FAILURE if _report_unrecorded(journal) else ExitCode.OK


def _report_unrecorded(journal: ChainJournal) -> bool:
    """Say on stderr that the chain misses a sync record; whether one is missing."""
    for error in journal.errors:
        print(
            f"gatekeeper: the sync could not be recorded in the decision log: {error}",
            file=sys.stderr,
        )
    return bool(journal.errors)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from err


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_LOCK_WAIT_S:
        raise argparse.ArgumentTypeError(
            f"expected seconds from 0 to {MAX_LOCK_WAIT_S}, got {text!r}"
        )
    return seconds
