"""Wiring: opens the stores, builds the checker and runs the services of `serve` in one TaskGroup.

Theory of operation: `open_services` opens what every decision needs (the list index, the
consent and objection store, the decision log) and closes it in reverse order whatever happens;
`check` and `serve` both decide through the same `Checker`. `serve` runs the FastAGI server and
the scheduled list sync under one TaskGroup until the injected `stop` event is set (SIGTERM or
SIGINT); SIGHUP reloads the configuration, and a broken file keeps the running one.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import structlog

from gatekeeper.agi.server import AgiHandler, AgiRequest, AgiServer
from gatekeeper.answers import agi_variables
from gatekeeper.audit.log import DecisionLog
from gatekeeper.checker import CallRequest, Checker
from gatekeeper.config import LiveSettings
from gatekeeper.consent import open_act_store
from gatekeeper.dncm.index import ListIndex
from gatekeeper.dncm.sync import sync_forever

log = structlog.get_logger()

CHECK_SCRIPT = "check"


@dataclass(frozen=True, slots=True)
class Services:
    """What a decision needs, opened."""

    index: ListIndex
    checker: Checker
    decision_log: DecisionLog


@contextlib.asynccontextmanager
async def open_services(live: LiveSettings) -> AsyncIterator[Services]:
    """Open the index, the consent store and the decision log; close them in reverse order."""
    settings = live.current()
    index = ListIndex(settings.data_dir / "dncm")
    try:
        acts = await open_act_store(settings.data_dir / "consent" / "acts.sqlite")
        try:
            decision_log = await DecisionLog.open(settings.data_dir / "audit" / "decisions.sqlite")
            try:
                checker = Checker(live.current, index, acts, decision_log)
                yield Services(index, checker, decision_log)
            finally:
                await decision_log.close()
        finally:
            await acts.close()
    finally:
        index.close()


def agi_handler(checker: Checker) -> AgiHandler:
    """The FastAGI handler: `agi://host/check,NUMBER,CAMPAIGN` → the contract's variables."""

    async def handle(request: AgiRequest) -> Mapping[str, str]:
        dialled = request.arguments[0] if request.arguments else ""
        campaign = request.arguments[1] if len(request.arguments) > 1 else ""
        if request.script != CHECK_SCRIPT:
            log.warning("unknown_agi_script", script=request.script)
        result = await checker.check(
            CallRequest(
                dialled=dialled,
                campaign=campaign,
                source="agi",
                channel=request.channel,
                uniqueid=request.uniqueid,
                linkedid=request.linkedid,
            )
        )
        return agi_variables(result)

    return handle


async def serve(live: LiveSettings, stop: asyncio.Event) -> None:
    """Run the gatekeeper until `stop` is set."""
    settings = live.current()
    async with open_services(live) as services:
        server = AgiServer(agi_handler(services.checker), settings.agi.host, settings.agi.port)
        await server.start()
        log.info("serving", agi=f"{settings.agi.host}:{server.port}")
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(sync_forever(live, services.index, stop))
                await stop.wait()
        finally:
            await server.close()
    log.info("stopped")


def install_signal_handlers(live: LiveSettings, stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT stop the service; SIGHUP reloads the configuration."""
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, live.reload)
