"""The checks behind `/healthz`: AGI up and unsaturated, AMI up, list fresh, log writable, disk."""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import structlog

from gatekeeper.agi import AgiServer
from gatekeeper.audit import DecisionLog
from gatekeeper.check import Checker
from gatekeeper.common import today
from gatekeeper.config import Settings
from gatekeeper.dncm import ListIndex
from gatekeeper.serve.disk import DiskSpace, DiskState, disk_space
from gatekeeper.serve.health import Check

CheckResult = tuple[bool, str]

log = structlog.get_logger("gatekeeper.serve.health")


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
        age = (today() - snapshot.list_date).days
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


def disk_check(settings: Callable[[], Settings]) -> Check:
    """Healthy while data_dir's filesystem has room; a warning (still healthy) when it runs low.

    Below `audit.disk_fail_free_mib` the decision log may stop and every call would block.
    """

    def check() -> CheckResult:
        current = settings()
        space = disk_space(current.data_dir, current.audit)
        detail = space.describe(current.data_dir)
        if space.state is DiskState.FULL:
            log.error("disk_space_critical", detail=detail)
            limit = current.audit.disk_fail_free_mib
            return False, f"{detail}: under {limit} MiB, the decision log may stop (calls block)"
        if space.state is DiskState.LOW:
            log.warning("disk_space_low", detail=detail)
            audit = current.audit
            limits = f"{audit.disk_warn_free_mib} MiB or {audit.disk_warn_free_percent}%"
            return True, f"warning: {detail}, under {limits}"
        return True, detail

    return check


def late_records_check(decision_log: DecisionLog) -> Check:
    """Healthy while every decision answered without its record can still be recorded late."""

    def check() -> CheckResult:
        pending, limit = decision_log.late_pending, decision_log.max_late
        refused = decision_log.late_refused
        detail = f"{pending} decisions waiting to be recorded late (limit {limit})"
        if refused:
            return False, f"{detail}; {refused} could not be kept (their content is in the log)"
        if pending >= limit:
            return False, f"{detail}: full, further late records are refused"
        return True, detail

    return check


def storage_readings(
    settings: Callable[[], Settings], decision_log: DecisionLog
) -> dict[str, Callable[[], float]]:
    """What the storage gauges read at each scrape (NaN when the filesystem cannot say)."""

    def disk(pick: Callable[[DiskSpace], int]) -> Callable[[], float]:
        def read() -> float:
            current = settings()
            try:
                return float(pick(disk_space(current.data_dir, current.audit)))
            except OSError:
                return math.nan

        return read

    def wal() -> float:
        try:
            return float(decision_log.wal_bytes())
        except OSError:
            return math.nan

    return {
        "gatekeeper_disk_free_bytes": disk(lambda space: space.free),
        "gatekeeper_disk_low": disk(lambda space: space.state.value),
        "gatekeeper_audit_wal_bytes": wal,
        "gatekeeper_audit_late_pending": lambda: float(decision_log.late_pending),
        "gatekeeper_audit_late_refused": lambda: float(decision_log.late_refused),
    }
