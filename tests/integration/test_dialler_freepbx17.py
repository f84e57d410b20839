"""FreePBX 17: the shipped predial hook, inside FreePBX's own outbound path, on a real Asterisk."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tools.gatekeeper_run import GatekeeperRun

from dialler_support import (
    DIALPLANS,
    INTEGRATIONS,
    bypasses,
    decisions,
    decisions_with_outcomes,
    dialler_run,
    dialplan,
    originate,
)

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

LISTED = "0470123456"
UNLISTED = "0470999999"
TRUNKS = ["gk-fpbx-trunk-down", "gk-fpbx-trunk-up", "gk-fpbx-trunk-prefixed"]
CALL_REJECTED = "21"
DIAL_PREFIX = "1616"
"""Trunk 3's Outbound Dial Prefix, set as spring-promo's strip_prefix (the documented rule)."""


def _customise(config: dict[str, Any]) -> None:
    config["campaigns"]["spring-promo"] |= {
        "aliases": ["route:Outbound-Promo", "route:Prefixed-Promo"],
        "strip_prefix": DIAL_PREFIX,
    }
    config["ami"] |= {"gated_contexts": TRUNKS, "on_bypass": "alert"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatekeeperRun]:
    """One gatekeeper and Asterisk for the module, with FreePBX 17's path and the shipped hook."""
    text = dialplan(INTEGRATIONS / "freepbx17-predial-hook.conf", DIALPLANS / "freepbx17.conf")
    with dialler_run(tmp_path_factory.mktemp("freepbx17") / "run", text, _customise) as running:
        yield running


async def test_listed_number_is_refused_before_the_first_trunk(run: GatekeeperRun) -> None:
    """A listed number: one BLOCK `listed`, no trunk dialled, the route hangs up with cause 21."""
    call = await originate(run, f"9{LISTED}@from-internal")
    [decision] = decisions(run, call.linkedid)
    assert (decision["verdict"], decision["reason"], call.trunk_reached, call.route_cause) == (
        "block",
        "listed",
        0,
        CALL_REJECTED,
    )


async def test_failover_checks_each_trunk_as_an_attempt(run: GatekeeperRun) -> None:
    """An unlisted number: the hook runs per trunk, attempts 1 and 2, each with its outcome."""
    call = await originate(run, f"9{UNLISTED}@from-internal")
    found = decisions_with_outcomes(run, call.linkedid, 2)
    assert [
        (d["attempt"], d["verdict"], d["campaign"], d["dialler_campaign"], d["outcome"]["result"])
        for d in found
    ] == [
        (1, "allow", "spring-promo", "route:Outbound-Promo", "congestion"),
        (2, "allow", "spring-promo", "route:Outbound-Promo", "answered"),
    ]
    assert call.trunk_reached == 1


async def test_informational_campaign_set_by_dialler_is_dialled(run: GatekeeperRun) -> None:
    """GK_CAMPAIGN on the channel wins over the route name: informational, dialled even listed."""
    call = await originate(run, f"9{LISTED}@from-internal", {"GK_CAMPAIGN": "delivery-notice"})
    assert (call.reason, call.trunk_reached) == ("informational_campaign", 1)


async def test_trunk_dial_prefix_named_as_strip_prefix_is_no_bypass(run: GatekeeperRun) -> None:
    """A trunk dialling 1616 + the allowed number, 1616 the strip_prefix: dialled, no bypass."""
    call = await originate(run, f"7{UNLISTED}@from-internal")
    assert (call.reason, call.variables.get("GK_GUARD"), call.trunk_reached) == (
        "not_listed",
        "PASSED",
        1,
    )
    assert bypasses(run, call.linkedid) == []


async def test_route_not_mapped_to_a_campaign_is_refused(run: GatekeeperRun) -> None:
    """A route whose name no campaign lists is an unknown campaign: refused, never dialled."""
    call = await originate(run, f"8{UNLISTED}@from-internal")
    assert (call.decision, call.reason, call.trunk_reached, call.route_cause) == (
        "BLOCK",
        "unknown_campaign",
        0,
        CALL_REJECTED,
    )


async def test_originate_straight_to_a_trunk_is_stopped_by_the_guard(run: GatekeeperRun) -> None:
    """A call that skips the hook (originated into a trunk context) is hung up by the guard."""
    call = await originate(run, f"{UNLISTED}@gk-fpbx-trunk-up")
    guard = (call.variables.get("GK_GUARD"), call.variables.get("GK_GUARD_REASON"))
    assert (guard, call.trunk_reached, call.route_cause) == (("REFUSED", "no_allow"), 0, "21")
    assert [b["context"] for b in bypasses(run, call.linkedid)] == ["gk-fpbx-trunk-up"]


async def test_gatekeeper_stopped_refuses_the_call(run: GatekeeperRun) -> None:
    """With the gatekeeper down, the hook fails closed: internal_error, no trunk, cause 21."""
    run.stop_gatekeeper()
    try:
        call = await originate(run, f"9{UNLISTED}@from-internal")
    finally:
        run.start_gatekeeper()
    assert (call.decision, call.reason, call.trunk_reached, call.route_cause) == (
        "BLOCK",
        "internal_error",
        0,
        CALL_REJECTED,
    )
