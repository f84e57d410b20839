"""The `gatekeeper` command: one parser, command groups registered from their own modules."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

import structlog

from gatekeeper import __version__
from gatekeeper.common import GatekeeperError, configure_logging, run_as_refusal, writes_data
from gatekeeper.config import (
    CONFIG_ENV_VAR,
    ExitCode,
    exit_code_of,
    load_settings_from,
    run_handler,
)

COMMAND_MODULES: tuple[str, ...] = (
    "gatekeeper.serve.cli",
    "gatekeeper.config.cli",
    "gatekeeper.consent.cli",
    "gatekeeper.dncm.cli",
    "gatekeeper.audit.cli",
    "gatekeeper.scrub.cli",
    "gatekeeper.doctor.cli",
    "gatekeeper.console.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, with every registered command group."""
    parser = argparse.ArgumentParser(
        prog="gatekeeper",
        description="Decide, for every dialled number, whether a campaign call may be placed.",
    )
    parser.add_argument(
        "-c",
        "--config",
        metavar="PATH",
        help="configuration file (default: $GATEKEEPER_CONFIG or /etc/gatekeeper/gatekeeper.yaml)",
    )
    parser.add_argument("--version", action="version", version=f"gatekeeper {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code."""
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(words)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if args.command != "serve":
        configure_logging(stream=sys.stderr)
    try:
        refused = _wrong_user(args, words)
        if refused is not None:
            print(f"gatekeeper: {refused}", file=sys.stderr)
            return ExitCode.USAGE
        code = run_handler(args)
    except GatekeeperError as err:
        return exit_code_of(err)
    except KeyboardInterrupt:
        return ExitCode.FAILURE
    except Exception:  # noqa: BLE001 - last resort: log the trace, exit 1, never a raw traceback
        structlog.get_logger().exception("unexpected_error", command=args.command)
        return ExitCode.FAILURE
    return code


def _wrong_user(args: argparse.Namespace, words: Sequence[str]) -> str | None:
    """Why a writing command must not run as this user (gatekeeper/common/run_as.py), or None."""
    if not writes_data(args):
        return None
    data_dir = load_settings_from(args).data_dir
    implicit = None if args.config is not None else os.environ.get(CONFIG_ENV_VAR)
    return run_as_refusal(data_dir, words, implicit_config=implicit)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
