"""Dialler integration tests: a gatekeeper run with a dialler's dialplan, and its calls.

A module-wide run, calls originated the way the dialler does, and what the decision log holds
for them.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from gatekeeper.audit.store import Filters, iter_decisions, reading
from tools.asterisk_sandbox import DEFAULT_ROOT, READY_MARK
from tools.calls import connect
from tools.gatekeeper_run import GatekeeperRun

REPO = Path(__file__).resolve().parent.parent
INTEGRATIONS = REPO / "asterisk" / "integrations"
DIALPLANS = Path(__file__).resolve().parent / "dialplans"
CALL_TIMEOUT_S = 20.0
RECORD_WAIT_S = 10.0
DIALLER_MODULES = ("func_cut.so", "func_callerid.so", "app_playtones.so")
"""What the diallers' generated dialplans use beyond the sandbox's own modules."""


def dialplan(*parts: Path, replace: Mapping[str, str] | None = None) -> str:
    """The text of dialplan files joined, with literal replacements (a test's own adjustments)."""
    text = "\n".join(part.read_text(encoding="utf-8") for part in parts)
    for old, new in (replace or {}).items():
        assert old in text, f"{old!r} is not in the dialplan"
        text = text.replace(old, new)
    return text


@contextmanager
def dialler_run(
    run_dir: Path,
    extra_dialplan: str,
    customise: Callable[[dict[str, Any]], None],
    modules: tuple[str, ...] = DIALLER_MODULES,
) -> Iterator[GatekeeperRun]:
    """`gatekeeper serve` and a real Asterisk loaded with a dialler's dialplan."""
    if not (DEFAULT_ROOT / READY_MARK).exists():
        pytest.fail("the Asterisk sandbox is not installed: run `make asterisk` (make test does)")
    with GatekeeperRun(
        run_dir, customise=customise, extra_dialplan=extra_dialplan, extra_modules=modules
    ) as run:
        yield run


@dataclass
class DiallerCall:
    """What Asterisk reported of one originated call."""

    linkedid: str
    variables: dict[str, str] = field(default_factory=dict)
    trunk_reached: int = 0
    route_cause: str = ""
    hung_up: set[str] = field(default_factory=set)

    @property
    def ended(self) -> bool:
        """Both halves of the originated Local channel have hung up."""
        return {self.linkedid, f"{self.linkedid}-route"} <= self.hung_up

    @property
    def decision(self) -> str:
        """The last GK_DECISION the route saw."""
        return self.variables.get("GK_DECISION", "")

    @property
    def reason(self) -> str:
        """The last GK_REASON the route saw."""
        return self.variables.get("GK_REASON", "")


async def originate(
    run: GatekeeperRun,
    destination: str,
    variables: Mapping[str, str] | None = None,
    *,
    account: str = "",
    limit_s: float = CALL_TIMEOUT_S,
) -> DiallerCall:
    """Originate `Local/destination` as a dialler does, and follow the call until it ends.

    The originated channel's uniqueid is the call's linked id; its Local partner (the half that
    runs the dialplan) is `<linkedid>-route`.
    """
    linkedid = f"gk-{uuid.uuid4().hex[:16]}"
    call = DiallerCall(linkedid)
    client = await connect(run.sandbox)
    try:
        async with client.subscription() as events:
            await client.originate(
                f"Local/{destination}",
                application="Wait",
                data="1",
                variables=dict(variables or {}),
                channel_id=linkedid,
                other_channel_id=f"{linkedid}-route",
                account=account,
            )
            async with asyncio.timeout(limit_s):
                while not call.ended:
                    _observe(call, (event := await events.get()).name, event.fields)
    finally:
        await client.close()
    return call


def _observe(call: DiallerCall, name: str, fields: Mapping[str, str]) -> None:
    if fields.get("Linkedid", "") != call.linkedid:
        return
    if name == "VarSet" and fields.get("Variable", "").startswith("GK_"):
        call.variables[fields["Variable"]] = fields.get("Value", "")
    elif name == "UserEvent" and fields.get("UserEvent") == "GatekeeperTrunkReached":
        call.trunk_reached += 1
    elif name == "Hangup":
        call.hung_up.add(fields.get("Uniqueid", ""))
        if fields.get("Uniqueid") == f"{call.linkedid}-route":
            call.route_cause = fields.get("Cause", "")


def _log(run: GatekeeperRun) -> Path:
    return run.run_dir / "data" / "audit" / "decisions.sqlite"


def decisions(run: GatekeeperRun, linkedid: str) -> list[dict[str, Any]]:
    """The decisions recorded for a call, oldest first, each with `outcome` when recorded."""
    with reading(_log(run)) as conn:
        rows = list(iter_decisions(conn, Filters()))
    return [
        {**row.body, "decision_id": row.id, "outcome": row.outcome}
        for row in rows
        if row.body.get("linkedid") == linkedid
    ]


def decisions_with_outcomes(run: GatekeeperRun, linkedid: str, count: int) -> list[dict[str, Any]]:
    """Wait until `count` decisions of the call each have their outcome; return them."""
    deadline = time.monotonic() + RECORD_WAIT_S
    while True:
        found = decisions(run, linkedid)
        if len(found) >= count and all(d["outcome"] for d in found):
            return found
        if time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def bypasses(run: GatekeeperRun, linkedid: str) -> list[dict[str, Any]]:
    """The bypass events recorded for a call, waiting a little for the first one."""
    deadline = time.monotonic() + RECORD_WAIT_S
    while True:
        with reading(_log(run)) as conn:
            bodies = [
                json.loads(text)
                for (text,) in conn.execute(
                    "SELECT body FROM chain WHERE type = 'event' AND kind = 'bypass' ORDER BY seq"
                )
            ]
        found = [b["details"] for b in bodies if b["details"].get("linkedid") == linkedid]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
