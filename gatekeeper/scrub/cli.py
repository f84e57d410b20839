"""`gatekeeper scrub INPUT.csv --campaign NAME --output OUT.csv`: a calling list, decided."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from gatekeeper.common import ScrubUsageError
from gatekeeper.config import ExitCode, load_settings_from
from gatekeeper.scrub import ScrubRequest, scrub


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `scrub`."""
    parser = subparsers.add_parser(
        "scrub",
        help="decide every number of a calling list (CSV) for a campaign",
        description=(
            "Decide every row of a calling list as a live call would be decided now, and write "
            "the list with gk_decision, gk_reason, gk_number and gk_scrub_id columns added. "
            "One summary record goes into the decision log. Every call is still checked when "
            "it is dialled."
        ),
    )
    parser.add_argument("input", type=Path, help="the calling list: CSV with a header line")
    parser.add_argument("--campaign", required=True, help="the campaign the list is called for")
    parser.add_argument("--output", type=Path, required=True, help="the scrubbed CSV to write")
    parser.add_argument(
        "--column", metavar="NAME", help="the number column (default: found by its header)"
    )
    parser.add_argument(
        "--allowed-only", action="store_true", help="write only the rows that may be called"
    )
    parser.set_defaults(handler=run_scrub)


def run_scrub(args: argparse.Namespace) -> int:
    """Scrub the list; 0 when a result was written, 2 on a usage error, 1 otherwise."""
    settings = load_settings_from(args)
    request = ScrubRequest(
        source=args.input,
        output=args.output,
        campaign=args.campaign,
        column=args.column,
        allowed_only=args.allowed_only,
    )
    try:
        result = asyncio.run(scrub(settings, request))
    except ScrubUsageError as err:
        print(f"gatekeeper: {err}", file=sys.stderr)
        return ExitCode.USAGE
    for note in result.notes:
        print(f"gatekeeper: {args.input}: {note}", file=sys.stderr)
    print(result.summary())
    return ExitCode.OK
