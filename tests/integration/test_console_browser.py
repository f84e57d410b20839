"""The web console in a real browser: headless Chromium (the system's) driven by Playwright."""

from __future__ import annotations

import contextlib
import csv
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from gatekeeper.common.clock import today
from gatekeeper.console.security import SESSION_COOKIE
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from tools.asterisk_sandbox import free_port
from tools.gatekeeper_run import (
    GATEKEEPER,
    GatekeeperRun,
    gatekeeper,
    wait_for_port,
    write_run_config,
)

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "console"
PASSWORD = "correct horse battery"
HOSTILE_NUMBER = "<script>alert(1)</script>"
HOSTILE_CAMPAIGN = '=HYPERLINK("http://x","<b>click</b>")'
ALLOWED = "0470 99 99 99"
ALLOWED_E164 = "+32470999999"
ACCOUNTS = {"alice": "officer", "ed": "editor", "root": "admin", "mallory": "officer"}


@dataclass
class Console:
    """A `gatekeeper console serve` process on a run folder, and its config."""

    config: Path
    base: str

    def url(self, path: str) -> str:
        """An address on the console."""
        return self.base + path

    def events(self, kind: str) -> list[dict[str, Any]]:
        """The decision log's events of this kind, details only."""
        done = gatekeeper(self.config, "audit", "events", "--kind", kind, "--json")
        return [json.loads(line)["details"] for line in done.stdout.splitlines()]


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The example config with the sample list, three decisions (one hostile) and four accounts."""
    run = tmp_path_factory.mktemp("console")
    port = free_port()

    def customise(config: dict[str, Any]) -> None:
        config["console"] = {"listen": f"127.0.0.1:{port}", "secure_cookies": False}

    path = write_run_config(
        run, agi_port=free_port(), ami_port=free_port(), ami_secret="unused", customise=customise
    )
    gatekeeper(path, "sync", "--list-date", today().isoformat())
    gatekeeper(path, "check", ALLOWED, "--campaign", "spring-promo")
    gatekeeper(path, "check", "0470 12 34 56", "--campaign", "spring-promo")
    gatekeeper(path, "check", HOSTILE_NUMBER, "--campaign", HOSTILE_CAMPAIGN)
    for name, role in ACCOUNTS.items():
        subprocess.run(
            [str(GATEKEEPER), "-c", str(path), "console", "user", "add", name, "--role", role],
            input=PASSWORD + "\n",
            text=True,
            check=True,
            capture_output=True,
        )
    with (run / "console.log").open("wb") as log:
        process = subprocess.Popen(
            [str(GATEKEEPER), "-c", str(path), "console", "serve"], stdout=log, stderr=log
        )
        try:
            wait_for_port(port, process, timeout=30)
            yield Console(path, f"http://127.0.0.1:{port}")
        finally:
            process.terminate()
            process.wait(timeout=15)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """The system's Chromium, headless (tools/system-deps.sh installs it)."""
    binary = shutil.which("chromium")
    assert binary is not None, "chromium is missing: tools/system-deps.sh installs it"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=binary, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile with scripts off, so every page must work without them."""
    made = browser.new_context(java_script_enabled=False, locale="en-GB", accept_downloads=True)
    yield made
    made.close()


def login(page: Page, console: Console, name: str, password: str = PASSWORD) -> None:
    """Fill and send the login form."""
    page.goto(console.url("/login"))
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("#login")


def shot(page: Page, name: str) -> None:
    """Keep a screenshot of the page for the docs (tests/artifacts/console/)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def session_cookie(context: BrowserContext) -> dict[str, Any]:
    """The browser's session cookie."""
    return next(dict(c) for c in context.cookies() if c["name"] == SESSION_COOKIE)


def test_officer_logs_in_searches_and_opens_a_decision(
    console: Console, context: BrowserContext
) -> None:
    """Search by a number in any written form finds its decision; its page shows why."""
    page = context.new_page()
    login(page, console, "alice")
    page.fill("input[name=number]", "+32 (0)470/99.99.99")
    page.click("#search")
    shot(page, "search")
    page.click("#results a")
    shot(page, "decision")
    assert (
        page.inner_text("#verdict"),
        page.inner_text("#reason"),
        page.inner_text("#dialled"),
        page.inner_text("#chain").startswith("Chain verified"),
    ) == ("ALLOW", "not_listed", ALLOWED, True)


def test_session_cookie_is_httponly_and_samesite_strict(
    console: Console, context: BrowserContext
) -> None:
    """The session cookie cannot be read by scripts nor sent from another site."""
    login(context.new_page(), console, "alice")
    cookie = session_cookie(context)
    assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Strict")


