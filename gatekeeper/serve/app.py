"""Wiring: opens the stores, builds the checker and runs the services of `serve` in one TaskGroup.

Theory of operation: `open_services` opens what every decision needs (the list index, the
consent and objection store, the decision log) and closes it in reverse order whatever happens;
`check` and `serve` both decide through the same `Checker`. `serve` runs the FastAGI server, the
health endpoint, the AMI session with its bypass watchdog, the scheduled list sync and the
metric refreshers under one TaskGroup until the injected `stop` event is set (SIGTERM or
SIGINT); SIGHUP reloads the configuration in a thread, and a file that cannot be loaded, for
whatever reason, keeps the running one. At start it records the live list in the chain when a
crashed sync left it unrecorded (`dncm.chain`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import structlog

from gatekeeper.agi import (
    AgiHandler,
    AgiLimits,
    AgiRequest,
    AgiServer,
    AgiSettings,
    PeerRules,
    Refusals,
    default_uids,
)
from gatekeeper.ami import AmiService, StandbyWatch, Watchdog, primary_section
from gatekeeper.audit import DecisionLog, EventKind, HeadAnchorer
from gatekeeper.check import CallAttempts, CallRequest, Checker, agi_variables
from gatekeeper.common import GatekeeperError, Pseudonyms, open_pseudonyms, today
from gatekeeper.config import LiveSettings, Settings, log_licence_state
from gatekeeper.dncm import ListIndex, record_live_list, sync_forever
from gatekeeper.rules import Verdict
from gatekeeper.serve.health import HealthServer
from gatekeeper.serve.health_checks import (
    agi_check,
    disk_check,
    late_records_check,
    list_check,
    log_check,
    storage_readings,
)
from gatekeeper.serve.limits import Limits
from gatekeeper.serve.metrics import Metrics
from gatekeeper.serve.store_checks import (
    acts_check,
    central_log_check,
    watch_replica,
    watch_shipper,
)
from gatekeeper.stores.acts import open_configured_act_store
from gatekeeper.stores.postgres.acts import PostgresActStore
from gatekeeper.stores.postgres.replica import ActReplica
from gatekeeper.stores.postgres.shipper import log_shipper

log = structlog.get_logger()

CHECK_SCRIPT = "check"
RESTART_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "data_dir": "data_dir",
        "agi": "agi",
        "ami": "ami",
        "health": "health",
        "node": "node",
        "acts": "acts_postgres",
        "central_log": "central_log",
    }
)
"""Settings a reload cannot change in a running service (config key: `Settings` field): its
sockets, files, database connections and node name stay as started."""
PBX_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True, slots=True)
class Services:
    """What a decision needs, opened."""

    index: ListIndex
    checker: Checker
    decision_log: DecisionLog
    pseudonyms: Pseudonyms
    acts_replica: ActReplica | None = None


@contextlib.asynccontextmanager
async def open_services(
    live: LiveSettings, limits: Limits | None = None
) -> AsyncIterator[Services]:
    """Open the index, the consent store and the decision log; close them in reverse order."""
    limits = limits if limits is not None else Limits()
    settings = live.current()
    index = ListIndex(settings.data_dir / "dncm")
    try:
        acts = await open_configured_act_store(settings, replicate=True)
        try:
            decision_log = await DecisionLog.open(settings.data_dir / "audit" / "decisions.sqlite")
            try:
                pseudonyms = open_pseudonyms(settings.data_dir, create=True)
                checker = Checker(
                    live.current,
                    index,
                    acts,
                    decision_log,
                    pseudonyms=pseudonyms,
                    facts_deadline_s=limits.check_facts_deadline_s,
                    record_deadline_s=limits.check_record_deadline_s,
                )
                replica = acts.replica if isinstance(acts, PostgresActStore) else None
                yield Services(index, checker, decision_log, pseudonyms, replica)
            finally:
                await decision_log.close()
                await asyncio.to_thread(HeadAnchorer(decision_log.path).try_anchor)
        finally:
            await acts.close()
    finally:
        index.close()


def agi_handler(
    checker: Checker, watchdog: Watchdog, metrics: Metrics, limits: Limits | None = None
) -> AgiHandler:
    """The FastAGI handler: `agi://host/check,NUMBER,CAMPAIGN[,LINKEDID]` → the variables.

    Asterisk does not send the linked id in the AGI environment; the subroutine passes it as a
    third argument so the decision can be tied to every channel of the call. The watchdog hears
    of every verdict before Asterisk does, so an allowed call is never mistaken for a bypass.
    A call checked again (a failover trunk re-runs the check) is the next attempt of the same
    linked id, and the watchdog ties each attempt's outcome to its own decision.
    """
    limits = limits if limits is not None else Limits()
    attempts = CallAttempts(max_calls=limits.attempts_max_calls, ttl_s=limits.attempts_ttl_s)

    async def handle(request: AgiRequest) -> Mapping[str, str]:
        began = time.perf_counter()
        dialled, campaign, linkedid = (*request.arguments, "", "", "")[:3]
        linkedid = linkedid or request.linkedid
        result = await checker.check(
            CallRequest(
                dialled=dialled,
                campaign=campaign,
                source="agi",
                channel=request.channel,
                uniqueid=request.uniqueid,
                linkedid=linkedid,
                attempt=attempts.next(linkedid),
                pbx=pbx_of(request),
            )
        )
        verdict = result.decision.verdict
        decision_id = result.decision_id or ""
        if verdict is Verdict.ALLOW and result.decision_id:
            prefix = result.campaign.strip_prefix if result.campaign else ""
            watchdog.allowed(
                request.uniqueid, linkedid, result.e164 or "", prefix, decision_id=decision_id
            )
        else:
            watchdog.blocked(request.uniqueid, linkedid, decision_id=decision_id)
        resolved = result.campaign.name if result.campaign else campaign
        metrics.observe_decision(
            verdict.value, result.decision.reason.value, resolved, time.perf_counter() - began
        )
        return agi_variables(result)

    return handle


def pbx_of(request: AgiRequest) -> str:
    """The `pbx` the AGI URL names, if it is a plain name; anything else is not recorded."""
    named = request.parameters.get("pbx", "")
    if named and not PBX_NAME.fullmatch(named):
        log.warning("agi_pbx_refused", pbx=repr(named[:80]), peer=request.peer)
        return ""
    return named


def agi_server(
    agi: AgiSettings, handler: AgiHandler, metrics: Metrics, limits: Limits | None = None
) -> AgiServer:
    """The FastAGI server of `serve`: the check script only, with the configured guards."""
    limits = limits if limits is not None else Limits()
    return AgiServer(
        {CHECK_SCRIPT: handler},
        agi.host,
        agi.port,
        limits=AgiLimits(
            header_timeout=agi.header_timeout_ms / 1000,
            handler_timeout=limits.agi_handler_timeout_s,
            max_concurrent_connections=agi.max_connections,
            max_connections_per_peer=agi.max_connections_per_peer,
        ),
        peers=PeerRules(
            allowed_uids=default_uids() if agi.allowed_uids is None else agi.allowed_uids,
            allowed_networks=agi.allowed_peers,
        ),
        refusals=Refusals(on_refusal=metrics.count_agi_refusal),
    )


async def serve(
    live: LiveSettings, stop: asyncio.Event, reload: asyncio.Event, limits: Limits | None = None
) -> None:
    """Run the gatekeeper until `stop` is set; `reload` set means re-read the configuration."""
    limits = limits if limits is not None else Limits()
    settings = live.current()
    metrics = Metrics()
    async with open_services(live, limits) as services:
        standby = (
            StandbyWatch(
                settings.ami.standby,
                settings.ami.gated_contexts,
                services.decision_log,
                metrics,
            )
            if settings.ami.standby is not None
            else None
        )
        watchdog = Watchdog(
            gated_contexts=settings.ami.gated_contexts,
            on_bypass=settings.ami.on_bypass,
            bypass_recorder=services.decision_log,
            outcome_recorder=services.decision_log,
            metrics=metrics,
            pseudonyms=services.pseudonyms,
            subscription_limit=limits.ami_subscription_limit,
            max_open_reports=limits.bypass_max_open_reports,
            max_followed_calls=limits.outcomes_max_followed_calls,
            duty=standby,
        )
        ami = AmiService(settings.ami, watchdog, metrics)
        shipper = log_shipper(settings, services.decision_log.path)
        handler = agi_handler(services.checker, watchdog, metrics, limits)
        server = agi_server(settings.agi, handler, metrics, limits)
        health = HealthServer(
            {
                "agi": agi_check(server),
                "ami": ami.health,
                "list": list_check(services.index, live.current),
                "log": log_check(services.checker, live.current),
                "late_records": late_records_check(services.decision_log),
                "disk": disk_check(live.current),
                **({"acts": acts_check(services.acts_replica)} if services.acts_replica else {}),
                **({"central_log": central_log_check(shipper)} if shipper else {}),
            },
            metrics,
            settings.health.host,
            settings.health.port,
            check_deadline_s=limits.health_check_deadline_s,
            sections={
                "watch": standby.section
                if standby is not None
                else primary_section(settings.ami.gated_contexts)
            },
        )
        metrics.watch_storage(storage_readings(live.current, services.decision_log))
        try:
            await server.start()
        except OSError as err:
            where = f"{settings.agi.host}:{settings.agi.port}"
            raise GatekeeperError(f"agi.listen {where}: cannot listen: {err.strerror}") from err
        await health.start()
        log.info("serving", agi=f"{settings.agi.host}:{server.port}", health=str(settings.health))
        await services.decision_log.record_event(EventKind.SERVICE_START, rules_in_force(settings))
        await record_live_list(services.index.directory, services.decision_log)
        log_licence_state(settings, today())
        try:
            async with asyncio.TaskGroup() as tasks:
                ami_task = tasks.create_task(ami.run())
                standby_task = tasks.create_task(standby.run()) if standby is not None else None
                tasks.create_task(
                    sync_forever(live, services.index, stop, on_result=metrics.count_sync)
                )
                tasks.create_task(
                    _reload_on_request(live, reload, services.decision_log, stop, settings)
                )
                tasks.create_task(_licence_watch(live, stop, limits.licence_check_interval_s))
                tasks.create_task(
                    _list_age_watch(services.index, metrics, stop, limits.metrics_refresh_s)
                )
                tasks.create_task(HeadAnchorer(services.decision_log.path).run(stop))
                if services.acts_replica is not None:
                    tasks.create_task(watch_replica(services.acts_replica, metrics, stop))
                if shipper is not None:
                    tasks.create_task(shipper.run(stop))
                    tasks.create_task(watch_shipper(shipper, metrics, stop))
                await stop.wait()
                ami_task.cancel()
                if standby_task is not None:
                    standby_task.cancel()
        finally:
            await server.close()
            await health.close()
            await services.decision_log.record_event(EventKind.SERVICE_STOP, {"pid": os.getpid()})
    log.info("stopped")


async def _list_age_watch(
    index: ListIndex, metrics: Metrics, stop: asyncio.Event, every_s: float
) -> None:
    """Refresh the list's age in the metrics."""
    while not stop.is_set():
        try:
            snapshot = index.snapshot()
        except GatekeeperError as err:
            log.error("list_unreadable", error=str(err))
            snapshot = None
        metrics.set_list_age(-1 if snapshot is None else (today() - snapshot.list_date).days)
        await _pause(stop, every_s)


