"""The console's trusted reverse-proxy login (`console.proxy_user_header`), over real HTTP."""

from __future__ import annotations

import http.client
import shutil
import subprocess
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright
from tools.asterisk_sandbox import free_port
from tools.gatekeeper_run import GATEKEEPER, gatekeeper, wait_for_port, write_run_config

PASSWORD = "correct horse battery"
HEADER = "X-Remote-User"
ACCOUNTS = {"alice": "officer", "ed": "editor"}


@dataclass(frozen=True)
class Served:
    """A running console: its port, config and log file."""

    port: int
    config: Path
    log: Path

    def get(self, path: str, user: str | None = None) -> http.client.HTTPResponse:
        """A GET with the proxy header naming `user` (none if None); redirects not followed."""
        return self.send("GET", path, {} if user is None else {HEADER: user})

    def send(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> http.client.HTTPResponse:
        """One request on a fresh connection; the response is read in full."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.body = response.read()  # type: ignore[attr-defined]
        conn.close()
        return response


def _serve(run: Path, trusted: list[str]) -> Iterator[Served]:
    port = free_port()

    def customise(config: dict[str, Any]) -> None:
        config["console"] = {
            "listen": f"127.0.0.1:{port}",
            "secure_cookies": False,
            "proxy_user_header": HEADER,
            "trusted_proxies": trusted,
        }

    config = write_run_config(
        run, agi_port=free_port(), ami_port=free_port(), ami_secret="x", customise=customise
    )
    gatekeeper(config, "check", "0470 99 99 99", "--campaign", "spring-promo")
    for name, role in ACCOUNTS.items():
        subprocess.run(
            [str(GATEKEEPER), "-c", str(config), "console", "user", "add", name, "--role", role],
            input=PASSWORD + "\n",
            text=True,
            check=True,
            capture_output=True,
        )
    log_file = run / "console.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [str(GATEKEEPER), "-c", str(config), "console", "serve"], stdout=log, stderr=log
        )
        try:
            wait_for_port(port, process, timeout=30)
            yield Served(port, config, log_file)
        finally:
            process.terminate()
            process.wait(timeout=15)


@pytest.fixture(scope="module")
def trusting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A console that trusts the header from 127.0.0.1 (where the tests connect from)."""
    yield from _serve(tmp_path_factory.mktemp("trusting"), ["127.0.0.1/32"])


@pytest.fixture(scope="module")
def distrusting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A console that trusts the header only from 192.0.2.1, not from the tests' address."""
    yield from _serve(tmp_path_factory.mktemp("distrusting"), ["192.0.2.1"])


def test_header_from_a_trusted_proxy_logs_in(trusting: Served) -> None:
    """A trusted proxy's header opens a session for that account: the search page, a cookie."""
    response = trusting.get("/search?go=1&number=0470999999", "alice")
    assert response.status == 200
    assert "+32470999999" in response.body.decode()  # type: ignore[attr-defined]
    assert "gk_session=" in (response.getheader("set-cookie") or "")


def test_header_from_an_untrusted_address_is_ignored(distrusting: Served) -> None:
    """The header from a peer not in trusted_proxies logs nobody in; it is logged as ignored."""
    response = distrusting.get("/search", "alice")
    assert (response.status, response.getheader("location")) == (303, "/login?next=/search")
    assert "console_proxy_header_ignored" in distrusting.log.read_text(encoding="utf-8")


def test_a_forwarded_address_does_not_make_the_header_trusted(distrusting: Served) -> None:
    """X-Forwarded-For naming a trusted proxy is not the connection's peer: still ignored."""
    response = distrusting.send("GET", "/search", {HEADER: "alice", "X-Forwarded-For": "192.0.2.1"})
    assert (response.status, response.getheader("location")) == (303, "/login?next=/search")


def test_unknown_account_is_refused(trusting: Served) -> None:
    """A trusted header naming no account is refused (403), never a login."""
    response = trusting.get("/search", "mallory")
    assert response.status == 403
    assert response.getheader("set-cookie") is None


def test_csrf_is_still_enforced_on_forms(trusting: Served) -> None:
    """A form posted with a trusted header but without the session's CSRF token is refused."""
    form = {
        "kind": "objection",
        "number": "0470 44 44 44",
        "advertiser": "acme",
        "date": "2025-01-01",
        "source": "phone",
        "reference": "r-1",
    }
    response = trusting.send(
        "POST",
        "/acts",
        {HEADER: "ed", "content-type": "application/x-www-form-urlencoded"},
        urllib.parse.urlencode(form).encode(),
    )
    assert response.status == 403
    assert "Form expired or invalid" in response.body.decode()  # type: ignore[attr-defined]
    shown = gatekeeper(trusting.config, "objection", "show", "+32470444444").stdout
    assert "r-1" not in shown


def test_browser_behind_a_trusted_proxy_lands_logged_in(trusting: Served) -> None:
    """A browser whose requests carry the header (as the proxy adds it) sees no login form."""
    binary = shutil.which("chromium")
    assert binary is not None, "chromium is missing: tools/system-deps.sh installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=binary, args=["--no-sandbox"])
        try:
            context = browser.new_context(
                java_script_enabled=False, locale="en-GB", extra_http_headers={HEADER: "alice"}
            )
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{trusting.port}/")
            assert page.url.endswith("/search")
            assert page.locator("#search").count() == 1
            assert page.locator("input[name=password]").count() == 0
        finally:
            browser.close()
