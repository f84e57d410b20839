"""Small helpers shared by the command modules: settings from the arguments, exit codes."""

from __future__ import annotations

import argparse
import enum
from pathlib import Path

from gatekeeper.config import Settings, config_path, load_settings


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
