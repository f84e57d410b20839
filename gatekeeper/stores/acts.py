"""The act store the configuration names: the SQLite file by default, or shared PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from gatekeeper.common import ConfigError
from gatekeeper.config import Settings
from gatekeeper.consent import ActStore, act_store_path, open_act_store
from gatekeeper.stores.postgres.acts import open_postgres_act_store
from gatekeeper.stores.postgres.migrate import MigrationReport, migrate_acts


async def open_configured_act_store(settings: Settings, *, replicate: bool = False) -> ActStore:
    """`acts.postgresql` when set (with its local replica for the call path if `replicate`)."""
    if settings.acts_postgres is None:
        return await open_act_store(act_store_path(settings))
    assert settings.node is not None, "config.py requires node with acts.postgresql"
    return await open_postgres_act_store(settings.acts_postgres, settings.node, replicate=replicate)


async def migrate_to_postgresql(
    settings: Settings, source: Path | None, *, keep_shared: bool = False
) -> MigrationReport:
    """Copy the SQLite act store (`source`, else this node's) into `acts.postgresql`."""
    if settings.acts_postgres is None:
        raise ConfigError(
            f"{settings.path}: acts.postgresql is not set: the acts are copied into the shared"
            " store it names (docs/scaling.md)"
        )
    assert settings.node is not None, "config.py requires node with acts.postgresql"
    path = source if source is not None else act_store_path(settings)
    return await migrate_acts(path, settings.acts_postgres, settings.node, keep_shared=keep_shared)
