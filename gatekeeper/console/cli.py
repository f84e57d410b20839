"""`gatekeeper console ...`: serve the web console, and manage its accounts from the shell."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from gatekeeper.common import configure_logging, shown
from gatekeeper.config import ExitCode, load_settings_from
from gatekeeper.console.accounts import MAX_PASSWORD_LENGTH, AccountError, Role


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `console` command group."""
    group = subparsers.add_parser(
        "console",
        help="the compliance officers' web console and its accounts",
        description="Serve the web console (docs/console.md) and manage its accounts.",
    )
    actions = group.add_subparsers(dest="console_action", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", help="serve the console on console.listen")
    serve.set_defaults(handler=serve_command)

    user = actions.add_parser("user", help="add, unlock and list console accounts")
    user_actions = user.add_subparsers(dest="user_action", metavar="ACTION", required=True)
    add = user_actions.add_parser(
        "add",
        help="add an account; the password is asked for, or read as one line from stdin",
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.set_defaults(handler=add_command)
    unlock = user_actions.add_parser("unlock", help="unlock an account locked by failed logins")
    unlock.add_argument("name", metavar="NAME")
    unlock.set_defaults(handler=unlock_command)
    listing = user_actions.add_parser("list", help="list the accounts and their roles")
    listing.set_defaults(handler=list_command)


def serve_command(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT; logs go to stdout for journald."""
    from gatekeeper.console.server import serve  # noqa: PLC0415 - the web stack only for serve

    configure_logging(stream=sys.stdout)
    serve(load_settings_from(args))
    return ExitCode.OK


def _password() -> str:
    """A password from the terminal (asked twice), or one line of stdin; never from argv."""
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise AccountError("the two passwords differ")
        return first
    line = sys.stdin.readline(MAX_PASSWORD_LENGTH + 2)
    return line.removesuffix("\n").removesuffix("\r")


def add_command(args: argparse.Namespace) -> int:
    """Add an account with its role."""
    from gatekeeper.console.server import account_store  # noqa: PLC0415

    store = account_store(load_settings_from(args))
    try:
        store.add(args.name, Role(args.role), _password(), datetime.now(UTC))
    except AccountError as err:
        print(f"gatekeeper: {shown(str(err))}", file=sys.stderr)
        return ExitCode.USAGE
    print(f"account {args.name} added with role {args.role}")
    return ExitCode.OK


def unlock_command(args: argparse.Namespace) -> int:
    """Clear an account's lock."""
    from gatekeeper.console.server import account_store  # noqa: PLC0415

    try:
        account_store(load_settings_from(args)).unlock(args.name)
    except AccountError as err:
        print(f"gatekeeper: {shown(str(err))}", file=sys.stderr)
        return ExitCode.USAGE
    print(f"account {shown(args.name)} unlocked")
    return ExitCode.OK


def list_command(args: argparse.Namespace) -> int:
    """Print every account, its role and lock."""
    from gatekeeper.console.server import account_store  # noqa: PLC0415

    for account in account_store(load_settings_from(args)).accounts():
        locked = account.locked_until.isoformat() if account.locked_until else "-"
        print(f"{account.name}\t{account.role.value}\tlocked_until={locked}")
    return ExitCode.OK
