"""The settings of a running service, swapped whole on reload.

Theory of operation: a reload builds a complete new `Settings` and swaps one reference, so a
reader sees the old or the new object, never a mix; a call takes `current()` once and keeps that
object to its end. A file that cannot be loaded, for any reason, is refused and the running
settings stay.
"""

from __future__ import annotations

import threading
from pathlib import Path

import structlog

from gatekeeper.common import ConfigError
from gatekeeper.config.settings import Settings, load_settings


class LiveSettings:
    """The settings of a running service, replaced whole on reload (SIGHUP)."""

    def __init__(self, path: Path, settings: Settings | None = None) -> None:
        """Hold `settings`, or load them from `path` now (raising ConfigError if broken)."""
        self._path = path
        self._settings = settings if settings is not None else load_settings(path)
        self._reload_lock = threading.Lock()
        self.last_reload_error: str | None = None

    @property
    def path(self) -> Path:
        """The file that `reload` reads."""
        return self._path

    def current(self) -> Settings:
        """The settings in force; take them once per call and keep them for its whole length."""
        return self._settings

    def reload(self) -> bool:
        """Re-read the file; keep the running settings if it cannot be loaded. True if changed.

        Any failure to load is a refused reload, a bug in the loader included: a running
        service never stops because of the file it was asked to read.
        """
        log = structlog.get_logger("gatekeeper.config")
        with self._reload_lock:
            try:
                fresh = load_settings(self._path)
            except ConfigError as err:
                return self._refuse(str(err))
            except Exception as err:
                log.exception("config_reload_failed", path=str(self._path))
                return self._refuse(f"{self._path}: cannot load configuration: {err!r}")
            self.last_reload_error = None
            changed = fresh != self._settings
            if changed or fresh.sha256 != self._settings.sha256:
                self._settings = fresh
        if not changed:
            log.info("config_reload_unchanged", path=str(self._path), sha256=fresh.sha256)
            return False
        log.info(
            "config_reloaded",
            path=str(self._path),
            campaigns=len(fresh.campaigns),
            advertisers=len(fresh.advertisers),
            sha256=fresh.sha256,
        )
        return True

    def _refuse(self, error: str) -> bool:
        self.last_reload_error = error
        structlog.get_logger("gatekeeper.config").error(
            "config_reload_refused", path=str(self._path), error=error
        )
        return False
