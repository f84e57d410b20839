"""VICIdial: the shipped carrier entry, after a stand-in call_log, on a real Asterisk."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from tools.gatekeeper_run import GatekeeperRun

from dialler_support import (
    DIALPLANS,
    INTEGRATIONS,
    DiallerCall,
    bypasses,
    decisions,
    dialler_run,
    dialplan,
    originate,
)
from vicidial_call_log import CallLog

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

LISTED = "932470123456"
UNLISTED = "932470999999"
CARRIER = "gatekeeper-carrier-test"
STAND_IN_CARRIER = """\
 same => n,Answer()
 same => n,UserEvent(GatekeeperTrunkReached,Number: ${EXTEN})
 same => n,Wait(1)
 same => n,Hangup()"""


@dataclass
class Vicidial:
    """The gatekeeper run and VICIdial's stand-in call_log."""

    run: GatekeeperRun
    call_log: CallLog
    leads: int = 0

    async def auto_dial(self, number: str, campaign: str) -> tuple[DiallerCall, str]:
        """Originate as VICIdial's auto-dialler does; the call and its lead id."""
        self.leads += 1
        lead_id = str(1000 + self.leads)
        caller = f"V120110410{int(lead_id):010d}"
        if campaign:
            self.call_log.campaigns[caller] = campaign
        # A Local channel's dialplan half takes its caller id from the originated half's
        # connected line, which the Originate's CallerID field sets; here, as a variable.
        identity = {"CALLERID(name)": caller, "CONNECTEDLINE(name)": caller}
        call = await originate(self.run, f"{number}@default", identity)
        return call, lead_id


def _customise(config: dict[str, Any]) -> None:
    campaigns = config["campaigns"]
    campaigns["spring-promo"] |= {"strip_prefix": "9", "aliases": ["SPRINGP"]}
    campaigns["delivery-notice"] |= {"strip_prefix": "9", "aliases": ["DELIVERY"]}
    config["default_campaign"] = "spring-promo"
    config["ami"] |= {"gated_contexts": [CARRIER], "on_bypass": "alert"}


@pytest.fixture(scope="module")
def vicidial(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vicidial]:
    """One gatekeeper, Asterisk and call_log for the module, with the shipped carrier entry."""
    with CallLog() as call_log:
        text = dialplan(
            DIALPLANS / "vicidial.conf",
            INTEGRATIONS / "vicidial-carrier-dialplan.conf",
            replace={
                "127.0.0.1:4577": f"127.0.0.1:{call_log.port}",
                "gatekeeper-carrier-CARRIER": CARRIER,
                " same => n,Dial(SIP/${EXTEN}@CARRIER,,tTo)\n same => n,Hangup()": (
                    STAND_IN_CARRIER
                ),
            },
        )
        run_dir = tmp_path_factory.mktemp("vicidial") / "run"
        with dialler_run(run_dir, text, _customise) as run:
            yield Vicidial(run, call_log)


async def test_listed_number_is_refused_and_lead_marked_dnccar(vicidial: Vicidial) -> None:
    """A listed number: BLOCK listed, the carrier never dialled, the lead gets DNCCAR."""
    call, lead_id = await vicidial.auto_dial(LISTED, "SPRINGP")
    assert (call.reason, call.trunk_reached, call.route_cause) == ("listed", 0, "34")
    assert vicidial.call_log.statuses[lead_id] == "DNCCAR"


async def test_unlisted_number_is_dialled_under_its_campaign(vicidial: Vicidial) -> None:
    """An unlisted number reaches the carrier; the decision names CAMPCUST and the campaign."""
    call, _ = await vicidial.auto_dial(UNLISTED, "SPRINGP")
    [decision] = decisions(vicidial.run, call.linkedid)
    assert (call.reason, call.trunk_reached) == ("not_listed", 1)
    assert (decision["campaign"], decision["dialler_campaign"], decision["e164"]) == (
        "spring-promo",
        "SPRINGP",
        "+32470999999",
    )


async def test_informational_campaign_is_dialled(vicidial: Vicidial) -> None:
    """A VICIdial campaign aliased to an informational campaign is dialled even to a listed one."""
    call, _ = await vicidial.auto_dial(LISTED, "DELIVERY")
    assert (call.reason, call.trunk_reached) == ("informational_campaign", 1)


async def test_call_without_campaign_is_decided_for_the_default(vicidial: Vicidial) -> None:
    """No CAMPCUST (a three-way call): decided for default_campaign; a listed number is refused."""
    call, _ = await vicidial.auto_dial(LISTED, "")
    [decision] = decisions(vicidial.run, call.linkedid)
    assert (decision["campaign"], decision["dialler_campaign"], decision["reason"]) == (
        "spring-promo",
        "",
        "listed",
    )
    assert call.trunk_reached == 0


async def test_originate_straight_to_the_carrier_meets_the_guard(
    vicidial: Vicidial,
) -> None:
    """A call originated into the carrier context, skipping the entry, is hung up by the guard."""
    call = await originate(vicidial.run, f"32470999999@{CARRIER}")
    guard = (call.variables.get("GK_GUARD"), call.variables.get("GK_GUARD_REASON"))
    assert (guard, call.trunk_reached, call.route_cause) == (("REFUSED", "no_allow"), 0, "21")
    assert [b["context"] for b in bypasses(vicidial.run, call.linkedid)] == [CARRIER]


async def test_gatekeeper_stopped_refuses_without_marking_the_lead(vicidial: Vicidial) -> None:
    """Gatekeeper down: refused (internal_error), and the lead gets a temporary status, not DNC."""
    vicidial.run.stop_gatekeeper()
    try:
        call, lead_id = await vicidial.auto_dial(UNLISTED, "SPRINGP")
    finally:
        vicidial.run.start_gatekeeper()
    assert (call.reason, call.trunk_reached) == ("internal_error", 0)
    assert vicidial.call_log.statuses[lead_id] == "ADCT"
