"""A frozen gatekeeper (SIGSTOP): Asterisk frees the checking channel at GATEKEEPER_TIMEOUT."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from gatekeeper.ami.client import AmiEvent
from tools.calls import ROUTE_CONTEXT, connect
from tools.gatekeeper_run import GatekeeperRun

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

MARGIN_S = 3.0
WATCH_AFTER_S = 10.0


@pytest.fixture
def frozen_run(tmp_path: Path) -> Iterator[GatekeeperRun]:
    """`gatekeeper serve` behind a real Asterisk, stopped with SIGSTOP (resumed at the end)."""
    with GatekeeperRun(tmp_path / "run") as run:
        assert run.serve is not None
        run.serve.send_signal(signal.SIGSTOP)
        try:
            yield run
        finally:
            run.serve.send_signal(signal.SIGCONT)


async def test_frozen_gatekeeper_frees_the_channel_by_the_deadline(
    frozen_run: GatekeeperRun,
) -> None:
    """The route's channel leaves the AGI and hangs up by the deadline; the trunk is not reached."""
    sandbox = frozen_run.sandbox
    limit_s = sandbox.agi_timeout_s + MARGIN_S
    client = await connect(sandbox)
    gone_after: float | None = None
    seen: list[AmiEvent] = []
    try:
        async with client.subscription() as events:
            linkedid = f"gk-{uuid.uuid4().hex[:16]}"
            route_half = f"{linkedid}-route"
            started = time.monotonic()
            await client.originate(
                f"Local/0470999999@{ROUTE_CONTEXT}",
                application="Wait",
                data="1",
                variables={"GK_CAMPAIGN": "spring-promo"},
                channel_id=linkedid,
                other_channel_id=route_half,
                timeout=120,
            )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(limit_s + WATCH_AFTER_S):
                    while not any(
                        e.name == "Hangup" and e.get("Uniqueid") == route_half for e in seen
                    ):
                        seen.append(await events.get())
                gone_after = time.monotonic() - started
    finally:
        await client.close()
    reached = any(e.name == "UserEvent" and e.get("Linkedid") == linkedid for e in seen)
    assert gone_after is not None, (
        f"the route's channel still existed {limit_s + WATCH_AFTER_S} s on"
    )
    assert (gone_after <= limit_s, reached) == (True, False)
