"""A real Asterisk asks with `check?pbx=NAME`: the PBX is in the local record and centrally."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from gatekeeper.audit.schema import connect_reader
from tools.calls import connect
from tools.gatekeeper_run import GatekeeperRun

from postgres_support import SharedDatabase

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]
WAIT_S = 20.0
PBX_NAMED = """
[pbx-named]
exten => _X.,1,AGI(agi://${GATEKEEPER_AGI}/check?pbx=pbx-brussels,${EXTEN},spring-promo)
 same => n,Hangup()
"""


def local_pbxes(run: GatekeeperRun) -> list[str | None]:
    """The `pbx` of each decision in the node's local log."""
    conn = connect_reader(run.run_dir / "data" / "audit" / "decisions.sqlite")
    try:
        bodies = conn.execute("SELECT body FROM chain WHERE type = 'decision'").fetchall()
    finally:
        conn.close()
    return [json.loads(body).get("pbx") for (body,) in bodies]


async def test_pbx_named_in_the_agi_url_reaches_the_central_copy(
    shared_db: SharedDatabase, tmp_path: Path
) -> None:
    """AGI(agi://HOST/check?pbx=pbx-brussels,...) is served as `check` and names its PBX."""
    settings = shared_db.add_role("pbx_a")

    def shared(config: dict[str, Any]) -> None:
        store = {"postgresql": settings.dsn, "password_file": str(settings.password_file)}
        config.update(node="pbx_a", acts=store, central_log=store)

    with GatekeeperRun(tmp_path / "run", customise=shared, extra_dialplan=PBX_NAMED) as run:
        client = await connect(run.sandbox)
        try:
            await client.originate("Local/0470999999@pbx-named", application="Wait", data="1")
        finally:
            await client.close()
        async with asyncio.timeout(WAIT_S):
            while "pbx-brussels" not in local_pbxes(run):
                await asyncio.sleep(0.1)
            while True:
                with shared_db.superuser() as conn:
                    shipped = conn.execute(
                        "SELECT reason, pbx FROM gatekeeper.decision_log WHERE type = 'decision'"
                    ).fetchall()
                if shipped:
                    break
                await asyncio.sleep(0.1)
    assert shipped == [("not_listed", "pbx-brussels")]
