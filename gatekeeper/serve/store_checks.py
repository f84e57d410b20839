"""How the shared stores tell the operator: `/healthz` checks and metric refreshers for `serve`."""

from __future__ import annotations

import asyncio
import contextlib

from gatekeeper.serve.health import Check, CheckResult
from gatekeeper.serve.metrics import Metrics
from gatekeeper.stores.postgres.replica import ActReplica
from gatekeeper.stores.postgres.shipper import LAG_ALERT_S, LogShipper

REFRESH_S = 1.0


def acts_check(replica: ActReplica) -> Check:
    """Healthy while the replica of the shared acts is within its bound."""

    def check() -> CheckResult:
        status = replica.status()
        seen = "never read" if status.age_s is None else f"confirmed {status.age_s:.2f} s ago"
        detail = f"{status.acts} live acts, change {status.change_seq}, {seen}"
        if not status.current:
            cause = f": {status.error}" if status.error else ""
            return False, f"{detail}; commercial calls block with acts_unavailable{cause}"
        return True, detail

    return check


async def watch_replica(replica: ActReplica, metrics: Metrics, stop: asyncio.Event) -> None:
    """Refresh the replica's age and currency in the metrics until `stop`."""
    while not stop.is_set():
        status = replica.status()
        metrics.set_acts_replica(current=status.current, age_s=status.age_s)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(REFRESH_S):
                await stop.wait()


def central_log_check(shipper: LogShipper) -> Check:
    """Healthy while the central copy is reachable and less than LAG_ALERT_S behind."""

    def check() -> CheckResult:
        status = shipper.status()
        shipped = "unknown" if status.shipped_seq is None else str(status.shipped_seq)
        detail = (
            f"shipped up to {shipped} of {status.local_seq}; {status.lag_records} records"
            f" waiting, oldest {status.lag_s:.0f} s"
        )
        if status.error is not None:
            return False, f"{detail}; not shipping: {status.error}"
        if status.lag_s > LAG_ALERT_S:
            return False, f"{detail}: over {LAG_ALERT_S:.0f} s behind"
        return True, detail

    return check


async def watch_shipper(shipper: LogShipper, metrics: Metrics, stop: asyncio.Event) -> None:
    """Refresh the shipping lag in the metrics until `stop`."""
    while not stop.is_set():
        status = shipper.status()
        metrics.set_central_log_lag(status.lag_records, status.lag_s, ok=status.error is None)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(REFRESH_S):
                await stop.wait()
