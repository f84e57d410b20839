"""Two PBXes, two `serve` nodes, one PostgreSQL: an objection taken on one blocks the other."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
from tools.calls import CallSpec, place_through
from tools.gatekeeper_run import GatekeeperRun, gatekeeper

from postgres_support import SharedDatabase

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio, pytest.mark.slow]
NUMBER = "0470999999"
WAIT_S = 20.0


def node(shared_db: SharedDatabase, name: str, folder: Path) -> GatekeeperRun:
    """A gatekeeper node with its own Asterisk (its own folders), acts and log shared as `name`."""
    settings = shared_db.add_role(name)

    def shared(config: dict[str, Any]) -> None:
        store = {"postgresql": settings.dsn, "password_file": str(settings.password_file)}
        config.update(node=name, acts=store, central_log=store)

    run = GatekeeperRun(folder, customise=shared)
    run.sandbox.name = f"gk{os.getpid()}{name}"
    return run


async def reason_on(run: GatekeeperRun, wanted: str) -> str:
    """Place calls to NUMBER through `run`'s Asterisk until one ends with `wanted`."""
    deadline = time.monotonic() + WAIT_S
    while True:
        [call] = await place_through(run.sandbox, [CallSpec(NUMBER, "spring-promo")])
        if call.reason == wanted or time.monotonic() > deadline:
            return call.reason
        await asyncio.sleep(0.2)


async def test_objection_taken_on_one_pbx_blocks_the_other(
    shared_db: SharedDatabase, tmp_path: Path
) -> None:
    """Node B allows the number; an objection recorded on node A blocks it on B (and on A)."""
    with (
        node(shared_db, "pbx_a", tmp_path / "a") as run_a,
        node(shared_db, "pbx_b", tmp_path / "b") as run_b,
    ):
        assert await reason_on(run_b, "not_listed") == "not_listed"
        gatekeeper(run_a.config, "objection", "add", NUMBER, "--advertiser", "acme",
                   "--date", "2026-01-05")  # fmt: skip
        began = time.monotonic()
        assert await reason_on(run_b, "objection") == "objection"
        print(f"objection on A to a blocked call on B: {time.monotonic() - began:.2f} s")
        assert await reason_on(run_a, "objection") == "objection"
        async with asyncio.timeout(WAIT_S):
            while True:
                with shared_db.superuser() as conn:
                    shipped = conn.execute(
                        "SELECT node, reason FROM gatekeeper.decision_log"
                        " WHERE type = 'decision' ORDER BY node, seq"
                    ).fetchall()
                if len(shipped) == 3:
                    break
                await asyncio.sleep(0.1)
    assert shipped == [("pbx_a", "objection"), ("pbx_b", "not_listed"), ("pbx_b", "objection")]
