"""Small helpers shared by the command modules: settings from the arguments, exit codes."""

from __future__ import annotations

import argparse
import enum
import re
import sys
from pathlib import Path

from gatekeeper.common import ConfigError, GatekeeperError
from gatekeeper.config.settings import Settings, config_path, load_settings, read_data_dir

MAX_STORED_INTEGER = 2**63 - 1
"""The largest integer SQLite stores: no record id or count given on the command line is bigger."""
_ASCII_NUMBER = re.compile(r"[0-9]{1,19}")


class ExitCode(enum.IntEnum):
    """The exit codes of every command (docs/operations.md)."""

    OK = 0
    FAILURE = 1
    USAGE = 2


def run_handler(args: argparse.Namespace) -> int:
    """Run the command's handler; a configuration error exits 2, any other refusal 1.

    The one place that turns the gatekeeper's errors into an exit code and a line on stderr,
    for `gatekeeper` and for `python -m gatekeeper.dncm`.
    """
    try:
        code: int = args.handler(args)
    except GatekeeperError as err:
        return exit_code_of(err)
    return code


def exit_code_of(err: GatekeeperError) -> ExitCode:
    """Say why on stderr; a configuration error exits 2, any other refusal 1."""
    if isinstance(err, ConfigError):
        sys.stderr.write(f"gatekeeper: configuration error: {err}\n")
        return ExitCode.USAGE
    sys.stderr.write(f"gatekeeper: {err}\n")
    return ExitCode.FAILURE


def settings_path_from(args: argparse.Namespace) -> Path:
    """The configuration path: `-c PATH`, else $GATEKEEPER_CONFIG, else the system default."""
    explicit: str | None = getattr(args, "config", None)
    return config_path(explicit)


def load_settings_from(args: argparse.Namespace) -> Settings:
    """Load the settings named by the command line; raises ConfigError."""
    return load_settings(settings_path_from(args))


def data_dir_from(args: argparse.Namespace) -> Path:
    """The data folder, for commands that only read it: an error elsewhere in the file is a warning.

    Raises the configuration's ConfigError when even `data_dir` cannot be read.
    """
    path = settings_path_from(args)
    try:
        return load_settings(path).data_dir
    except ConfigError as err:
        try:
            data_dir = read_data_dir(path)
        except ConfigError:
            raise err from None
        sys.stderr.write(
            f"gatekeeper: warning: configuration error: {err}; "
            f"reading the data in {data_dir} all the same\n"
        )
        return data_dir


def positive_number(text: str) -> int:
    """An argparse type: a whole number in ASCII digits from 1 to MAX_STORED_INTEGER."""
    value = int(text) if _ASCII_NUMBER.fullmatch(text) else 0
    if not 1 <= value <= MAX_STORED_INTEGER:
        shown = text if len(text) <= 40 else text[:39] + "…"
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 1 to {MAX_STORED_INTEGER} (digits 0-9), got {shown!r}"
        )
    return value
