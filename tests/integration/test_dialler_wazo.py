"""Wazo: the shipped outcall preprocess subroutine, in Wazo's outcall path, on a real Asterisk."""

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
    dialler_run,
    dialplan,
    originate,
)

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

LISTED = "0470123456"
UNLISTED = "0470999999"


def _customise(config: dict[str, Any]) -> None:
    config["campaigns"]["spring-promo"]["aliases"] = ["wazo-outcall:3"]
    config["ami"] |= {
        "gated_contexts": ["gk-wazo-trunk-down", "gk-wazo-trunk-up"],
        "on_bypass": "alert",
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatekeeperRun]:
    """One gatekeeper and Asterisk for the module, with Wazo's outcall path."""
    text = dialplan(INTEGRATIONS / "wazo-outcall-subroutine.conf", DIALPLANS / "wazo.conf")
    with dialler_run(tmp_path_factory.mktemp("wazo") / "run", text, _customise) as running:
        yield running


async def test_listed_number_is_refused_before_any_trunk(run: GatekeeperRun) -> None:
    """A listed number on outcall 3 (spring-promo): refused with cause 21, no trunk dialled."""
    call = await originate(run, f"{LISTED}@to-extern")
    [decision] = decisions(run, call.linkedid)
    assert (decision["reason"], decision["dialler_campaign"], call.trunk_reached) == (
        "listed",
        "wazo-outcall:3",
        0,
    )
    assert call.route_cause == "21"


async def test_unlisted_number_is_checked_once_and_dialled(run: GatekeeperRun) -> None:
    """Wazo runs the subroutine once per call: one decision, then both trunks in turn."""
    call = await originate(run, f"{UNLISTED}@to-extern")
    found = decisions(run, call.linkedid)
    assert ([(d["attempt"], d["reason"]) for d in found], call.trunk_reached) == (
        [(1, "not_listed")],
        1,
    )


async def test_informational_campaign_set_by_dialler_is_dialled(run: GatekeeperRun) -> None:
    """GK_CAMPAIGN set by the dialler wins over the outcall: informational, dialled."""
    call = await originate(run, f"{LISTED}@to-extern", {"GK_CAMPAIGN": "delivery-notice"})
    assert (call.reason, call.trunk_reached) == ("informational_campaign", 1)


async def test_unknown_campaign_is_refused(run: GatekeeperRun) -> None:
    """A GK_CAMPAIGN the configuration does not know is refused, never dialled."""
    call = await originate(run, f"{UNLISTED}@to-extern", {"GK_CAMPAIGN": "summer-sale"})
    assert (call.reason, call.trunk_reached) == ("unknown_campaign", 0)


async def test_originate_straight_to_a_trunk_is_stopped_by_the_guard(run: GatekeeperRun) -> None:
    """A call originated into a gated trunk context, skipping the outcall, meets the trunk guard."""
    call = await originate(run, f"{UNLISTED}@gk-wazo-trunk-up")
    guard = (call.variables.get("GK_GUARD"), call.variables.get("GK_GUARD_REASON"))
    assert (guard, call.trunk_reached, call.route_cause) == (("REFUSED", "no_allow"), 0, "21")
    assert [b["context"] for b in bypasses(run, call.linkedid)] == ["gk-wazo-trunk-up"]


async def test_gatekeeper_stopped_refuses_the_call(run: GatekeeperRun) -> None:
    """With the gatekeeper down the subroutine fails closed: internal_error, no trunk."""
    run.stop_gatekeeper()
    try:
        call = await originate(run, f"{UNLISTED}@to-extern")
    finally:
        run.start_gatekeeper()
    assert (call.reason, call.trunk_reached, call.route_cause) == ("internal_error", 0, "21")
