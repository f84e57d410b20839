"""`gatekeeper serve` with the shared stores: acts and central_log in /healthz, records shipped."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tools.asterisk_sandbox import free_port
from tools.gatekeeper_run import GATEKEEPER, gatekeeper, write_run_config

from postgres_support import SharedDatabase

START_S = 30.0


def healthz(port: int) -> dict[str, Any]:
    """The /healthz document (whatever its status code)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            document: dict[str, Any] = json.load(answer)
    except urllib.error.HTTPError as answer:
        document = json.load(answer)
    return document


def test_serve_reports_and_ships_to_postgres(shared_db: SharedDatabase, tmp_path: Path) -> None:
    """Serve shows the acts and central_log checks healthy and ships its start record."""
    settings = shared_db.add_role("pbx_a")
    health_port = free_port()

    def shared(config: dict[str, Any]) -> None:
        store = {"postgresql": settings.dsn, "password_file": str(settings.password_file)}
        config.update(node="pbx_a", acts=store, central_log=store)

    config = write_run_config(
        tmp_path, agi_port=free_port(), ami_port=1, ami_secret="s", customise=shared,
        health_port=health_port,
    )  # fmt: skip
    gatekeeper(config, "sync")
    serve = subprocess.Popen([str(GATEKEEPER), "-c", str(config), "serve"])
    try:
        deadline = time.monotonic() + START_S
        checks: dict[str, Any] = {}
        shipped: list[tuple[object, ...]] = []
        while time.monotonic() < deadline and not (shipped and checks["central_log"]["ok"]):
            time.sleep(0.2)
            assert serve.poll() is None, "serve exited"
            try:
                checks = healthz(health_port)["checks"]
            except OSError:
                continue
            with shared_db.superuser() as conn:
                shipped = conn.execute(
                    "SELECT kind FROM gatekeeper.decision_log WHERE node = 'pbx_a'"
                    " AND type = 'event'"
                ).fetchall()
        assert checks["acts"]["ok"], checks["acts"]
        assert checks["central_log"]["ok"], checks["central_log"]
        assert ("service_start",) in shipped
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