def rules_in_force(settings: Settings) -> dict[str, object]:
    """What the decision log keeps of a configuration: enough to show which rules applied."""
    return {
        "config": str(settings.path),
        "config_sha256": settings.sha256,
        "licensee": settings.licensee.name,
        "licence_valid_until": settings.licensee.licence_valid_until.isoformat(),
        "max_age_days": settings.dncm.max_age_days,
        "campaigns": {
            name: {"purpose": c.purpose.value, "advertiser": c.advertiser}
            for name, c in sorted(settings.campaigns.items())
        },
    }


async def _reload_on_request(
    live: LiveSettings,
    reload: asyncio.Event,
    decision_log: DecisionLog,
    stop: asyncio.Event,
    in_use: Settings,
) -> None:
    """Reload on each request, in a thread; `in_use` holds the sockets and files serve opened."""
    while not stop.is_set():
        await _first_of(reload, stop)
        if stop.is_set():
            return
        reload.clear()
        changed = await asyncio.to_thread(live.reload)
        after = live.current()
        status = "refused" if live.last_reload_error else "applied" if changed else "unchanged"
        details: dict[str, object] = {"status": status, **rules_in_force(after)}
        if live.last_reload_error:
            details["error"] = live.last_reload_error
        needs_restart = sorted(
            key
            for key, field in RESTART_KEYS.items()
            if getattr(in_use, field) != getattr(after, field)
        )
        if needs_restart:
            details["restart_required"] = needs_restart
            log.warning("config_restart_required", keys=needs_restart, path=str(live.path))
        await decision_log.record_event(EventKind.CONFIG_RELOAD, details)


async def _licence_watch(live: LiveSettings, stop: asyncio.Event, every_s: float) -> None:
    while not stop.is_set():
        await _pause(stop, every_s)
        if not stop.is_set():
            log_licence_state(live.current(), today())


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()


async def _first_of(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def install_signal_handlers(stop: asyncio.Event, reload: asyncio.Event) -> None:
    """SIGTERM and SIGINT stop the service; SIGHUP asks for a configuration reload."""
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload.set)
