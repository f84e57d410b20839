"""Plain Asterisk: the shipped gated route, campaign from GK_CAMPAIGN or the account code."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tools.gatekeeper_run import GatekeeperRun

from dialler_support import INTEGRATIONS, bypasses, decisions, dialler_run, dialplan, originate

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

LISTED = "0470123456"
UNLISTED = "0470999999"
STAND_IN_TRUNK = """\
 same => n,Answer()
 same => n,UserEvent(GatekeeperTrunkReached,Number: ${EXTEN})
 same => n,Wait(1)
 same => n,Hangup()"""


def _customise(config: dict[str, Any]) -> None:
    config["campaigns"]["spring-promo"]["aliases"] = ["ACC-SPRING"]
    config["default_campaign"] = "spring-promo"
    config["ami"] |= {"gated_contexts": ["gatekeeper-trunk"], "on_bypass": "alert"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatekeeperRun]:
    """One gatekeeper and Asterisk for the module, with the shipped route."""
    text = dialplan(
        INTEGRATIONS / "asterisk-route.conf",
        replace={" same => n,Dial(PJSIP/${EXTEN}@provider)\n same => n,Hangup()": (STAND_IN_TRUNK)},
    )
    with dialler_run(tmp_path_factory.mktemp("asterisk") / "run", text, _customise) as running:
        yield running


async def test_account_code_names_the_campaign(run: GatekeeperRun) -> None:
    """The account code ACC-SPRING is spring-promo: a listed number is refused, cause 21."""
    call = await originate(run, f"{LISTED}@gatekeeper-outbound", account="ACC-SPRING")
    [decision] = decisions(run, call.linkedid)
    assert (decision["reason"], decision["dialler_campaign"], call.trunk_reached) == (
        "listed",
        "ACC-SPRING",
        0,
    )
    assert call.route_cause == "21"


async def test_unlisted_number_is_dialled(run: GatekeeperRun) -> None:
    """An unlisted number under the account code's campaign reaches the trunk."""
    call = await originate(run, f"{UNLISTED}@gatekeeper-outbound", account="ACC-SPRING")
    assert (call.reason, call.trunk_reached) == ("not_listed", 1)


async def test_informational_campaign_is_dialled(run: GatekeeperRun) -> None:
    """GK_CAMPAIGN=delivery-notice goes out even to a listed number."""
    call = await originate(run, f"{LISTED}@gatekeeper-outbound", {"GK_CAMPAIGN": "delivery-notice"})
    assert (call.reason, call.trunk_reached) == ("informational_campaign", 1)


async def test_call_without_campaign_takes_the_default(run: GatekeeperRun) -> None:
    """No GK_CAMPAIGN and no account code: decided for default_campaign (spring-promo)."""
    call = await originate(run, f"{LISTED}@gatekeeper-outbound")
    [decision] = decisions(run, call.linkedid)
    assert (decision["campaign"], decision["dialler_campaign"], decision["reason"]) == (
        "spring-promo",
        "",
        "listed",
    )


async def test_originate_straight_to_the_trunk_is_stopped_by_the_guard(run: GatekeeperRun) -> None:
    """A call originated into gatekeeper-trunk, skipping the route, is hung up by the guard."""
    call = await originate(run, f"{UNLISTED}@gatekeeper-trunk")
    guard = (call.variables.get("GK_GUARD"), call.variables.get("GK_GUARD_REASON"))
    assert (guard, call.trunk_reached, call.route_cause) == (("REFUSED", "no_allow"), 0, "21")
    assert [b["context"] for b in bypasses(run, call.linkedid)] == ["gatekeeper-trunk"]


async def test_gatekeeper_stopped_refuses_the_call(run: GatekeeperRun) -> None:
    """With the gatekeeper down the route fails closed: internal_error, cause 21."""
    run.stop_gatekeeper()
    try:
        call = await originate(
            run, f"{UNLISTED}@gatekeeper-outbound", {"GK_CAMPAIGN": "spring-promo"}
        )
    finally:
        run.start_gatekeeper()
    assert (call.reason, call.trunk_reached, call.route_cause) == ("internal_error", 0, "21")
