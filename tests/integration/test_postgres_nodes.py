"""Two nodes, one PostgreSQL: acts written on one decide calls on the other, or calls block."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import structlog
from gatekeeper.check.checker import CallRequest
from gatekeeper.cli import main
from gatekeeper.common.clock import today
from gatekeeper.config import LiveSettings, PostgresSettings
from gatekeeper.rules.policy import Reason
from gatekeeper.serve.app import Services, open_services
from gatekeeper.serve.store_checks import acts_check
from gatekeeper.stores.postgres.acts import PostgresActStore
from gatekeeper.stores.postgres.replica import POLL_S, ActReplica
from tools.postgres_cluster import PostgresCluster

from postgres_support import SharedDatabase, create_database

GATEKEEPER = Path(sys.executable).parent / "gatekeeper"
LISTED = "0470123456"
CONFIG = """\
licensee: {{name: Example Contact NV, role: service_provider, licence_valid_until: 2099-06-30}}
data_dir: data
node: {node}
acts: {{postgresql: "{dsn}", password_file: {password_file}, max_lag_ms: {max_lag_ms}}}
dncm: {{source: {{file: ../dncm.txt}}}}
advertisers: {{acme: {{name: ACME Energy BV}}}}
campaigns:
  spring-promo: {{purpose: commercial, advertiser: acme}}
  reminders: {{purpose: informational, advertiser: acme}}
"""


async def node_config(
    root: Path, node: str, settings: PostgresSettings, max_lag_ms: int = 1000
) -> Path:
    """A node's config file in its own folder, the list (not listing LISTED) imported today."""
    folder = root / node
    folder.mkdir(parents=True)
    (root / "dncm.txt").write_text("0486993908;2015-02-19\n", encoding="utf-8")
    path = folder / "gatekeeper.yaml"
    path.write_text(
        CONFIG.format(
            node=node,
            dsn=settings.dsn,
            password_file=settings.password_file,
            max_lag_ms=max_lag_ms,
        ),
        encoding="utf-8",
    )
    assert await cli(path, "sync", "--list-date", today().isoformat()) == 0
    return path


async def cli(config: Path, *argv: str) -> int:
    """`gatekeeper -c config ARGV...` in a thread (it runs its own event loop)."""
    return await asyncio.to_thread(main, ["-c", str(config), *argv])


@pytest.fixture(autouse=True)
def _default_logging() -> Iterator[None]:
    """`cli.main` points structlog at the captured stderr: put the default back after."""
    yield
    structlog.reset_defaults()


@pytest_asyncio.fixture
async def node_b(shared_db: SharedDatabase, tmp_path: Path) -> AsyncIterator[Services]:
    """Node B serving decisions from its replica of the shared acts."""
    config = await node_config(tmp_path, "pbx_b", shared_db.add_role("pbx_b"))
    async with open_services(LiveSettings(config)) as services:
        yield services


def replica_of(services: Services) -> ActReplica:
    """The replica node B's checker reads."""
    store = services.checker._acts
    assert isinstance(store, PostgresActStore)
    assert store.replica is not None
    return store.replica


