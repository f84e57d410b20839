"""Two `serve` nodes behind one name: a node killed mid-campaign is no single point of failure.

Asterisk's `GATEKEEPER_AGI` names one host that resolves to both nodes' addresses (res_agi tries
them in the resolver's order), or `GATEKEEPER_AGI_SRV` names SRV records (`hagi://`, tried by
priority); the first node that accepts decides the call.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tools.calls import CallSpec, PlacedCall, place_through
from tools.gatekeeper_pair import PAIR_HOST, GatekeeperPair, ServeNode, node_host
from tools.srv_responder import Srv, SrvResponder

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio, pytest.mark.slow]

LISTED = "0470123456"
UNLISTED = "0470999999"
QUEUED_WITHIN_S = 2.0


def _watching_only(first: str) -> Callable[[dict[str, Any]], None]:
    """Only the node on `first` guards the trunk (docs/scaling.md: one watchdog alone)."""

    def customise(config: dict[str, Any]) -> None:
        if not config["agi"]["listen"].startswith(f"{first}:"):
            config["ami"]["gated_contexts"] = []

    return customise


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[GatekeeperPair]:
    """Asterisk resolving one host name to two running nodes, 127.0.0.1 (first) and 127.0.0.2."""
    with GatekeeperPair(tmp_path / "pair", customise=_watching_only("127.0.0.1")) as running:
        yield running


def _campaign(count: int) -> list[CallSpec]:
    return [CallSpec(UNLISTED if i % 2 == 0 else LISTED, "spring-promo") for i in range(count)]


def _answered_by(call: PlacedCall, nodes: list[ServeNode]) -> list[str]:
    return [n.agi_host for n in nodes if call.decision_id in n.decisions()]


def _accept_queue(host: str, port: int) -> int:
    """Connections the kernel accepted for host:port that its process has not taken yet."""
    wanted = "".join(f"{int(part):02X}" for part in reversed(host.split("."))) + f":{port:04X}"
    for line in Path("/proc/net/tcp").read_text(encoding="ascii").splitlines()[1:]:
        fields = line.split()
        if fields[1] == wanted and fields[3] == "0A":
            return int(fields[4].split(":")[1], 16)
    return 0


async def test_calls_after_a_node_is_killed_are_decided_by_the_other(
    pair: GatekeeperPair,
) -> None:
    """Node 1 killed mid-campaign: the next calls are decided and recorded by node 2."""
    first, second = pair.nodes
    before = await place_through(pair.sandbox, _campaign(2))
    first.signal(signal.SIGKILL)
    after = await place_through(pair.sandbox, _campaign(2))

    assert [(c.decision, c.reason) for c in before + after] == [
        ("ALLOW", "not_listed"), ("BLOCK", "listed"),
    ] * 2  # fmt: skip
    assert [_answered_by(c, pair.nodes) for c in before] == [["127.0.0.1"]] * 2
    assert [_answered_by(c, pair.nodes) for c in after] == [["127.0.0.2"]] * 2
    allowed = [c for c in before + after if c.decision == "ALLOW"]
    assert all(c.reached_trunk for c in allowed)
    records = {**first.decisions(), **second.decisions()}
    assert all(records[c.decision_id]["verdict"] == "allow" for c in allowed)
    assert [c.reached_trunk for c in before + after if c.decision != "ALLOW"] == [False] * 2


async def test_call_in_flight_when_its_node_dies_fails_closed(pair: GatekeeperPair) -> None:
    """A call whose node dies before answering is blocked (internal_error), not sent elsewhere."""
    first, second = pair.nodes
    first.signal(signal.SIGSTOP)
    placing = asyncio.create_task(place_through(pair.sandbox, [CallSpec(UNLISTED, "spring-promo")]))
    deadline = time.monotonic() + QUEUED_WITHIN_S
    while _accept_queue(first.agi_host, first.agi_port) == 0:
        assert time.monotonic() < deadline, "Asterisk never connected to the frozen node"
        await asyncio.sleep(0.01)
    first.signal(signal.SIGKILL)
    [call] = await placing

    assert (call.decision, call.reason, call.reached_trunk) == ("BLOCK", "internal_error", False)
    assert first.decisions() == {}
    assert second.decisions() == {}


async def test_srv_priority_chooses_the_node_and_the_next_takes_over(tmp_path: Path) -> None:
    """hagi:// (GATEKEEPER_AGI_SRV): the lowest SRV priority decides; killed, the next one does."""
    nameserver = f"127.53.{os.getpid() % 250 + 1}.{random.randint(1, 254)}"
    pair = GatekeeperPair(
        tmp_path / "pair", customise=_watching_only("127.0.0.2"), nameserver=nameserver
    )
    first, second = pair.nodes
    records = {
        f"_agi._tcp.{PAIR_HOST}": [
            Srv(20, 0, pair.agi_port, node_host(1)),
            Srv(10, 0, pair.agi_port, node_host(2)),
        ]
    }
    async with SrvResponder(nameserver, records) as dns:
        with pair:
            pair.sandbox.cli(f"dialplan set global GATEKEEPER_AGI_SRV {PAIR_HOST}")
            before = await place_through(pair.sandbox, _campaign(2))
            second.signal(signal.SIGKILL)
            after = await place_through(pair.sandbox, _campaign(2))
        assert dns.queries >= 4

    assert [(c.decision, c.reason) for c in before + after] == [
        ("ALLOW", "not_listed"), ("BLOCK", "listed"),
    ] * 2  # fmt: skip
    assert [_answered_by(c, pair.nodes) for c in before] == [["127.0.0.2"]] * 2
    assert [_answered_by(c, [first]) for c in after] == [["127.0.0.1"]] * 2
    assert all(c.reached_trunk for c in before + after if c.decision == "ALLOW")
