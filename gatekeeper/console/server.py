"""Opening the console's stores and serving it with uvicorn, in its own process.

The reader is the local decision log unless `console.central_log` names the central store; the
act store is the one the configuration names (stores/acts.py). The console's own records
(`console_access`, ...) always go to the local decision log.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from gatekeeper.audit import DecisionLog, log_path
from gatekeeper.common import StoreError
from gatekeeper.config import Settings
from gatekeeper.consent import ActStore
from gatekeeper.console.accounts import AccountStore, accounts_path
from gatekeeper.console.central_reader import CentralReader
from gatekeeper.console.proxy_login import PeerAddress
from gatekeeper.console.reader import ConsoleReader, LocalReader
from gatekeeper.console.web import Console, Services
from gatekeeper.stores.acts import open_configured_act_store

MAX_CONNECTIONS = 64
KEEP_ALIVE_S = 5
_log = structlog.get_logger("gatekeeper.console")


def account_store(settings: Settings) -> AccountStore:
    """The accounts file of these settings."""
    console = settings.console
    return AccountStore(
        accounts_path(settings.data_dir),
        lockout_failures=console.lockout_failures,
        lockout=timedelta(minutes=console.lockout_minutes),
        idle=timedelta(minutes=console.session_idle_minutes),
    )


@contextlib.asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """The stores the pages use, open for the life of the process."""
    accounts = account_store(settings)
    acts = await open_configured_act_store(settings)
    try:
        log = await DecisionLog.open(log_path(settings.data_dir))
        try:
            async with _reader(settings, log, acts) as reader:
                yield Services(settings, accounts, reader, acts, log)
        finally:
            await log.close()
    finally:
        await acts.close()


@contextlib.asynccontextmanager
async def _reader(
    settings: Settings, log: DecisionLog, acts: ActStore
) -> AsyncIterator[ConsoleReader]:
    """The local reader, or the central one when `console.central_log` is set."""
    central = settings.console.central_log
    if central is None:
        yield LocalReader(log.path, acts)
        return
    reader = CentralReader(central, acts)
    try:
        await reader.check()
    except StoreError as err:
        _log.error("console_central_unavailable", error=str(err))
    try:
        yield reader
    finally:
        await reader.close()


def build_app(settings: Settings) -> Starlette:
    """The console as an ASGI application that opens its stores at start-up."""
    console = Console(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with open_services(settings) as services:
            console.services = services
            _log.info("console_listening", listen=str(settings.console.listen))
            yield

    return console.app(lifespan)


def with_proxies(app: ASGIApp, settings: Settings) -> ASGIApp:
    """The app behind `X-Forwarded-For` handling, with the connection's own peer kept first.

    uvicorn's middleware puts the forwarded client in the scope; the proxy login must judge
    the peer that connected, so PeerAddress notes it before.
    """
    trusted = ["127.0.0.1", *(str(network) for network in settings.console.trusted_proxies)]
    return PeerAddress(ProxyHeadersMiddleware(app, trusted_hosts=trusted))  # type: ignore[arg-type]


def serve(settings: Settings) -> None:
    """Serve the console until SIGTERM or SIGINT (uvicorn handles both)."""
    listen = settings.console.listen
    config = uvicorn.Config(
        with_proxies(build_app(settings), settings),
        host=listen.host,
        port=listen.port,
        proxy_headers=False,
        server_header=False,
        date_header=False,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_keep_alive=KEEP_ALIVE_S,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    uvicorn.Server(config).run()
