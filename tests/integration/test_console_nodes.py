"""The console's Nodes page: every node's list from the central copy, or this node's /healthz."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
import http.cookiejar
import re
import shutil
import socketserver
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from gatekeeper.audit.log import DecisionLog
from gatekeeper.common.clock import today
from gatekeeper.config import PostgresSettings
from gatekeeper.stores.postgres.shipper import LogShipper
from playwright.sync_api import sync_playwright
from tools.asterisk_sandbox import free_port
from tools.gatekeeper_run import (
    GATEKEEPER,
    GatekeeperRun,
    gatekeeper,
    wait_for_port,
    write_run_config,
)

from audit_support import NOT_LISTED
from postgres_support import SharedDatabase

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "console"
PASSWORD = "correct horse battery"
NODE_CONFIG = """\
licensee: {name: Example Contact NV, role: service_provider, licence_valid_until: 2099-06-30}
data_dir: data
dncm: {source: {file: list.txt}}
"""
LIST = "0486993908;2015-02-19\n0470123456;2016-03-01\n"
NEWEST = date(2026, 11, 30)
HEALTH_WAIT_S = 30.0


@dataclass
class Console:
    """A `gatekeeper console serve` process, its config and the health port it reads."""

    base: str
    config: Path
    health_port: int

    def nodes_page(self) -> str:
        """The Nodes page's HTML, read by a logged-in officer."""
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        with opener.open(self.base + "/login", timeout=10) as response:
            token = re.search(r'name="csrf" value="([^"]+)"', response.read().decode())
        assert token is not None
        form = {"csrf": token.group(1), "name": "alice", "password": PASSWORD, "next": ""}
        opener.open(self.base + "/login", urllib.parse.urlencode(form).encode(), timeout=10).close()
        with opener.open(self.base + "/nodes", timeout=20) as response:
            assert response.status == 200
            return str(response.read().decode())


@contextlib.contextmanager
def console_on(run: Path, console: dict[str, Any] | None = None) -> Iterator[Console]:
    """The console on a fresh run folder (sample list synced), with `console` settings added."""
    port, health_port = free_port(), free_port()

    def customise(config: dict[str, Any]) -> None:
        config["console"] = {
            "listen": f"127.0.0.1:{port}",
            "secure_cookies": False,
            **(console or {}),
        }

    path = write_run_config(
        run,
        agi_port=free_port(),
        ami_port=free_port(),
        ami_secret="unused",
        health_port=health_port,
        customise=customise,
    )
    gatekeeper(path, "sync", "--list-date", today().isoformat())
    command = [str(GATEKEEPER), "-c", str(path), "console"]
    subprocess.run(
        [*command, "user", "add", "alice", "--role", "officer"],
        input=PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
    )
    with (run / "console.log").open("wb") as log:
        process = subprocess.Popen([*command, "serve"], stdout=log, stderr=log)
        try:
            wait_for_port(port, process, timeout=30)
            yield Console(f"http://127.0.0.1:{port}", path, health_port)
        finally:
            process.terminate()
            process.wait(timeout=15)


@pytest.fixture(scope="module")
def local_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The console on the local log; nothing listens on its health port until a test says."""
    with console_on(tmp_path_factory.mktemp("local")) as console:
        yield console


class _Answer(socketserver.BaseRequestHandler):
    """Reads the request head, then writes the server's `answer` bytes (or nothing)."""

    server: _FakeHealth

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            chunk = self.request.recv(1024)
            if not chunk:
                return
            head += chunk
        if self.server.answer is None:
            self.server.release.wait(10)
            return
        self.request.sendall(self.server.answer)


class _FakeHealth(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, port: int, answer: bytes | None) -> None:
        self.answer = answer
        self.release = threading.Event()
        super().__init__(("127.0.0.1", port), _Answer)


@contextlib.contextmanager
def hostile_health(port: int, answer: bytes | None) -> Iterator[None]:
    """A real HTTP listener on `port` answering `answer` to any request (None: never answers)."""
    server = _FakeHealth(port, answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


def http_answer(body: bytes, status: str = "200 OK") -> bytes:
    """An HTTP/1.1 answer with `body` as JSON."""
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
    return head.encode() + body


def problem(page: str) -> str:
    """The text of the page's problem line, tags removed."""
    found = re.search(r'<p id="health-problem"[^>]*>(.*?)</p>', page, re.DOTALL)
    assert found is not None, page
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1)))


