"""`gatekeeper audit pseudonym NUMBER` and `audit show --pseudonym P`: from the journal back.

The journal names numbers only by pseudonym (gatekeeper/common/pseudonyms.py); these read the key
beside the decision log, so only whoever may read the log can link a pseudonym to a number.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from gatekeeper.audit.store import DecisionRow
from gatekeeper.common import pseudonyms_beside
from gatekeeper.config import ExitCode
from gatekeeper.rules import InvalidNumber, normalise


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    add_log: Callable[[argparse.ArgumentParser], None],
    log_of: Callable[[argparse.Namespace], Path],
) -> None:
    """Add `audit pseudonym`."""
    parser = commands.add_parser(
        "pseudonym", help="the pseudonym the journal shows for a number (or a dialled string)"
    )
    add_log(parser)
    parser.add_argument("number", help="a number in any form, or a dialled string as stored")

    def run(args: argparse.Namespace) -> int:
        return pseudonym_command(args, log_of(args))

    parser.set_defaults(handler=run)


def pseudonym_command(args: argparse.Namespace, log_file: Path) -> int:
    """Print the pseudonym of a number as the decision line carries it."""
    pseudonyms = pseudonyms_beside(log_file)
    number = normalise(args.number)
    if isinstance(number, InvalidNumber):
        print(
            f"gatekeeper: {args.number!r} is not a valid number ({number.detail}); "
            "giving the pseudonym of the dialled string as typed",
            file=sys.stderr,
        )
        print(pseudonyms.of_call(None, args.number))
    else:
        print(pseudonyms.of_call(number.e164, args.number))
    return ExitCode.OK


def with_pseudonym(
    rows: Iterable[DecisionRow], pseudonym: str, log_file: Path
) -> list[DecisionRow]:
    """The decisions whose number (or dialled string) has this pseudonym."""
    pseudonyms = pseudonyms_beside(log_file)
    wanted = pseudonym.strip().lower()
    return [
        row
        for row in rows
        if pseudonyms.of_call(_text(row.get("e164")), str(row.get("dialled") or "")) == wanted
    ]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