def test_hostile_dialled_string_and_campaign_render_as_text(
    console: Console, context: BrowserContext
) -> None:
    """A dialled `<script>` and a formula campaign show as their own text, no element made."""
    page = context.new_page()
    login(page, console, "alice")
    page.fill("input[name=number]", HOSTILE_NUMBER)
    page.click("#search")
    shot(page, "hostile")
    assert (
        page.inner_text("#results td.number"),
        page.inner_text("#results td.campaign"),
        page.locator("script").count(),
        page.locator("#results b").count(),
    ) == (HOSTILE_NUMBER, HOSTILE_CAMPAIGN, 0, 0)


def test_csv_export_makes_formula_cells_text(console: Console, context: BrowserContext) -> None:
    """The CSV of a search goes through csv_cell: a formula campaign starts with a quote."""
    page = context.new_page()
    login(page, console, "alice")
    page.goto(console.url("/search?go=1&campaign=" + HOSTILE_CAMPAIGN.replace('"', "%22")))
    with page.expect_download() as download:
        page.click("#export")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert [(row["campaign"], row["dialled"]) for row in rows] == [
        ("'" + HOSTILE_CAMPAIGN, HOSTILE_NUMBER)
    ]


def test_report_downloads_with_the_numbers_evidence(
    console: Console, context: BrowserContext
) -> None:
    """The report for a period and a number is the audit report page, as a download."""
    page = context.new_page()
    login(page, console, "alice")
    page.goto(console.url("/reports"))
    page.fill("input[name=number]", ALLOWED)
    shot(page, "reports")
    with page.expect_download() as download:
        page.click("#download")
    html = Path(download.value.path()).read_text(encoding="utf-8")
    assert ("Beslissingsrapport" in html, 'id="evidence"' in html, ALLOWED_E164 in html) == (
        True,
        True,
        True,
    )


def test_searches_and_reports_name_the_account_in_the_chain(
    console: Console, context: BrowserContext
) -> None:
    """Who searched for which number is a console_access event in the decision log."""
    page = context.new_page()
    login(page, console, "alice")
    page.fill("input[name=number]", "0470/12.34.56")
    page.click("#search")
    seen = [(e["account"], e["action"]) for e in console.events("console_access") if "number" in e]
    assert ("alice", "search") in seen
    assert any(
        e.get("number") == "+32470123456" and e["account"] == "alice"
        for e in console.events("console_access")
    )


def test_editor_records_an_objection_and_the_next_check_blocks(
    console: Console, context: BrowserContext
) -> None:
    """An objection recorded in the console is in force for the next `gatekeeper check`."""
    before = gatekeeper(console.config, "check", "0470 88 88 88", "--campaign", "spring-promo")
    page = context.new_page()
    login(page, console, "ed")
    page.goto(console.url("/acts"))
    page.fill("#act-form input[name=number]", "0470 88 88 88")
    page.fill("#act-form input[name=reference]", "letter 2025-17")
    page.click("#record")
    shot(page, "acts")
    after = gatekeeper(
        console.config, "check", "0470 88 88 88", "--campaign", "spring-promo", "--json"
    )
    acts = [e for e in console.events("console_act") if e.get("number") == "+32470888888"]
    assert (
        "ALLOW" in before.stdout,
        json.loads(after.stdout)["reason"],
        page.locator("#history td", has_text="Objection").count(),
        [(e["account"], e["act"]) for e in acts],
    ) == (True, "objection", 1, [("ed", "objection")])


def test_officer_may_not_record_an_act(console: Console, context: BrowserContext) -> None:
    """A read-only officer posting an act gets 403 and nothing is stored."""
    page = context.new_page()
    login(page, console, "alice")
    page.goto(console.url("/search"))
    csrf = page.get_attribute("header input[name=csrf]", "value")
    answer = page.request.post(
        console.url("/acts"),
        form={
            "csrf": csrf or "",
            "kind": "objection",
            "number": "0470 77 77 77",
            "advertiser": "acme",
            "date": today().isoformat(),
        },
    )
    stored = [e for e in console.events("console_act") if e.get("number") == "+32470777777"]
    assert (answer.status, stored) == (403, [])


def test_a_form_without_its_csrf_token_is_refused(
    console: Console, context: BrowserContext
) -> None:
    """A POST without the session's CSRF token is refused with 403 and stores nothing."""
    page = context.new_page()
    login(page, console, "ed")
    answer = page.request.post(
        console.url("/acts"),
        form={
            "kind": "objection",
            "number": "0470 66 66 66",
            "advertiser": "acme",
            "date": today().isoformat(),
        },
    )
    stored = [e for e in console.events("console_act") if e.get("number") == "+32470666666"]
    assert (answer.status, stored) == (403, [])


def test_login_gives_a_new_session_id_and_ends_the_old_one(
    console: Console, context: BrowserContext
) -> None:
    """A session id planted before login is replaced; logging in again ends the old one."""
    page = context.new_page()
    planted = "chosen-by-an-attacker"
    context.add_cookies([{"name": SESSION_COOKIE, "value": planted, "url": console.base}])
    login(page, console, "alice")
    first = session_cookie(context)["value"]
    login(page, console, "alice")
    second = session_cookie(context)["value"]
    context.add_cookies([{"name": SESSION_COOKIE, "value": first, "url": console.base}])
    page.goto(console.url("/search"))
    assert (
        len({planted, first, second}),
        page.url.startswith(console.url("/login")),
    ) == (3, True)