async def reason_until(
    services: Services, campaign: str, wanted: Reason, within_s: float
) -> Reason:
    """Decide LISTED for `campaign` until `wanted` comes, or `within_s` passes; the last reason."""
    deadline = time.monotonic() + within_s
    while True:
        result = await services.checker.decide_only(CallRequest(LISTED, campaign, "test"))
        if result.decision.reason is wanted or time.monotonic() > deadline:
            return result.decision.reason
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_objection_taken_on_one_node_blocks_the_other(
    node_b: Services, shared_db: SharedDatabase, tmp_path: Path
) -> None:
    """An objection recorded by another process (node A) blocks node B's calls within 1 s."""
    config_a = await node_config(tmp_path, "pbx_a", shared_db.add_role("pbx_a"))
    assert await reason_until(node_b, "spring-promo", Reason.NOT_LISTED, 0) is Reason.NOT_LISTED
    node_a = await asyncio.create_subprocess_exec(
        str(GATEKEEPER), "-c", str(config_a), "objection", "add", LISTED,
        "--advertiser", "acme", "--date", "2026-03-01",
        stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    _, stderr = await node_a.communicate()
    assert node_a.returncode == 0, stderr
    assert await reason_until(node_b, "spring-promo", Reason.OBJECTION, 1.0) is Reason.OBJECTION


@pytest.mark.asyncio
async def test_lost_notification_is_caught_by_the_poll(
    node_b: Services, shared_db: SharedDatabase, tmp_path: Path
) -> None:
    """With no notification sent at all, the replica still applies a change at its next poll."""
    with shared_db.superuser() as conn:
        conn.execute("ALTER TABLE gatekeeper.acts DISABLE TRIGGER acts_notify")
    config_a = await node_config(tmp_path, "pbx_a", shared_db.add_role("pbx_a"))
    assert await cli(config_a, "objection", "add", LISTED, "--advertiser", "acme",
                     "--date", "2026-03-01") == 0  # fmt: skip
    found = await reason_until(node_b, "spring-promo", Reason.OBJECTION, 3 * POLL_S)
    assert found is Reason.OBJECTION


@pytest.mark.asyncio
async def test_revocation_reaches_the_other_node(
    node_b: Services, shared_db: SharedDatabase, tmp_path: Path
) -> None:
    """A revoked objection stops blocking on every node."""
    config_a = await node_config(tmp_path, "pbx_a", shared_db.add_role("pbx_a"))
    for argv in (
        ("objection", "add", LISTED, "--advertiser", "acme", "--date", "2026-03-01"),
        ("objection", "revoke", "1", "--reason", "wrong number"),
    ):
        assert await cli(config_a, *argv) == 0
    assert await reason_until(node_b, "spring-promo", Reason.NOT_LISTED, 1.0) is Reason.NOT_LISTED
    assert replica_of(node_b).status().acts == 0


@pytest.fixture
def own_cluster() -> Iterator[PostgresCluster]:
    """A server of this test's own, to stop and start."""
    with PostgresCluster() as cluster:
        yield cluster


@pytest.mark.asyncio
async def test_node_blocks_while_postgres_is_down_and_recovers(
    own_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """PostgreSQL down: commercial calls block (acts_unavailable) until it is back, by itself.

    Informational calls go on meanwhile.
    """
    database = create_database(own_cluster, tmp_path / "secrets")
    config = await node_config(tmp_path, "pbx_b", database.add_role("pbx_b"), max_lag_ms=300)
    async with open_services(LiveSettings(config)) as services:
        assert await reason_until(services, "spring-promo", Reason.NOT_LISTED, 0) is (
            Reason.NOT_LISTED
        )
        own_cluster.stop("immediate")
        blocked = await reason_until(services, "spring-promo", Reason.ACTS_UNAVAILABLE, 1.0)
        assert blocked is Reason.ACTS_UNAVAILABLE
        healthy, detail = acts_check(replica_of(services))()  # type: ignore[misc]
        assert not healthy
        assert "commercial calls block with acts_unavailable" in detail
        result = await services.checker.check(CallRequest(LISTED, "spring-promo", "test"))
        assert "not known within 300 ms" in result.decision.rule
        assert result.decision_id is not None
        informational = await services.checker.decide_only(CallRequest(LISTED, "reminders", "t"))
        assert informational.decision.reason is Reason.INFORMATIONAL_CAMPAIGN
        own_cluster.start()
        back = await reason_until(services, "spring-promo", Reason.NOT_LISTED, 10.0)
        assert back is Reason.NOT_LISTED
        assert replica_of(services).status().current


@pytest.mark.asyncio
async def test_node_starts_blocked_without_postgres(tmp_path: Path) -> None:
    """A node whose database is unreachable at start serves, blocking commercial calls."""
    with PostgresCluster() as cluster:
        database = create_database(cluster, tmp_path / "secrets")
        config = await node_config(tmp_path, "pbx_b", database.add_role("pbx_b"), max_lag_ms=300)
    async with open_services(LiveSettings(config)) as services:
        result = await services.checker.decide_only(CallRequest(LISTED, "spring-promo", "test"))
        assert result.decision.reason is Reason.ACTS_UNAVAILABLE
