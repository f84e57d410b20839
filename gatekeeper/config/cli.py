"""`gatekeeper config check`: validate the configuration and report the licence's state."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gatekeeper.common import ConfigError, today
from gatekeeper.config import deploy_checks
from gatekeeper.config.licence import licence_warning
from gatekeeper.config.settings import config_path, load_settings

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `config` command group."""
    group = subparsers.add_parser("config", help="check the configuration")
    actions = group.add_subparsers(dest="config_action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check", help="validate the configuration file and report the licence's state"
    )
    deploy_checks.add_arguments(check)
    check.set_defaults(handler=check_config)


def check_config(args: argparse.Namespace) -> int:
    """Print `configuration OK: ...` and exit 0, or print the error and exit 2.

    A valid file whose deployment checks fail (gatekeeper/config/deploy_checks.py) exits 1.
    """
    path = config_path(getattr(args, "config", None))
    try:
        settings = load_settings(path)
    except ConfigError as err:
        _say(f"gatekeeper: configuration error: {err}")
        return EXIT_USAGE
    except Exception as err:  # noqa: BLE001 - whatever the file does, the answer is "refused"
        _say(f"gatekeeper: configuration error: {path}: cannot load configuration: {err!r}")
        return EXIT_USAGE
    problem = _data_dir_problem(settings.data_dir)
    if problem is not None:
        _say(f"gatekeeper: configuration error: {path}: data_dir: {problem}")
        return EXIT_USAGE
    campaigns = len(settings.campaigns)
    advertisers = len(settings.advertisers)
    _out(
        f"configuration OK: {campaigns} campaign{'' if campaigns == 1 else 's'}, "
        f"{advertisers} advertiser{'' if advertisers == 1 else 's'}, "
        f"licence valid until {settings.licensee.licence_valid_until.isoformat()}"
    )
    warning = licence_warning(settings, today())
    if warning is not None:
        _say(f"gatekeeper: warning: {warning}")
    return EXIT_OK if deploy_checks.report(settings, args) else EXIT_FAILURE


def _data_dir_problem(data_dir: Path) -> str | None:
    """Why the data folder cannot hold the gatekeeper's files, if it cannot (nothing is created)."""
    existing = data_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing == data_dir and not data_dir.is_dir():
        return f"{data_dir} exists and is not a folder"
    if existing != data_dir and not existing.is_dir():
        return f"{existing} is not a folder, so {data_dir} cannot be created"
    return None


def _out(text: str) -> None:
    sys.stdout.write(f"{text}\n")


def _say(text: str) -> None:
    sys.stderr.write(f"{text}\n")
