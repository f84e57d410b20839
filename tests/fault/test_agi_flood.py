"""Floods of idle or refused connections: honest calls still answered, logs and health bounded."""

from __future__ import annotations

import asyncio
import pwd
from collections.abc import Mapping, MutableMapping
from typing import Any

import pytest
from gatekeeper.agi.peers import PeerRules, Refusal
from gatekeeper.agi.refusals import Refusals
from gatekeeper.agi.server import AgiLimits, AgiRequest, AgiServer
from gatekeeper.serve.health import run_checks
from gatekeeper.serve.health_checks import agi_check
from gatekeeper.serve.metrics import Metrics
from structlog.testing import capture_logs

from agi_support import (
    CHECK_SCRIPT,
    SAFETY_NET,
    call_as,
    flooding,
    place_call,
    recorded_environment,
    running,
)

FLOODER = "nobody"
IDLE_CONNECTIONS = 1000
HONEST_CALLS = 20
ALLOW = {"GK_DECISION": "ALLOW", "GK_REASON": "not_listed"}


async def allow(request: AgiRequest) -> Mapping[str, str]:
    """A handler that allows every call."""
    return ALLOW


@pytest.mark.asyncio
async def test_idle_flood_from_one_user_leaves_room_for_honest_calls() -> None:
    """1,000 idle connections held by one allowed user do not stop root's calls being answered."""
    rules = PeerRules(allowed_uids=frozenset({0, pwd.getpwnam(FLOODER).pw_uid}))
    server = AgiServer({CHECK_SCRIPT: allow}, "127.0.0.1", 0, batch_variables=False, peers=rules)
    async with (
        asyncio.timeout(SAFETY_NET * 2),
        server,
        flooding(FLOODER, server.port, IDLE_CONNECTIONS),
    ):
        answered = [
            len(await place_call(server.port, recorded_environment())) for _ in range(HONEST_CALLS)
        ]
        refused = server.refusals.totals
    assert answered == [len(ALLOW)] * HONEST_CALLS
    assert refused[Refusal.PEER_CAP] > 0
    assert refused.keys() <= {Refusal.PEER_CAP, Refusal.HEADER_TIMEOUT, Refusal.HEADER_MISSING}


@pytest.mark.asyncio
async def test_refused_flood_writes_a_bounded_number_of_log_lines() -> None:
    """Hundreds of refusals write one line, then at most one summary per interval with the count."""
    interval = 0.3
    refusals = Refusals(interval_s=interval)
    server = AgiServer({CHECK_SCRIPT: allow}, "127.0.0.1", 0, refusals=refusals)
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(SAFETY_NET), server:
        with capture_logs() as logs:
            started = loop.time()
            async with flooding(FLOODER, server.port, 200, pause=0.05):
                await asyncio.sleep(0.5)
            while _logged_refusals(logs) < refusals.totals[Refusal.USER_NOT_ALLOWED]:
                await asyncio.sleep(interval / 3)
            elapsed = loop.time() - started
            total = refusals.totals[Refusal.USER_NOT_ALLOWED]
    lines = [e for e in logs if e["event"] in {"agi_connection_refused", "agi_refusals_suppressed"}]
    assert (lines[0]["event"], _logged_refusals(logs)) == ("agi_connection_refused", total)
    assert (total > 20, len(lines) <= 2 + elapsed / interval) == (True, True)


def _logged_refusals(logs: list[MutableMapping[str, Any]]) -> int:
    """Refusals the log accounts for: one per full line, plus each summary's count."""
    full = sum(1 for e in logs if e["event"] == "agi_connection_refused")
    summed: int = sum(
        e["counts"].get("user_not_allowed", 0)
        for e in logs
        if e["event"] == "agi_refusals_suppressed"
    )
    return full + summed


@pytest.mark.asyncio
async def test_cap_reached_fails_the_health_check_and_counts_the_refusal() -> None:
    """A refusal at the connection cap makes /healthz's agi check fail, saying so, and counts."""
    entered, release = asyncio.Event(), asyncio.Event()
    metrics = Metrics()

    async def held(request: AgiRequest) -> Mapping[str, str]:
        entered.set()
        await release.wait()
        return ALLOW

    server = AgiServer(
        {CHECK_SCRIPT: held},
        "127.0.0.1",
        0,
        limits=AgiLimits(max_concurrent_connections=1),
        refusals=Refusals(on_refusal=metrics.count_agi_refusal),
    )
    async with asyncio.timeout(SAFETY_NET), server:
        checks = {"agi": agi_check(server)}
        before = await run_checks(checks)
        first = asyncio.create_task(place_call(server.port, recorded_environment()))
        await entered.wait()
        assert await place_call(server.port, recorded_environment()) == []
        after = await run_checks(checks)
        release.set()
        await first
    assert before.healthy is True
    ok, detail = after.checks["agi"]
    assert (ok, detail.startswith("saturated: a connection cap was reached")) == (False, True)
    assert b'gatekeeper_agi_refusals_total{reason="global_cap"} 1.0' in metrics.exposition()


@pytest.mark.asyncio
async def test_unknown_script_is_blocked_without_running_the_handler() -> None:
    """A request for a script the server does not serve gets BLOCK/internal_error, unchecked."""
    asked: list[AgiRequest] = []

    async def recording(request: AgiRequest) -> Mapping[str, str]:
        asked.append(request)
        return ALLOW

    header = recorded_environment().replace(
        b"agi_network_script: check", b"agi_network_script: other"
    )
    async with running(recording) as server:
        with capture_logs() as logs:
            commands = await place_call(server.port, header)
    assert commands == [
        b'SET VARIABLE "GK_REASON" "internal_error"\n',
        b'SET VARIABLE "GK_DECISION" "BLOCK"\n',
    ]
    assert asked == []
    [line] = [e for e in logs if e["event"] == "agi_unknown_script"]
    assert (line["script"], line["served"]) == ("other", ["check"])


@pytest.mark.asyncio
async def test_peer_over_its_own_cap_is_refused_while_another_is_answered() -> None:
    """A user holding its per-peer share is refused more; another allowed user is still answered."""
    holding, both_in, release = [0], asyncio.Event(), asyncio.Event()

    async def held(request: AgiRequest) -> Mapping[str, str]:
        holding[0] += 1
        if holding[0] == 2:
            both_in.set()
        await release.wait()
        return ALLOW

    rules = PeerRules(allowed_uids=frozenset({0, pwd.getpwnam(FLOODER).pw_uid}))
    limits = AgiLimits(max_connections_per_peer=1)
    server = AgiServer(
        {CHECK_SCRIPT: held}, "127.0.0.1", 0, limits=limits, batch_variables=False, peers=rules
    )
    async with asyncio.timeout(SAFETY_NET), server:
        first = asyncio.create_task(place_call(server.port, recorded_environment()))
        while holding[0] < 1:
            await asyncio.sleep(0.01)
        with capture_logs() as logs:
            second = await place_call(server.port, recorded_environment())
            other = asyncio.create_task(
                asyncio.to_thread(call_as, FLOODER, server.port, recorded_environment())
            )
            await both_in.wait()
            release.set()
            answered_other = await other
        assert len(await first) == len(ALLOW)
    assert second == []
    assert answered_other.count(b"SET VARIABLE") == len(ALLOW)
    assert [e["reason"] for e in logs if e["event"] == "agi_connection_refused"] == ["peer_cap"]
