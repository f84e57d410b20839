"""Every folder the gatekeeper creates under and above its data files is private (0700)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gatekeeper.common.clock import today
from tools.gatekeeper_run import gatekeeper, write_run_config

EXPECTED = (
    "var",
    "var/gatekeeper",
    "var/gatekeeper/audit",
    "var/gatekeeper/audit/anchors",
    "var/gatekeeper/consent",
    "var/gatekeeper/dncm",
    "var/gatekeeper/dncm/inbox",
    "var/gatekeeper/dncm/snapshots",
    "var/gatekeeper/inbox",
)


def _nested_data_dir(config: dict[str, Any]) -> None:
    config["data_dir"] = "var/gatekeeper"


def test_every_created_folder_is_private(tmp_path: Path) -> None:
    """sync, consent add and check from nothing leave data_dir, its parents and children 0700."""
    config = write_run_config(
        tmp_path, agi_port=4573, ami_port=5038, ami_secret="unused", customise=_nested_data_dir
    )
    gatekeeper(config, "sync", "--list-date", today().isoformat())
    gatekeeper(
        config, "consent", "add", "0470123456", "--advertiser", "acme", "--date", "2026-01-02"
    )
    gatekeeper(config, "check", "0470999999", "--campaign", "spring-promo")
    root = tmp_path / "var"
    folders = [root, *(p for p in root.rglob("*") if p.is_dir())]
    modes = {p.relative_to(tmp_path).as_posix(): oct(p.stat().st_mode & 0o777) for p in folders}
    assert modes == dict.fromkeys(EXPECTED, "0o700")
