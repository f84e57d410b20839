"""YAML to frozen `Settings`, live settings and reload, and loading settings for a command."""

from __future__ import annotations

from gatekeeper.config.command_args import (
    ExitCode,
    data_dir_from,
    exit_code_of,
    load_settings_from,
    positive_number,
    run_handler,
    settings_path_from,
)
from gatekeeper.config.licence import licence_warning, log_licence_state
from gatekeeper.config.live import LiveSettings
from gatekeeper.config.settings import (
    CONFIG_ENV_VAR,
    MAX_CONFIG_BYTES,
    ConsoleSettings,
    Endpoint,
    PostgresSettings,
    Settings,
    config_path,
    load_settings,
)

__all__ = [
    "CONFIG_ENV_VAR",
    "MAX_CONFIG_BYTES",
    "ConsoleSettings",
    "Endpoint",
    "ExitCode",
    "LiveSettings",
    "PostgresSettings",
    "Settings",
    "config_path",
    "data_dir_from",
    "exit_code_of",
    "licence_warning",
    "load_settings",
    "load_settings_from",
    "log_licence_state",
    "positive_number",
    "run_handler",
    "settings_path_from",
]
