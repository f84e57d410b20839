"""The `audit` section of the configuration: retention of the decision log and its disk limits."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_RETENTION_DAYS = 1095
DEFAULT_DISK_WARN_FREE_MIB = 1024
DEFAULT_DISK_WARN_FREE_PERCENT = 5
DEFAULT_DISK_FAIL_FREE_MIB = 100
MAX_DISK_LIMIT_MIB = 1 << 30


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """How long the decision log keeps its records, and how much free disk it must have.

    The disk limits are on data_dir's filesystem: `/healthz` warns below either warning limit
    and fails below `disk_fail_free_mib` (docs/audit.md).
    """

    retention_days: int = DEFAULT_RETENTION_DAYS
    disk_warn_free_mib: int = DEFAULT_DISK_WARN_FREE_MIB
    disk_warn_free_percent: int = DEFAULT_DISK_WARN_FREE_PERCENT
    disk_fail_free_mib: int = DEFAULT_DISK_FAIL_FREE_MIB