def test_local_page_shows_a_healthy_serves_checks(local_console: Console, tmp_path: Path) -> None:
    """With serve up and healthy, every /healthz check is listed as ok with its detail."""
    with GatekeeperRun(tmp_path / "serve", health_port=local_console.health_port):
        url = f"http://127.0.0.1:{local_console.health_port}/healthz"
        _wait_healthy(url)
        page = local_console.nodes_page()
    checks = re.findall(r'<td class="check">([^<]+)</td><td class="(ok|error)">', page)
    assert sorted(checks) == [
        (name, "ok") for name in ("agi", "ami", "disk", "late_records", "list", "log")
    ]
    assert '<p id="health-summary" class="ok">Every check passes.</p>' in page


def _wait_healthy(url: str) -> None:
    deadline = time.monotonic() + HEALTH_WAIT_S
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as response:
            if response.status == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{url} not healthy after {HEALTH_WAIT_S} s")


def test_serve_down_is_shown_as_not_answering(local_console: Console) -> None:
    """Nothing on health.listen: the page says the service is not answering, with 200."""
    shown = problem(local_console.nodes_page())
    assert shown == "The service is not answering (Connection refused)"


def test_serve_that_never_answers_is_not_answering(local_console: Console) -> None:
    """A listener that accepts and stays silent is not answering once the deadline passes."""
    with hostile_health(local_console.health_port, None):
        shown = problem(local_console.nodes_page())
    assert shown == "The service is not answering (no answer within 2.5 s)"


def test_a_huge_healthz_answer_is_not_shown(local_console: Console) -> None:
    """An answer over the size cap is refused as too large, none of it on the page."""
    body = b'{"checks": {"x": {"ok": true, "detail": "' + b"A" * 200_000 + b'"}}}'
    with hostile_health(local_console.health_port, http_answer(body)):
        page = local_console.nodes_page()
    assert problem(page).startswith("The service's answer is too large; not shown")
    assert "AAAAAAAAAA" not in page


def test_html_in_healthz_details_is_shown_as_text(local_console: Console) -> None:
    """Markup in a check's name and detail reaches the page escaped, never as elements."""
    body = (
        b'{"checks": {"<b>x</b>": {"ok": false, "detail": "<script>alert(1)</script>'
        b'<img src=x onerror=alert(2)>"}}}'
    )
    with hostile_health(local_console.health_port, http_answer(body, "503 Unavailable")):
        page = local_console.nodes_page()
    assert "<script>" not in page
    assert "<img" not in page
    assert "<b>x</b>" not in page
    assert (
        '<td class="check">&lt;b&gt;x&lt;/b&gt;</td><td class="error">FAILED</td>'
        "<td>&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;</td>"
    ) in page


def test_invalid_json_healthz_is_named_not_a_report(local_console: Console) -> None:
    """An answer that is not JSON is named as no health report, nothing else shown."""
    with hostile_health(local_console.health_port, http_answer(b'{"checks": {"x": ')):
        shown = problem(local_console.nodes_page())
    assert shown == "The service's answer is not a health report (not JSON)"


def test_reading_the_nodes_page_records_no_access(local_console: Console) -> None:
    """Like the events page, the Nodes page shows no personal data and records nothing."""
    local_console.nodes_page()
    done = gatekeeper(local_console.config, "audit", "events", "--kind", "console_access", "--json")
    assert done.stdout == ""


class Nodes:
    """Node folders that sync their own list (a real `gatekeeper sync`) and ship their log."""

    def __init__(self, database: SharedDatabase, root: Path) -> None:
        """Nothing is created until a node syncs."""
        self.database = database
        self.root = root

    def sync_and_ship(self, node: str, list_date: date, pbx: str | None = None) -> None:
        """Import LIST as the node's list of `list_date` (and decide once via `pbx`), then ship."""
        folder = self.root / node
        folder.mkdir()
        (folder / "list.txt").write_text(LIST, encoding="utf-8")
        config = folder / "gatekeeper.yaml"
        config.write_text(NODE_CONFIG, encoding="utf-8")
        gatekeeper(config, "sync", "--list-date", list_date.isoformat())
        log = folder / "data" / "audit" / "decisions.sqlite"
        asyncio.run(self._decide_and_ship(node, log, pbx))

    async def _decide_and_ship(self, node: str, path: Path, pbx: str | None) -> None:
        if pbx is not None:
            log = await DecisionLog.open(path)
            try:
                await log.record(dataclasses.replace(NOT_LISTED, pbx=pbx))
            finally:
                await log.close()
        await LogShipper(self.database.add_role(node), node, path).ship_once()


def central_settings(settings: PostgresSettings) -> dict[str, Any]:
    """`console.central_log` for these settings."""
    return {
        "central_log": {"postgresql": settings.dsn, "password_file": str(settings.password_file)}
    }


