"""The console works under its unit's system-call filter (tools/unit_seccomp.py, no systemd)."""

from __future__ import annotations

import http.cookiejar
import re
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tools.asterisk_sandbox import REPO, free_port
from tools.gatekeeper_run import GATEKEEPER, gatekeeper, wait_for_port, write_run_config

UNIT = str(REPO / "systemd" / "gatekeeper-console.service")
FILTERED = (
    "unshare",
    "--user",
    "--map-user=999",
    "--map-group=999",
    "--",
    "/usr/bin/python3",
    str(REPO / "tools" / "unit_seccomp.py"),
    UNIT,
    "--",
)
PASSWORD = "correct horse battery"


@pytest.fixture
def filtered_console(tmp_path: Path) -> Iterator[str]:
    """`gatekeeper console serve` under the unit's seccomp rules, as a non-zero uid."""
    probe = subprocess.run(["/usr/bin/python3", "-c", "import seccomp"], check=False)
    if probe.returncode:
        pytest.fail("python3-seccomp is missing: run tools/system-deps.sh")
    port = free_port()

    def customise(config: dict[str, Any]) -> None:
        config["console"] = {"listen": f"127.0.0.1:{port}", "secure_cookies": False}

    config = write_run_config(
        tmp_path, agi_port=free_port(), ami_port=free_port(), ami_secret="x", customise=customise
    )
    gatekeeper(config, "check", "0470 99 99 99", "--campaign", "spring-promo")
    command = (str(GATEKEEPER), "-c", str(config), "console")
    subprocess.run(
        [*FILTERED, *command, "user", "add", "alice", "--role", "officer"],
        input=PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
    )
    with (tmp_path / "console.log").open("wb") as log:
        process = subprocess.Popen([*FILTERED, *command, "serve"], stdout=log, stderr=log)
        try:
            wait_for_port(port, process, timeout=30)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=15)


def test_console_logs_in_and_searches_under_the_units_filter(filtered_console: str) -> None:
    """Log in and search (which appends to the decision log) with the unit's filter loaded."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with opener.open(filtered_console + "/login", timeout=10) as response:
        page = response.read().decode()
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    form = {"csrf": token.group(1), "name": "alice", "password": PASSWORD, "next": ""}
    opener.open(
        filtered_console + "/login", urllib.parse.urlencode(form).encode(), timeout=10
    ).close()
    with opener.open(filtered_console + "/search?go=1&number=0470999999", timeout=10) as response:
        found = response.read().decode()
    assert "+32470999999" in found
