"""`gatekeeper serve` reloads its configuration on SIGHUP without losing or mis-deciding a call."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import signal
import sqlite3

import pytest
import yaml
from tools.calls import CallSpec, PlacedCall, place_through
from tools.gatekeeper_run import GatekeeperRun, gatekeeper

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]


def _add_campaign(run: GatekeeperRun, name: str) -> None:
    config = yaml.safe_load(run.config.read_text(encoding="utf-8"))
    config["campaigns"][name] = {"purpose": "commercial", "advertiser": "acme"}
    run.config.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


async def _place(run: GatekeeperRun, specs: list[CallSpec]) -> list[PlacedCall]:
    return await place_through(run.sandbox, specs, limit_s=60)


def _hangup(run: GatekeeperRun) -> None:
    assert run.serve is not None
    run.serve.send_signal(signal.SIGHUP)


async def test_new_campaign_is_known_after_sighup(gatekeeper_run: GatekeeperRun) -> None:
    """A campaign added to the file and signalled with SIGHUP is decided by its purpose."""
    _add_campaign(gatekeeper_run, "autumn-offer")
    _hangup(gatekeeper_run)
    for _ in range(50):
        [call] = await _place(gatekeeper_run, [CallSpec("0470999999", "autumn-offer")])
        if call.reason != "unknown_campaign":
            break
        await asyncio.sleep(0.1)
    assert (call.decision, call.reason) == ("ALLOW", "not_listed")


async def test_broken_file_on_sighup_keeps_running_config(gatekeeper_run: GatekeeperRun) -> None:
    """A broken file is refused on SIGHUP: calls keep being decided by the running config."""
    good = gatekeeper_run.config.read_text(encoding="utf-8")
    gatekeeper_run.config.write_text(good + "campaigns: [broken\n", encoding="utf-8")
    _hangup(gatekeeper_run)
    await asyncio.sleep(0.5)
    [call] = await _place(gatekeeper_run, [CallSpec("0470999999", "spring-promo")])
    assert (call.decision, call.reason) == ("ALLOW", "not_listed")


async def test_reloads_under_load_lose_and_misdecide_nothing(
    gatekeeper_run: GatekeeperRun,
) -> None:
    """Forty calls in flight across repeated good and broken reloads: all decided correctly."""
    good = gatekeeper_run.config.read_text(encoding="utf-8")
    specs = [CallSpec("0470999999" if i % 2 else "0470123456", "spring-promo") for i in range(40)]

    async def reload_repeatedly() -> None:
        for i in range(10):
            broken = i % 2 == 1
            text = good + ("campaigns: [broken\n" if broken else "")
            gatekeeper_run.config.write_text(text, encoding="utf-8")
            _hangup(gatekeeper_run)
            await asyncio.sleep(0.05)
        gatekeeper_run.config.write_text(good, encoding="utf-8")

    calls, _ = await asyncio.gather(_place(gatekeeper_run, specs), reload_repeatedly())
    assert [(c.decision, c.reason) for c in calls] == [
        ("BLOCK", "listed") if c.spec.number == "0470123456" else ("ALLOW", "not_listed")
        for c in calls
    ]


async def test_reload_is_recorded_in_the_decision_log(gatekeeper_run: GatekeeperRun) -> None:
    """A SIGHUP reload leaves a config_reload event in the chain, with the rules in force."""
    _add_campaign(gatekeeper_run, "autumn-offer")
    _hangup(gatekeeper_run)
    for _ in range(50):
        bodies = _event_bodies(gatekeeper_run, "config_reload")
        if bodies:
            break
        await asyncio.sleep(0.1)
    assert "autumn-offer" in json.dumps(bodies)


def _event_bodies(run: GatekeeperRun, kind: str) -> list[dict[str, object]]:
    path = run.run_dir / "data" / "audit" / "decisions.sqlite"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT body FROM chain WHERE kind = ?", (kind,)).fetchall()
    return [json.loads(body) for (body,) in rows]


async def _reload_records(run: GatekeeperRun, count: int) -> list[dict[str, object]]:
    for _ in range(100):
        bodies = _event_bodies(run, "config_reload")
        if len(bodies) >= count:
            return bodies
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} config_reload records")


def _details(body: dict[str, object]) -> dict[str, object]:
    details = body["details"]
    assert isinstance(details, dict)
    return details


async def test_refused_reload_records_the_fingerprint_still_in_force(
    gatekeeper_run: GatekeeperRun,
) -> None:
    """A refused reload is recorded as refused, naming the file still in force, not the new one."""
    good = gatekeeper_run.config.read_bytes()
    gatekeeper_run.config.write_text(good.decode() + "campaigns: [broken\n", encoding="utf-8")
    _hangup(gatekeeper_run)
    [body] = await _reload_records(gatekeeper_run, 1)
    details = _details(body)
    assert (details["status"], details["config_sha256"]) == (
        "refused",
        hashlib.sha256(good).hexdigest(),
    )


async def test_reload_flags_settings_that_need_a_restart(gatekeeper_run: GatekeeperRun) -> None:
    """A new AGI listen address cannot move a running server: the reload record says so."""
    config = yaml.safe_load(gatekeeper_run.config.read_text(encoding="utf-8"))
    config["agi"] = {"listen": "127.0.0.1:1"}
    gatekeeper_run.config.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    _hangup(gatekeeper_run)
    [body] = await _reload_records(gatekeeper_run, 1)
    assert _details(body)["restart_required"] == ["agi"]


async def test_reload_that_shares_the_acts_needs_a_restart(gatekeeper_run: GatekeeperRun) -> None:
    """Sharing the acts (and naming the node) by a reload is not applied live: restart, it says."""
    config = yaml.safe_load(gatekeeper_run.config.read_text(encoding="utf-8"))
    config["node"] = "pbx_a"
    config["acts"] = {"postgresql": "host=127.0.0.1 port=1 dbname=gatekeeper user=pbx_a"}
    gatekeeper_run.config.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    _hangup(gatekeeper_run)
    [body] = await _reload_records(gatekeeper_run, 1)
    assert _details(body)["restart_required"] == ["acts", "node"]


def _refusing_texts(good: str) -> dict[str, str]:
    """Files whose parsing raised something other than a ConfigError in the loader."""
    port = yaml.safe_load(good)["agi"]["listen"].rpartition(":")[2]
    return {
        "nested 1,000 deep": good + "audit: " + "[" * 1000 + "]" * 1000 + "\n",
        "superscript port": good.replace(f":{port}", f":{port[:-1]}\u00b2"),
    }


@pytest.mark.parametrize("case", ["nested 1,000 deep", "superscript port"])
async def test_reload_of_an_unparsable_file_is_refused_and_calls_go_on(
    gatekeeper_run: GatekeeperRun, case: str
) -> None:
    """A file the parser chokes on is a refused reload: recorded, and serve keeps deciding."""
    good = gatekeeper_run.config.read_text(encoding="utf-8")
    gatekeeper_run.config.write_text(_refusing_texts(good)[case], encoding="utf-8")
    _hangup(gatekeeper_run)
    [body] = await _reload_records(gatekeeper_run, 1)
    [call] = await _place(gatekeeper_run, [CallSpec("0470999999", "spring-promo")])
    assert gatekeeper_run.serve is not None
    assert gatekeeper_run.serve.poll() is None
    assert (_details(body)["status"], call.decision, call.reason) == (
        "refused",
        "ALLOW",
        "not_listed",
    )


async def test_comment_only_reload_records_the_new_fingerprint(
    gatekeeper_run: GatekeeperRun,
) -> None:
    """A reload where only a comment changed records the sha256 of the file now loaded."""
    with gatekeeper_run.config.open("a", encoding="utf-8") as config:
        config.write("# reviewed by the compliance officer\n")
    _hangup(gatekeeper_run)
    [body] = await _reload_records(gatekeeper_run, 1)
    details = _details(body)
    assert (details["status"], details["config_sha256"]) == (
        "unchanged",
        hashlib.sha256(gatekeeper_run.config.read_bytes()).hexdigest(),
    )


async def test_start_reload_and_scrub_records_share_one_fingerprint(
    gatekeeper_run: GatekeeperRun,
) -> None:
    """For a file with CRLF line ends, service_start, config_reload and scrub name one sha256."""
    gatekeeper_run.stop_gatekeeper()
    text = gatekeeper_run.config.read_text(encoding="utf-8")
    gatekeeper_run.config.write_bytes(text.replace("\n", "\r\n").encode())
    gatekeeper_run.start_gatekeeper()
    _hangup(gatekeeper_run)
    [reload_body] = await _reload_records(gatekeeper_run, 1)
    calling_list = gatekeeper_run.run_dir / "list.csv"
    calling_list.write_text("number\n0470999999\n", encoding="utf-8")
    output = str(gatekeeper_run.run_dir / "out.csv")
    gatekeeper(
        gatekeeper_run.config,
        "scrub",
        str(calling_list),
        "--campaign",
        "spring-promo",
        "--output",
        output,
    )
    start_body = _event_bodies(gatekeeper_run, "service_start")[-1]
    [scrub_body] = _event_bodies(gatekeeper_run, "scrub")
    assert {
        _details(start_body)["config_sha256"],
        _details(reload_body)["config_sha256"],
        _details(scrub_body)["config_sha256"],
    } == {hashlib.sha256(gatekeeper_run.config.read_bytes()).hexdigest()}


async def test_reverted_listen_address_needs_no_restart(gatekeeper_run: GatekeeperRun) -> None:
    """Moving health.listen and moving it back: only the first reload asks for a restart."""
    good = gatekeeper_run.config.read_text(encoding="utf-8")
    config = yaml.safe_load(good)
    config["health"] = {"listen": "127.0.0.1:1"}
    gatekeeper_run.config.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    _hangup(gatekeeper_run)
    await _reload_records(gatekeeper_run, 1)
    gatekeeper_run.config.write_text(good, encoding="utf-8")
    _hangup(gatekeeper_run)
    moved, back = await _reload_records(gatekeeper_run, 2)
    assert (_details(moved).get("restart_required"), _details(back).get("restart_required")) == (
        ["health"],
        None,
    )