def test_ten_wrong_passwords_lock_the_account(console: Console, context: BrowserContext) -> None:
    """The tenth wrong password locks the account: even the right one is then refused."""
    page = context.new_page()
    for _ in range(10):
        login(page, console, "mallory", "wrong password!")
    login(page, console, "mallory")
    shot(page, "locked")
    assert (
        page.inner_text("#error").startswith("This account is locked until"),
        page.url.startswith(console.url("/login")),
        [e["account"] for e in console.events("console_lockout")],
    ) == (True, True, ["mallory"])


def test_language_follows_the_browser_and_the_switch(console: Console, browser: Browser) -> None:
    """French from Accept-Language; the switch changes to Dutch and is remembered."""
    made = browser.new_context(java_script_enabled=False, locale="fr-BE")
    page = made.new_page()
    page.goto(console.url("/login"))
    french = page.inner_text("#login")
    page.click("a[hreflang=nl]")
    page.goto(console.url("/login"))
    dutch = page.inner_text("#login")
    made.close()
    assert (french, dutch) == ("Se connecter", "Aanmelden")


def test_editor_revokes_an_objection_and_the_next_check_allows(
    console: Console, context: BrowserContext
) -> None:
    """A revocation from the console stops the objection counting for the next check."""
    page = context.new_page()
    login(page, console, "ed")
    page.goto(console.url("/acts"))
    page.fill("#act-form input[name=number]", "0470 55 55 55")
    page.click("#record")
    record_id = page.inner_text("#history tr:nth-child(2) td:first-child")
    page.fill("#revoke-form input[name=record_id]", record_id)
    page.click("#revoke")
    after = gatekeeper(
        console.config, "check", "0470 55 55 55", "--campaign", "spring-promo", "--json"
    )
    acts = [e for e in console.events("console_act") if e.get("number") == "+32470555555"]
    assert (
        json.loads(after.stdout)["reason"],
        page.locator("#history td", has_text="Objection").count(),
        [(e["account"], e["act"]) for e in acts],
    ) == ("not_listed", 1, [("ed", "objection"), ("ed", "revocation")])


def test_admin_adds_an_account_that_can_log_in(console: Console, context: BrowserContext) -> None:
    """An admin adds an officer in the console; the officer logs in and reaches the search."""
    page = context.new_page()
    login(page, console, "root")
    page.fill("#add-account input[name=name]", "olga")
    page.select_option("#add-account select[name=role]", "officer")
    page.fill("#add-account input[name=password]", PASSWORD)
    page.click("#add-account button")
    listed = page.inner_text("#accounts")
    fresh = context.browser.new_context(java_script_enabled=False) if context.browser else None
    assert fresh is not None
    other = fresh.new_page()
    login(other, console, "olga")
    reached = other.url
    fresh.close()
    assert ("olga" in listed, reached.startswith(console.url("/search"))) == (True, True)


def test_admin_may_not_read_decisions(console: Console, context: BrowserContext) -> None:
    """An admin manages accounts only: the search answers 403."""
    page = context.new_page()
    login(page, console, "root")
    answer = page.goto(console.url("/search?go=1"))
    assert answer is not None
    assert answer.status == 403


def test_events_list_the_sync_and_the_licence_end(
    console: Console, context: BrowserContext
) -> None:
    """The events page shows the list sync and, on top, when the licence ends."""
    page = context.new_page()
    login(page, console, "alice")
    page.goto(console.url("/events?kind=list_sync"))
    shot(page, "events")
    assert (
        page.locator("#events td", has_text="list_sync").count(),
        page.inner_text("#licence"),
    ) == (1, "Licence ends: 2027-06-30")


def test_nodes_page_shows_this_nodes_serve_health(
    console: Console, context: BrowserContext, tmp_path: Path
) -> None:
    """With a healthy serve on health.listen, the Nodes page lists its checks, all ok."""
    config = yaml.safe_load(console.config.read_text(encoding="utf-8"))
    health_port = int(config["health"]["listen"].rpartition(":")[2])
    with GatekeeperRun(tmp_path / "serve", health_port=health_port) as run:
        await_healthy(run)
        page = context.new_page()
        login(page, console, "alice")
        page.click("header a[href='/nodes']")
        shot(page, "nodes-local")
        assert (
            page.inner_text("#health-summary"),
            page.locator("#checks td.error").count(),
        ) == ("Every check passes.", 0)


def await_healthy(run: GatekeeperRun) -> None:
    """Wait until the serve's /healthz answers 200 (its AMI logged in)."""
    url = f"http://127.0.0.1:{run.health_port}/healthz"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as answer:
            if answer.status == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{url} not healthy after 30 s")
