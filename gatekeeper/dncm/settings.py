"""The `dncm` section of the configuration: where the list comes from, how fresh it must be."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gatekeeper.dncm.layout import LayoutPin

DEFAULT_MAX_AGE_DAYS = 5
MAX_AGE_DAYS_LIMIT = 5
DEFAULT_MAX_SHRINK_PERCENT = 5


@dataclass(frozen=True, slots=True)
class SftpSource:
    """Fetch the list file over sFTP with key authentication."""

    host: str
    port: int
    user: str
    key_file: Path
    path: str
    known_hosts: Path | None = None


@dataclass(frozen=True, slots=True)
class DncmSettings:
    """Where the list comes from and how fresh it must be."""

    source_file: Path | None = None
    sftp: SftpSource | None = None
    max_age_days: int = DEFAULT_MAX_AGE_DAYS
    drop_folder: Path | None = None
    layout: LayoutPin = field(default_factory=LayoutPin)
    max_rejected_lines: int = 0
    max_shrink_percent: int = DEFAULT_MAX_SHRINK_PERCENT
