"""The four checks behind `/healthz`: AGI up and unsaturated, AMI up, list fresh, log writable."""

from __future__ import annotations

import os
from collections.abc import Callable

from gatekeeper.agi.server import AgiServer
from gatekeeper.checker import Checker
from gatekeeper.config import Settings, legal_today
from gatekeeper.dncm.index import ListIndex
from gatekeeper.health import Check

CheckResult = tuple[bool, str]


def agi_check(server: AgiServer) -> Check:
    """Healthy while the FastAGI server accepts calls and no connection cap was hit lately."""

    def check() -> CheckResult:
        status = server.status()
        if status.port is None:
            return False, "not listening"
        load = f"{status.active} of {status.max_connections} connections in use"
        if status.saturated:
            assert status.seconds_since_saturated is not None
            refused = ", ".join(f"{k} {v}" for k, v in sorted(status.refused.items()))
            return False, (
                f"saturated: a connection cap was reached {status.seconds_since_saturated:.0f} s"
                f" ago, calls are being refused (and blocked); {load}; refused since start:"
                f" {refused}"
            )
        return True, f"listening on port {status.port}; {load}"

    return check


def list_check(index: ListIndex, settings: Callable[[], Settings]) -> Check:
    """Healthy while the list snapshot in use is within dncm.max_age_days."""

    def check() -> CheckResult:
        snapshot = index.snapshot()
        if snapshot is None:
            return False, "no DNCM list imported: commercial calls block with list_missing"
        max_age = settings().dncm.max_age_days
        age = (legal_today() - snapshot.list_date).days
        detail = f"list of {snapshot.list_date.isoformat()}, {age} days old (max {max_age})"
        if age > max_age:
            return False, f"{detail}: commercial calls block with list_stale"
        return True, detail

    return check


def log_check(checker: Checker, settings: Callable[[], Settings]) -> Check:
    """Healthy while the last decision was recorded and the log file is writable."""

    def check() -> CheckResult:
        failure = checker.record_failure
        if failure is not None:
            return False, f"last decision could not be recorded: {failure}"
        path = settings().data_dir / "audit" / "decisions.sqlite"
        if not os.access(path, os.W_OK):
            return False, f"{path} is not writable"
        return True, f"{path} writable"

    return check
