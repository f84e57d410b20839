"""How the shared stores tell the operator: `/healthz` checks and metric refreshers for `serve`."""

from __future__ import annotations

import asyncio
import contextlib

from gatekeeper.health import Check, CheckResult
from gatekeeper.metrics import Metrics
from gatekeeper.stores.postgres.replica import ActReplica

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
        metrics.set_acts_replica(status.current, status.age_s)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(REFRESH_S):
                await stop.wait()
