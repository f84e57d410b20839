"""The watchdog writes into the real decision log: bypasses and outcomes land in the chain."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from gatekeeper.ami.client import AmiClient
from gatekeeper.ami.settings import BypassAction
from gatekeeper.ami.watchdog import BypassRecorder, OutcomeRecorder, Watchdog
from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.records import DecisionEntry
from gatekeeper.audit.store import iter_events, outcome_of, reading, verify_log
from tools.asterisk_sandbox import DEFAULT_ROOT, READY_MARK, AsteriskSandbox, free_port

from ami_support import EVENT_WAIT_S, next_event, serve_agi

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

TRUNK = "gatekeeper-example-trunk"
UNGUARDED_TRUNK = "test-unguarded-trunk"
UNGUARDED = """
; A trunk without gatekeeper-guard, so that only the watchdog stands in the way.
[test-unguarded-trunk]
exten => _[+0-9].,1,Answer()
 same => n,Wait(2)
 same => n,Hangup()
"""
ROUTE = "gatekeeper-example-outbound"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AsteriskSandbox]:
    """One real Asterisk for the module; its gatekeeper-check calls the port tests serve."""
    if not (DEFAULT_ROOT / READY_MARK).exists():
        pytest.fail("the Asterisk sandbox is not installed: run `make asterisk`")
    with AsteriskSandbox(
        agi_port=free_port(), agi_timeout_s=2, extra_dialplan=UNGUARDED
    ) as running:
        yield running


@pytest_asyncio.fixture
async def decision_log(tmp_path: Path) -> AsyncIterator[DecisionLog]:
    """A real decision log in a fresh file."""
    opened = await DecisionLog.open(tmp_path / "decisions.sqlite")
    try:
        yield opened
    finally:
        await opened.close()


class Watched:
    """A watchdog writing into the decision log, and the client it watches."""

    def __init__(self, client: AmiClient, watchdog: Watchdog) -> None:
        self.client = client
        self.watchdog = watchdog


@pytest_asyncio.fixture
async def watched(sandbox: AsteriskSandbox, decision_log: DecisionLog) -> AsyncIterator[Watched]:
    """The watchdog hangs bypasses up and records into the real log."""
    client = await AmiClient.connect(
        "127.0.0.1", sandbox.ami_port, sandbox.ami_username, sandbox.ami_secret
    )
    bypasses: BypassRecorder = decision_log
    outcomes: OutcomeRecorder = decision_log
    watchdog = Watchdog(
        gated_contexts=[TRUNK, UNGUARDED_TRUNK],
        on_bypass=BypassAction.HANGUP,
        bypass_recorder=bypasses,
        outcome_recorder=outcomes,
    )
    watchdog.attach(client)
    running = asyncio.create_task(watchdog.run())
    try:
        yield Watched(client, watchdog)
    finally:
        await client.close()
        await running


async def _until_in_log(path: Path, found: Callable[[sqlite3.Connection], bool]) -> None:
    """Poll the log file (a reader of its own) until `found(conn)` is true."""
    async with asyncio.timeout(EVENT_WAIT_S):
        while True:
            with reading(path) as conn:
                if found(conn):
                    return
            await asyncio.sleep(0.05)


async def test_bypass_is_recorded_in_the_chain(watched: Watched, decision_log: DecisionLog) -> None:
    """A call straight into the trunk becomes a `bypass` event in a chain that still verifies."""
    first = f"gk-{uuid.uuid4().hex[:12]}"
    async with watched.client.subscription() as events:
        await watched.client.originate(
            f"Local/0470999999@{UNGUARDED_TRUNK}", application="Wait", data="2", channel_id=first
        )
        await next_event(events, "Hangup", Uniqueid=first)

    def bypass_recorded(conn: sqlite3.Connection) -> bool:
        rows = iter_events(conn, kinds=("bypass",))
        return any(row.details.get("uniqueid") == first for row in rows)

    await _until_in_log(decision_log.path, bypass_recorded)
    with reading(decision_log.path) as conn:
        [row] = [r for r in iter_events(conn, kinds=("bypass",)) if r.details["uniqueid"] == first]
    assert (row.details["hung_up"], row.details["context"], verify_log(decision_log.path).ok) == (
        True,
        UNGUARDED_TRUNK,
        True,
    )


async def test_outcome_is_attached_to_its_decision(
    sandbox: AsteriskSandbox, watched: Watched, decision_log: DecisionLog
) -> None:
    """An allowed call's outcome is found through its decision in the log."""
    decided: dict[str, str] = {}

    async def answer(environment: dict[str, str]) -> Mapping[str, str]:
        uniqueid = environment["agi_uniqueid"]
        decision_id = await decision_log.record(
            DecisionEntry(
                at=datetime.now(UTC),
                source="agi",
                campaign="spring-promo",
                purpose="commercial",
                advertiser="acme",
                dialled=environment["agi_arg_1"],
                e164="+32470999999",
                verdict="allow",
                reason="not_listed",
                rule="not_listed",
                snapshot=None,
                evidence=(),
                channel=environment["agi_channel"],
                uniqueid=uniqueid,
            )
        )
        decided[uniqueid] = decision_id
        watched.watchdog.allowed(uniqueid, environment.get("agi_arg_3", ""), "+32470999999")
        return {
            "GK_DECISION_ID": decision_id,
            "GK_REASON": "not_listed",
            "GK_NUMBER": "+32470999999",
            "GK_DECISION": "ALLOW",
        }

    server = await serve_agi(sandbox.agi_port, answer)
    first = f"gk-{uuid.uuid4().hex[:12]}"
    route = f"{first}-2"
    try:
        await watched.client.originate(
            f"Local/0470999999@{ROUTE}",
            application="Wait",
            data="2",
            variables={"GK_CAMPAIGN": "spring-promo"},
            channel_id=first,
            other_channel_id=route,
        )

        def outcome_recorded(conn: sqlite3.Connection) -> bool:
            if route not in decided:
                return False
            return outcome_of(conn, decided[route], route) is not None

        await _until_in_log(decision_log.path, outcome_recorded)
    finally:
        server.close()
        await server.wait_closed()
    with reading(decision_log.path) as conn:
        outcome = outcome_of(conn, decided[route], route)
    assert outcome is not None
    assert (outcome["result"], outcome["dial_status"], outcome["reached_network"]) == (
        "answered",
        "ANSWER",
        True,
    )
