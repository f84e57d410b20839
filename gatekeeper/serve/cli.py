"""`gatekeeper serve` and `gatekeeper check`: the service, and one decision by hand."""

from __future__ import annotations

import argparse
import asyncio
import sys

from gatekeeper.check import CallRequest, CheckResult, human_answer, json_answer
from gatekeeper.common import configure_logging, json_text
from gatekeeper.config import ExitCode, LiveSettings, settings_path_from
from gatekeeper.serve.app import install_signal_handlers, open_services, serve


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `serve` and `check`."""
    serve_parser = subparsers.add_parser("serve", help="run FastAGI, AMI and the scheduled sync")
    serve_parser.set_defaults(handler=run_serve)
    check_parser = subparsers.add_parser("check", help="decide one call and record it")
    check_parser.add_argument("number", help="the dialled number, in any form")
    check_parser.add_argument("--campaign", required=True, help="the campaign's name")
    check_parser.add_argument("--json", action="store_true", help="print one JSON object")
    check_parser.set_defaults(handler=run_check)


def run_serve(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT; logs go to stdout for journald."""
    configure_logging(stream=sys.stdout)
    live = LiveSettings(settings_path_from(args))

    async def main() -> None:
        stop, reload = asyncio.Event(), asyncio.Event()
        install_signal_handlers(stop, reload)
        await serve(live, stop, reload)

    asyncio.run(main())
    return ExitCode.OK


def run_check(args: argparse.Namespace) -> int:
    """Decide one call, record it like any other, print the answer."""
    live = LiveSettings(settings_path_from(args))

    async def decide() -> CheckResult:
        async with open_services(live) as services:
            return await services.checker.check(
                CallRequest(dialled=args.number, campaign=args.campaign, source="cli")
            )

    result = asyncio.run(decide())
    if args.json:
        print(json_text(json_answer(result)))
    else:
        print(human_answer(result))
    return ExitCode.OK
