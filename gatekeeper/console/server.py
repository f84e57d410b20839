"""Opening the console's stores and serving it with uvicorn, in its own process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import structlog
import uvicorn
from starlette.applications import Starlette

from gatekeeper.audit import DecisionLog, log_path
from gatekeeper.config import Settings
from gatekeeper.consent import act_store_path, open_act_store
from gatekeeper.console.accounts import AccountStore, accounts_path
from gatekeeper.console.reader import LocalReader
from gatekeeper.console.web import Console, Services

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
    acts = await open_act_store(act_store_path(settings))
    try:
        log = await DecisionLog.open(log_path(settings.data_dir))
        try:
            yield Services(settings, accounts, LocalReader(log.path, acts), acts, log)
        finally:
            await log.close()
    finally:
        await acts.close()


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


def serve(settings: Settings) -> None:
    """Serve the console until SIGTERM or SIGINT (uvicorn handles both)."""
    listen = settings.console.listen
    config = uvicorn.Config(
        build_app(settings),
        host=listen.host,
        port=listen.port,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
        date_header=False,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_keep_alive=KEEP_ALIVE_S,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    uvicorn.Server(config).run()
