"""A real Asterisk routes campaign calls through the gatekeeper: only allowed calls go out."""

from __future__ import annotations

import json

import pytest
from tools.calls import CallSpec, PlacedCall, place_through
from tools.gatekeeper_run import GatekeeperRun, gatekeeper

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

LISTED = "0470 12 34 56"
UNLISTED = "0470 99 99 99"


async def _place(run: GatekeeperRun, *specs: CallSpec) -> list[PlacedCall]:
    return await place_through(run.sandbox, list(specs))


async def test_listed_number_on_commercial_campaign_never_reaches_trunk(
    gatekeeper_run: GatekeeperRun,
) -> None:
    """A commercial call to a listed number is blocked with `listed` and never dialled out."""
    [call] = await _place(gatekeeper_run, CallSpec(LISTED, "spring-promo"))
    assert (call.decision, call.reason, call.reached_trunk) == ("BLOCK", "listed", False)


async def test_unlisted_number_on_commercial_campaign_reaches_trunk(
    gatekeeper_run: GatekeeperRun,
) -> None:
    """A commercial call to an unlisted number is allowed and reaches the trunk."""
    [call] = await _place(gatekeeper_run, CallSpec(UNLISTED, "spring-promo"))
    assert (call.decision, call.reason, call.reached_trunk) == ("ALLOW", "not_listed", True)


async def test_informational_campaign_reaches_trunk_even_for_listed_number(
    gatekeeper_run: GatekeeperRun,
) -> None:
    """An informational call is outside the list: it goes out even to a listed number."""
    [call] = await _place(gatekeeper_run, CallSpec(LISTED, "delivery-notice"))
    assert (call.decision, call.reason, call.reached_trunk) == (
        "ALLOW",
        "informational_campaign",
        True,
    )


async def test_unknown_campaign_is_blocked(gatekeeper_run: GatekeeperRun) -> None:
    """A campaign missing from the configuration is refused."""
    [call] = await _place(gatekeeper_run, CallSpec(UNLISTED, "summer-sale"))
    assert (call.decision, call.reason, call.reached_trunk) == (
        "BLOCK",
        "unknown_campaign",
        False,
    )


async def test_route_sees_the_recorded_decision_id(gatekeeper_run: GatekeeperRun) -> None:
    """GK_DECISION_ID names a record in the decision log with the same verdict and number."""
    [call] = await _place(gatekeeper_run, CallSpec(UNLISTED, "spring-promo"))
    exported = gatekeeper(gatekeeper_run.config, "audit", "export", "--format", "jsonl").stdout
    records = {r["decision_id"]: r for r in map(json.loads, exported.splitlines())}
    record = records[call.decision_id]
    assert (record["verdict"], record["e164"], call.variables["GK_NUMBER"]) == (
        "allow",
        "+32470999999",
        "+32470999999",
    )


async def test_commercial_calls_are_refused_while_gatekeeper_is_down(
    gatekeeper_run: GatekeeperRun,
) -> None:
    """With the gatekeeper stopped, the subroutine fails closed: no commercial call goes out."""
    gatekeeper_run.stop_gatekeeper()
    calls = await _place(
        gatekeeper_run, CallSpec(UNLISTED, "spring-promo"), CallSpec(LISTED, "spring-promo")
    )
    assert [(c.decision, c.reason, c.reached_trunk) for c in calls] == [
        ("BLOCK", "internal_error", False),
        ("BLOCK", "internal_error", False),
    ]
