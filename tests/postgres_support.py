"""A fresh shared database per test on the session's throw-away cluster, schema and node roles."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import psycopg
from gatekeeper.config import PostgresSettings
from gatekeeper.stores.postgres.connect import read_password
from psycopg import sql
from tools.postgres_cluster import PostgresCluster

SCHEMA_SQL = (
    Path(__file__).resolve().parent.parent / "gatekeeper" / "stores" / "postgres" / "schema.sql"
)
_numbers = itertools.count(1)


@dataclass(frozen=True, slots=True)
class SharedDatabase:
    """One database with the shipped schema, and where its node roles' passwords are."""

    cluster: PostgresCluster
    name: str
    secrets: Path

    def superuser(self) -> psycopg.Connection[tuple[object, ...]]:
        """A superuser connection to this database, for setup and inspection."""
        return psycopg.connect(self.cluster.superuser_dsn(self.name), autocommit=True)

    def add_role(self, role: str, group: str = "gatekeeper_node") -> PostgresSettings:
        """A login role in `group` with a password in its own file; its settings (no password)."""
        password = f"pw-{role}-{next(_numbers)}"
        password_file = self.secrets / f"{role}.password"
        password_file.write_text(password + "\n", encoding="utf-8")
        password_file.chmod(0o600)
        with self.superuser() as conn:
            conn.execute(
                sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)),
            )
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                    sql.Identifier(role), sql.Literal(password), sql.Identifier(group)
                )
            )
        return PostgresSettings(self.cluster.dsn(role, self.name), password_file)


def create_database(cluster: PostgresCluster, secrets: Path) -> SharedDatabase:
    """A new database on `cluster` with schema.sql applied as its owner would."""
    name = f"gatekeeper_{next(_numbers)}"
    with psycopg.connect(cluster.superuser_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(cluster.superuser_dsn(name), autocommit=True) as conn:
        conn.execute(SCHEMA_SQL.read_text(encoding="utf-8"))
    secrets.mkdir(parents=True, exist_ok=True)
    return SharedDatabase(cluster, name, secrets)


def node_password(settings: PostgresSettings) -> str:
    """The password a node's settings name (for a direct psycopg connection in a test)."""
    assert settings.password_file is not None
    return read_password(settings.password_file)