def test_central_page_lists_both_nodes_and_flags_the_one_behind(
    shared_db: SharedDatabase, tmp_path: Path
) -> None:
    """Each shipped node has a row with its list; the one on an older list is BEHIND."""
    nodes = Nodes(shared_db, tmp_path / "nodes")
    nodes.root.mkdir()
    nodes.sync_and_ship("pbx_a", NEWEST)
    nodes.sync_and_ship("pbx_b", date(2026, 11, 1))
    officer = shared_db.add_role("officer", "gatekeeper_reader")
    with console_on(tmp_path / "run", central_settings(officer)) as console:
        page = console.nodes_page()
    rows = {
        row[0]: row[1:]
        for row in re.findall(
            r'<td class="node">([^<]+)</td>\s*<td>[^<]*</td>\s*<td>([^<]+)</td>.*?'
            r'<td class="flags">(.*?)</td>',
            page,
            re.DOTALL,
        )
    }
    assert rows == {
        "pbx_a": ("2026-11-30", '<span class="ok">in step</span>'),
        "pbx_b": ("2026-11-01", '<span class="flag flag-behind">BEHIND</span> '),
    }


def test_central_page_works_in_a_browser_with_scripts_off(
    shared_db: SharedDatabase, tmp_path: Path
) -> None:
    """In Chromium with JavaScript off, the nav leads to the nodes and the behind one is marked."""
    nodes = Nodes(shared_db, tmp_path / "nodes")
    nodes.root.mkdir()
    nodes.sync_and_ship("pbx_a", NEWEST, "pbx-a.brussels")
    nodes.sync_and_ship("pbx_b", NEWEST, "pbx-b.brussels")
    nodes.sync_and_ship("pbx_c", date(2026, 11, 23), "pbx-c.liege")
    officer = shared_db.add_role("officer", "gatekeeper_reader")
    binary = shutil.which("chromium")
    assert binary is not None, "chromium is missing: tools/system-deps.sh installs it"
    with (
        console_on(tmp_path / "run", central_settings(officer)) as console,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=binary, args=["--no-sandbox"])
        try:
            page = browser.new_context(java_script_enabled=False, locale="en-GB").new_page()
            page.goto(console.base + "/login")
            page.fill("input[name=name]", "alice")
            page.fill("input[name=password]", PASSWORD)
            page.click("#login")
            page.click("header a[href='/nodes']")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "nodes.png"), full_page=True)
            behind = page.locator("#nodes tr", has=page.locator(".flag-behind"))
            assert behind.locator("td.node").all_inner_texts() == ["pbx_c"]
        finally:
            browser.close()


@pytest.fixture
def stalled_central(shared_db: SharedDatabase, tmp_path: Path) -> Iterator[Console]:
    """A console on a central copy whose log table is locked, so every read of it waits."""
    nodes = Nodes(shared_db, tmp_path / "nodes")
    nodes.root.mkdir()
    nodes.sync_and_ship("pbx_a", NEWEST)
    officer = shared_db.add_role("officer", "gatekeeper_reader")
    with shared_db.superuser() as lock, lock.transaction():
        lock.execute("LOCK TABLE gatekeeper.decision_log IN ACCESS EXCLUSIVE MODE")
        with console_on(tmp_path / "run", central_settings(officer)) as console:
            yield console


def nodes_problem(page: str) -> str:
    """The text of the central view's problem line."""
    found = re.search(r'<p id="nodes-problem"[^>]*>([^<]+)</p>', page)
    assert found is not None, page
    return html.unescape(found.group(1))


def test_a_stalled_central_store_is_unavailable_after_the_deadline(
    stalled_central: Console,
) -> None:
    """A read that does not finish within its deadline is the unavailable line, not a hang."""
    shown = nodes_problem(stalled_central.nodes_page())
    assert shown == "The central store is unavailable; no node shown."


def test_a_page_while_a_read_still_runs_starts_no_other(stalled_central: Console) -> None:
    """While the last read still waits on the database, the next page says so, reading nothing."""
    stalled_central.nodes_page()
    shown = nodes_problem(stalled_central.nodes_page())
    assert shown == "The previous reading of the nodes is still running; try again later."


def test_central_store_down_is_an_unavailable_line(tmp_path: Path) -> None:
    """A central store that cannot be reached is one line on the page, not an error page."""
    secret = tmp_path / "officer.password"
    secret.write_text("unused\n", encoding="utf-8")
    down = PostgresSettings(f"host=127.0.0.1 port={free_port()} dbname=gk user=officer", secret)
    with console_on(tmp_path / "run", central_settings(down)) as console:
        page = console.nodes_page()
    assert nodes_problem(page) == "The central store is unavailable; no node shown."
