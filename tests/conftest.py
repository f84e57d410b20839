"""Shared fixtures: the repository on sys.path (for tools/), the Asterisk sandbox, test profiles."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from hypothesis import settings

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tools.asterisk_sandbox import DEFAULT_ROOT, READY_MARK  # noqa: E402
from tools.gatekeeper_run import GatekeeperRun  # noqa: E402
from tools.postgres_cluster import PostgresCluster, postgres_bin  # noqa: E402

from postgres_support import SharedDatabase, create_database  # noqa: E402

settings.register_profile("mutation", derandomize=True, database=None, max_examples=30)
"""`make mutation`'s profile: the same examples on every run, so a mutant is killed or not the
same way each time; fewer than usual, since every survivor runs every property test covering it."""


@pytest.fixture
def gatekeeper_run(tmp_path: Path) -> Iterator[GatekeeperRun]:
    """`gatekeeper serve` on the example config, the sample list imported, a real Asterisk."""
    if not (DEFAULT_ROOT / READY_MARK).exists():
        pytest.fail("the Asterisk sandbox is not installed: run `make asterisk` (make test does)")
    with GatekeeperRun(tmp_path / "run") as run:
        yield run


@pytest.fixture(autouse=True)
def _structlog_defaults() -> Iterator[None]:
    """Each test starts and ends with structlog's default configuration."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throw-away PostgreSQL server for the session (initdb + pg_ctl, a Unix socket)."""
    if postgres_bin() is None:
        pytest.fail("PostgreSQL is missing: run tools/system-deps.sh (installs postgresql)")
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture
def shared_db(postgres_cluster: PostgresCluster, tmp_path: Path) -> SharedDatabase:
    """A fresh database with the shipped schema and roles on the session's server."""
    return create_database(postgres_cluster, tmp_path / "pg-secrets")
