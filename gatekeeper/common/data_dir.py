"""What a package needs to know of the settings to find its files: the data folder."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class HasDataDir(Protocol):
    """Settings that name the data folder (`gatekeeper.config.Settings` is one)."""

    @property
    def data_dir(self) -> Path:
        """The folder that holds the service's own files."""
