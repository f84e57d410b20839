"""`gatekeeper config check`: validate the configuration and report the licence's state."""

from __future__ import annotations

import argparse
import sys

from gatekeeper.config import config_path, legal_today, load_settings
from gatekeeper.errors import ConfigError
from gatekeeper.licence import licence_warning

EXIT_OK = 0
EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `config` command group."""
    group = subparsers.add_parser("config", help="check the configuration")
    actions = group.add_subparsers(dest="config_action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check", help="validate the configuration file and report the licence's state"
    )
    check.set_defaults(handler=check_config)


def check_config(args: argparse.Namespace) -> int:
    """Print `configuration OK: ...` and exit 0, or print the error and exit 2."""
    path = config_path(getattr(args, "config", None))
    try:
        settings = load_settings(path)
    except ConfigError as err:
        _say(f"gatekeeper: configuration error: {err}")
        return EXIT_USAGE
    campaigns = len(settings.campaigns)
    advertisers = len(settings.advertisers)
    _out(
        f"configuration OK: {campaigns} campaign{'' if campaigns == 1 else 's'}, "
        f"{advertisers} advertiser{'' if advertisers == 1 else 's'}, "
        f"licence valid until {settings.licensee.licence_valid_until.isoformat()}"
    )
    warning = licence_warning(settings, legal_today())
    if warning is not None:
        _say(f"gatekeeper: warning: {warning}")
    return EXIT_OK


def _out(text: str) -> None:
    sys.stdout.write(f"{text}\n")


def _say(text: str) -> None:
    sys.stderr.write(f"{text}\n")
