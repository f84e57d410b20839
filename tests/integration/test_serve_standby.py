"""Two `serve` nodes for one Asterisk, node 2 a standby watch (`ami.standby_for` node 1).

Node 1 (127.0.0.1) decides every call while it is up and its watchdog acts; node 2's watchdog
watches the same PBX, stands by while node 1's /healthz vouches, and takes over when it does not.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tools.calls import CallSpec, connect, place_through
from tools.gatekeeper_pair import GatekeeperPair, ServeNode, free_ports

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio, pytest.mark.slow]

UNLISTED = "0470999999"
TRUNK = "gatekeeper-example-trunk"
WAIT_S = 15.0
"""How long a test waits for a state (a liveness bound, not a figure: docs/scaling.md has those)."""


def _standby_of(first_health_port: int) -> Callable[[dict[str, Any]], None]:
    """Node 2 (127.0.0.2) stands by for node 1's /healthz; both guard the example trunk."""

    def customise(config: dict[str, Any]) -> None:
        if config["agi"]["listen"].startswith("127.0.0.2:"):
            config["ami"]["standby_for"] = f"http://127.0.0.1:{first_health_port}/healthz"

    return customise


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[GatekeeperPair]:
    """Asterisk, node 1 deciding and watching, node 2 a standby watch for node 1."""
    ports = free_ports(2)
    with GatekeeperPair(
        tmp_path / "pair", customise=_standby_of(ports[0]), health_ports=ports
    ) as running:
        yield running


def _get(node: ServeNode, path: str) -> bytes:
    url = f"http://127.0.0.1:{node.health_port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body: bytes = response.read()
    except urllib.error.HTTPError as err:
        body = err.read()
    return body


def _watch(node: ServeNode) -> dict[str, Any]:
    document = json.loads(_get(node, "/healthz"))
    watch: dict[str, Any] = document["watch"]
    watch["ami_ok"] = document["checks"]["ami"]["ok"]
    return watch


async def _until_role(node: ServeNode, role: str) -> float:
    """Seconds until the node's /healthz says `role` with its own AMI link up."""
    started = time.monotonic()
    async with asyncio.timeout(WAIT_S):
        while True:
            try:
                watch = _watch(node)
            except (OSError, ValueError):
                watch = {}
            if watch.get("role") == role and watch.get("ami_ok"):
                return time.monotonic() - started
            await asyncio.sleep(0.05)


def _standby_findings(node: ServeNode) -> float:
    for line in _get(node, "/metrics").decode().splitlines():
        if line.startswith('gatekeeper_ami_standby_findings_total{when="standby"}'):
            return float(line.rpartition(" ")[2])
    return 0.0


async def _events(node: ServeNode, kind: str, count: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(WAIT_S):
        while len(found := node.events(kind)) < count:
            await asyncio.sleep(0.2)
    return found


async def _originate_into_trunk(pair: GatekeeperPair) -> None:
    """A dialler originating straight into the gated trunk, skipping the check."""
    client = await connect(pair.sandbox)
    try:
        async with client.subscription() as events:
            await client.originate(f"Local/{UNLISTED}@{TRUNK}", application="Wait", data="5")
            async with asyncio.timeout(WAIT_S):
                while (await events.get()).name != "Hangup":
                    pass
    finally:
        await client.close()


async def test_a_call_decided_by_the_peer_is_left_alone_by_the_standby(
    pair: GatekeeperPair,
) -> None:
    """Both up: node 1's allowed call reaches the trunk; node 2 sees it, cuts, records nothing."""
    first, second = pair.nodes
    await _until_role(second, "standby")
    [call] = await place_through(pair.sandbox, [CallSpec(UNLISTED, "spring-promo")])
    async with asyncio.timeout(WAIT_S):
        while _standby_findings(second) < 1:
            await asyncio.sleep(0.05)

    assert (call.decision, call.reached_trunk, call.decision_id in first.decisions()) == (
        "ALLOW",
        True,
        True,
    )
    assert (second.events("bypass"), first.events("bypass")) == ([], [])


async def test_the_standby_takes_over_when_the_peer_dies_and_cuts_a_bypass(
    pair: GatekeeperPair,
) -> None:
    """Node 1 killed: node 2 records its switch to active, then cuts a call straight to a trunk."""
    first, second = pair.nodes
    await _until_role(second, "standby")
    first.signal(signal.SIGKILL)
    await _until_role(second, "active")
    [*_, switch] = await _events(second, "watch_role", 2)
    await _originate_into_trunk(pair)
    [bypass] = await _events(second, "bypass", 1)

    assert (switch["details"]["from"], switch["details"]["to"]) == ("standby", "active")
    assert (bypass["details"]["context"], bypass["details"]["action"]) == (TRUNK, "hangup")


async def test_the_standby_stands_by_again_when_the_peer_is_back(pair: GatekeeperPair) -> None:
    """Node 1 killed, then restarted: node 2 goes active, then standby again, each recorded."""
    first, second = pair.nodes
    await _until_role(second, "standby")
    first.signal(signal.SIGKILL)
    await _until_role(second, "active")
    first.start()
    await _until_role(second, "standby")
    switches = await _events(second, "watch_role", 3)

    assert [(s["details"]["from"], s["details"]["to"]) for s in switches] == [
        ("active", "standby"),
        ("standby", "active"),
        ("active", "standby"),
    ]
