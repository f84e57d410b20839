"""Small helpers shared by the command modules: settings from the arguments, exit codes."""

from __future__ import annotations

import argparse
import enum
import sys
from pathlib import Path

from gatekeeper.config import Settings, config_path, load_settings, read_data_dir
from gatekeeper.errors import ConfigError


class ExitCode(enum.IntEnum):
    """The contract's exit codes."""

    OK = 0
    FAILURE = 1
    USAGE = 2


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
