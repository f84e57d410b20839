"""`gatekeeper doctor`: read the live dialplan and report unguarded routes and unknown campaigns."""

from __future__ import annotations

import argparse
import asyncio
import sys

from gatekeeper.config import ExitCode, load_settings_from
from gatekeeper.doctor import dialplan


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `doctor` command."""
    parser = subparsers.add_parser(
        "doctor",
        help="on the PBX: find routes into gated trunk contexts that skip gatekeeper-check",
        description="Read Asterisk's dialplan over AMI (ShowDialPlan) and report every route "
        "that reaches a context of ami.gated_contexts without calling gatekeeper-check first, "
        "and every campaign the dialplan names that the configuration does not know. "
        "ShowDialPlan needs the AMI write right 'reporting', which the service's own user "
        "does not have: name an administrator's AMI user.",
    )
    parser.add_argument(
        "--ami-user", metavar="NAME", help="AMI user to read the dialplan as (default ami.username)"
    )
    parser.add_argument(
        "--ami-secret-file",
        metavar="FILE",
        help="file holding that user's secret (default ami.secret_file)",
    )
    parser.set_defaults(handler=run_doctor)


def run_doctor(args: argparse.Namespace) -> int:
    """Print each problem and exit 1, or print that the dialplan is guarded and exit 0."""
    settings = load_settings_from(args)
    username = args.ami_user or settings.ami.username
    secret = dialplan.secret_of(settings, args.ami_secret_file)
    plan = asyncio.run(dialplan.fetch(settings, username, secret))
    problems = dialplan.examine(plan, settings)
    for problem in problems:
        sys.stdout.write(f"{problem.kind}: {_shown(problem.detail)}\n")
    if problems:
        sys.stderr.write(f"gatekeeper: doctor found {len(problems)} problem(s)\n")
        return ExitCode.FAILURE
    contexts = len({step.context for step in plan.steps})
    sys.stdout.write(
        f"doctor: {len(plan.steps)} priorities in {contexts} contexts: every route into "
        f"{', '.join(settings.ami.gated_contexts)} calls {dialplan.SUBROUTINE} first, and every "
        "campaign the dialplan names is configured\n"
    )
    return ExitCode.OK


def _shown(text: str) -> str:
    """Dialplan text as plain printable text: control characters are shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
