"""Place campaign calls through Asterisk over AMI and see what became of each one.

Each call is originated into the example gated route with its own channel ids, so that every
AMI event of the call (the gatekeeper's variables on the route's channel, the stand-in trunk's
`GatekeeperTrunkReached` user event, the final hangup) is tied to it by its linked id.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from gatekeeper.ami.client import AmiClient, AmiEvent

from tools.asterisk_sandbox import AsteriskSandbox

ROUTE_CONTEXT = "gatekeeper-example-outbound"
CALL_TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True)
class CallSpec:
    """One call a dialler would place."""

    number: str
    campaign: str


@dataclass
class PlacedCall:
    """What Asterisk reported of one call."""

    spec: CallSpec
    linkedid: str
    variables: dict[str, str] = field(default_factory=dict)
    reached_trunk: bool = False
    ended: bool = False

    @property
    def decision(self) -> str:
        """GK_DECISION as the route saw it."""
        return self.variables.get("GK_DECISION", "")

    @property
    def reason(self) -> str:
        """GK_REASON as the route saw it."""
        return self.variables.get("GK_REASON", "")

    @property
    def decision_id(self) -> str:
        """GK_DECISION_ID as the route saw it."""
        return self.variables.get("GK_DECISION_ID", "")


async def place_calls(
    client: AmiClient,
    specs: list[CallSpec],
    *,
    limit_s: float = CALL_TIMEOUT_S,
    agent_wait_s: float = 1.0,
) -> list[PlacedCall]:
    """Originate every call at once and wait until each has hung up.

    The originating side (the agent's leg) waits `agent_wait_s` once the call is answered.
    """
    calls: dict[str, PlacedCall] = {}
    async with client.subscription() as events:
        for spec in specs:
            linkedid = f"gk-{uuid.uuid4().hex[:16]}"
            calls[linkedid] = PlacedCall(spec, linkedid)
            await client.originate(
                f"Local/{spec.number}@{ROUTE_CONTEXT}",
                application="Wait",
                data=f"{agent_wait_s:g}",
                variables={"GK_CAMPAIGN": spec.campaign},
                channel_id=linkedid,
                other_channel_id=f"{linkedid}-route",
            )
        async with asyncio.timeout(limit_s):
            while not all(call.ended for call in calls.values()):
                _observe(calls, await events.get())
    return [calls[key] for key in calls]


def _observe(calls: dict[str, PlacedCall], event: AmiEvent) -> None:
    call = calls.get(event.fields.get("Linkedid", ""))
    if call is None:
        return
    if event.name == "VarSet" and event.fields.get("Variable", "").startswith("GK_"):
        call.variables[event.fields["Variable"]] = event.fields.get("Value", "")
    elif event.name == "UserEvent" and event.fields.get("UserEvent") == "GatekeeperTrunkReached":
        call.reached_trunk = True
    elif event.name == "Hangup" and event.fields.get("Uniqueid") == call.linkedid:
        call.ended = True


async def connect(sandbox: AsteriskSandbox, *, event_filters: tuple[str, ...] = ()) -> AmiClient:
    """An AMI session with the sandbox's manager user."""
    return await AmiClient.connect(
        "127.0.0.1",
        sandbox.ami_port,
        sandbox.ami_username,
        sandbox.ami_secret,
        event_filters=event_filters,
    )


async def place_through(
    sandbox: AsteriskSandbox,
    specs: list[CallSpec],
    *,
    limit_s: float = CALL_TIMEOUT_S,
    agent_wait_s: float = 1.0,
) -> list[PlacedCall]:
    """Open an AMI session, place the calls, close the session."""
    client = await connect(sandbox)
    try:
        return await place_calls(client, specs, limit_s=limit_s, agent_wait_s=agent_wait_s)
    finally:
        await client.close()
