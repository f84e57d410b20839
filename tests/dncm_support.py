"""Helpers of the list sync tests: a config, dated list files, the chain's list_sync records."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

GATEKEEPER = str(Path(sys.executable).parent / "gatekeeper")
REPO = Path(__file__).resolve().parent.parent


def write_config(folder: Path, source: str = "{file: list.txt}", data_dir: str = "data") -> Path:
    """A minimal configuration whose list source and data folder are in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "gatekeeper.yaml"
    path.write_text(
        "licensee: {name: Test NV, role: service_provider, licence_valid_until: 2099-01-01}\n"
        f"data_dir: {data_dir}\n"
        f"dncm:\n  source: {source}\n"
    )
    return path


def write_list(path: Path, rows: list[tuple[int, date]], *, modified: date | None = None) -> Path:
    """A list file of `047xxxxxxx;YYYY-MM-DD` lines, its mtime at noon UTC of `modified`."""
    path.write_text("".join(f"047{n:07d};{day.isoformat()}\n" for n, day in rows), encoding="ascii")
    if modified is not None:
        set_mtime(path, modified)
    return path


def set_mtime(path: Path, day: date) -> None:
    """Set a file's modification time to noon UTC of `day`."""
    stamp = datetime.combine(day, time(12), UTC).timestamp()
    os.utime(path, (stamp, stamp))


def list_syncs(data_dir: Path) -> list[dict[str, Any]]:
    """The details of every list_sync record in the decision log's chain, in chain order."""
    path = data_dir / "audit" / "decisions.sqlite"
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT body FROM chain WHERE kind = 'list_sync' ORDER BY seq"
        ).fetchall()
    return [json.loads(body)["details"] for (body,) in rows]


def run_gatekeeper(
    config: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `gatekeeper -c CONFIG ARGS…` with this checkout's code; output captured."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [GATEKEEPER, "-c", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env=env,
    )
