"""Free space on the data folder's filesystem, against the limits of `audit.disk_*`."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path

from gatekeeper.audit import AuditSettings

MIB = 1024 * 1024


class DiskState(enum.IntEnum):
    """How close the filesystem is to full (the value is the metric's)."""

    OK = 0
    LOW = 1
    FULL = 2


@dataclass(frozen=True, slots=True)
class DiskSpace:
    """Bytes free (for an unprivileged writer) and in all, and what that means."""

    free: int
    total: int
    state: DiskState

    def describe(self, path: Path) -> str:
        """One line for `/healthz` and the service log."""
        percent = 100 * self.free / self.total if self.total else 0.0
        sizes = f"{self.free / MIB:,.0f} MiB free of {self.total / MIB:,.0f} MiB"
        return f"{sizes} ({percent:.1f}%) at {path}"


def disk_space(path: Path, limits: AuditSettings) -> DiskSpace:
    """The free space of the filesystem holding `path`, classified by `limits`."""
    stats = os.statvfs(path)
    free = stats.f_bavail * stats.f_frsize
    total = stats.f_blocks * stats.f_frsize
    if free < limits.disk_fail_free_mib * MIB:
        state = DiskState.FULL
    elif (
        free < limits.disk_warn_free_mib * MIB or free * 100 < total * limits.disk_warn_free_percent
    ):
        state = DiskState.LOW
    else:
        state = DiskState.OK
    return DiskSpace(free, total, state)
