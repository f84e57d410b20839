"""The AMI side of `gatekeeper serve`: read the secret, keep a session, run the watchdog.

Theory of operation: the secret is read once from `ami.secret_file` (a missing, unreadable or
empty file is a configuration error, raised before anything starts). `run()` then logs in,
retrying with jittered backoff while Asterisk is down or refuses us; every failure is kept as
`last_error` so the health check can say *why* AMI is down (for example "authentication
refused for user 'gatekeeper'"), and the link state goes to the metrics. Once logged in, the
client keeps itself alive (pings, reconnects) and the watchdog runs on it until cancelled.
No AMI `Filter` action is sent: it needs the `system` write right, which the shipped manager
user does not have; its `eventfilter` lines in manager.conf narrow the events instead.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

import structlog

from gatekeeper.ami.client import AmiClient, backoff_delays
from gatekeeper.ami.settings import AmiSettings
from gatekeeper.ami.watchdog import Watchdog
from gatekeeper.common import AmiError, ConfigError

SECRET_LIMIT_BYTES = 1024

log = structlog.get_logger("gatekeeper.ami")


def read_secret(path: Path | None) -> str:
    """The AMI secret from its file (first line, surrounding blanks removed)."""
    if path is None:
        raise ConfigError("ami.secret_file: not set; the AMI secret must come from a file")
    try:
        raw = path.read_bytes()[: SECRET_LIMIT_BYTES + 1]
    except OSError as err:
        raise ConfigError(f"ami.secret_file: cannot read {path}: {err.strerror}") from err
    if len(raw) > SECRET_LIMIT_BYTES:
        raise ConfigError(f"ami.secret_file: {path} is larger than {SECRET_LIMIT_BYTES} bytes")
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise ConfigError(f"ami.secret_file: {path} is not UTF-8 text") from err
    secret = lines[0].strip() if lines else ""
    if not secret:
        raise ConfigError(f"ami.secret_file: {path} is empty")
    return secret


class LinkMetrics(Protocol):
    """Where the AMI link state goes (`serve.metrics.Metrics`)."""

    def set_ami_connected(self, up: bool) -> None:
        """Record whether the AMI link is up."""


class AmiService:
    """Connects to AMI (retrying), runs the watchdog, and answers the health check."""

    def __init__(self, settings: AmiSettings, watchdog: Watchdog, metrics: LinkMetrics) -> None:
        self._settings = settings
        self._secret = read_secret(settings.secret_file)
        self._watchdog = watchdog
        self._metrics = metrics
        self._client: AmiClient | None = None
        self.last_error = "not connected yet"
        self._changed = asyncio.Event()
        metrics.set_ami_connected(False)

    def __repr__(self) -> str:
        return f"AmiService({self._settings.host}:{self._settings.port})"

    async def run(self) -> None:
        """Log in (retrying forever), then run the watchdog until cancelled."""
        client = await self._login()
        self._client = client
        self._notify()
        try:
            self._watchdog.attach(client)
            await self._watchdog.run()
        finally:
            self._client = None
            await client.close()
            self._metrics.set_ami_connected(False)

    async def _login(self) -> AmiClient:
        settings = self._settings
        delays = backoff_delays()
        while True:
            try:
                return await AmiClient.connect(
                    settings.host,
                    settings.port,
                    settings.username,
                    self._secret,
                    on_link_change=self._link_changed,
                )
            except AmiError as err:
                self.last_error = str(err)
                log.error("ami_login_failed", error=self.last_error)
                self._notify()
            await asyncio.sleep(next(delays))

    def _link_changed(self, up: bool) -> None:
        self._metrics.set_ami_connected(up)
        self._notify()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def changed(self) -> None:
        """Wait for the next login attempt's result or link change (health may differ after)."""
        await self._changed.wait()

    def health(self) -> tuple[bool, str]:
        """(connected, detail) for the health endpoint."""
        client = self._client
        where = f"{self._settings.host}:{self._settings.port}"
        if client is not None and client.connected:
            return True, f"logged in to {where} as {self._settings.username!r}"
        if client is not None:
            return False, f"link to {where} lost; reconnecting"
        return False, self.last_error
