"""Issabel / FreePBX 16: the Macro() hook's body, run as a Gosub inside FreePBX's outbound path.

Asterisk 22 has no app_macro, so the hook's `MacroExit()` is replaced by `Return()` and it is
called with Gosub, as FreePBX 17's trunk macro calls it; the `Macro()` call itself is untested.
"""

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
CALL_REJECTED = "21"


def _customise(config: dict[str, Any]) -> None:
    config["campaigns"]["spring-promo"]["aliases"] = ["issabel:7", "route:Outbound-Promo"]
    config["campaigns"]["delivery-notice"]["aliases"] = ["issabel:8"]
    config["ami"] |= {
        "gated_contexts": ["gk-fpbx-trunk-down", "gk-fpbx-trunk-up"],
        "on_bypass": "alert",
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatekeeperRun]:
    """One gatekeeper and Asterisk for the module, with the Macro hook's body as a Gosub."""
    text = dialplan(
        INTEGRATIONS / "freepbx16-issabel-predial-hook.conf",
        DIALPLANS / "freepbx17.conf",
        replace={"n(allowed),MacroExit()": "n(allowed),Return()"},
    )
    with dialler_run(tmp_path_factory.mktemp("issabel") / "run", text, _customise) as running:
        yield running


async def test_listed_number_of_a_dialler_campaign_is_refused(run: GatekeeperRun) -> None:
    """ID_CAMPAIGN 7 is spring-promo: a listed number is refused with cause 21, never dialled."""
    call = await originate(run, f"9{LISTED}@from-internal", {"ID_CAMPAIGN": "7"})
    [decision] = decisions(run, call.linkedid)
    assert (decision["reason"], decision["dialler_campaign"], call.trunk_reached) == (
        "listed",
        "issabel:7",
        0,
    )
    assert call.route_cause == CALL_REJECTED


async def test_unlisted_number_is_dialled(run: GatekeeperRun) -> None:
    """An unlisted number of campaign 7 is allowed on each trunk and reaches the second."""
    call = await originate(run, f"9{UNLISTED}@from-internal", {"ID_CAMPAIGN": "7"})
    found = decisions(run, call.linkedid)
    assert [(d["attempt"], d["verdict"]) for d in found] == [(1, "allow"), (2, "allow")]
    assert call.trunk_reached == 1


async def test_informational_campaign_is_dialled(run: GatekeeperRun) -> None:
    """ID_CAMPAIGN 8 is informational: dialled even to a listed number."""
    call = await originate(run, f"9{LISTED}@from-internal", {"ID_CAMPAIGN": "8"})
    assert (call.reason, call.trunk_reached) == ("informational_campaign", 1)


async def test_call_without_dialler_campaign_takes_the_route(run: GatekeeperRun) -> None:
    """No ID_CAMPAIGN (a phone's own call): the route's name decides, here spring-promo."""
    call = await originate(run, f"9{LISTED}@from-internal")
    [decision] = decisions(run, call.linkedid)
    assert (decision["campaign"], decision["dialler_campaign"], decision["reason"]) == (
        "spring-promo",
        "route:Outbound-Promo",
        "listed",
    )


async def test_unknown_dialler_campaign_is_refused(run: GatekeeperRun) -> None:
    """An ID_CAMPAIGN no campaign lists is refused, not decided for the route."""
    call = await originate(run, f"9{UNLISTED}@from-internal", {"ID_CAMPAIGN": "99"})
    assert (call.reason, call.trunk_reached) == ("unknown_campaign", 0)


async def test_originate_straight_to_a_trunk_is_stopped_by_the_guard(run: GatekeeperRun) -> None:
    """A call originated into a gated trunk context, skipping the hook, meets the trunk guard."""
    call = await originate(run, f"{UNLISTED}@gk-fpbx-trunk-up")
    guard = (call.variables.get("GK_GUARD"), call.variables.get("GK_GUARD_REASON"))
    assert (guard, call.trunk_reached, call.route_cause) == (("REFUSED", "no_allow"), 0, "21")
    assert [b["context"] for b in bypasses(run, call.linkedid)] == ["gk-fpbx-trunk-up"]


async def test_gatekeeper_stopped_refuses_the_call(run: GatekeeperRun) -> None:
    """With the gatekeeper down the hook fails closed: internal_error, cause 21."""
    run.stop_gatekeeper()
    try:
        call = await originate(run, f"9{UNLISTED}@from-internal", {"ID_CAMPAIGN": "7"})
    finally:
        run.start_gatekeeper()
    assert (call.reason, call.trunk_reached, call.route_cause) == ("internal_error", 0, "21")
