"""The act store the configuration names: the SQLite file by default, or shared PostgreSQL."""

from __future__ import annotations

from gatekeeper.config import Settings
from gatekeeper.consent import ActStore, act_store_path, open_act_store
from gatekeeper.stores.postgres.acts import open_postgres_act_store


async def open_configured_act_store(settings: Settings, *, replicate: bool = False) -> ActStore:
    """`acts.postgresql` when set (with its local replica for the call path if `replicate`)."""
    if settings.acts_postgres is None:
        return await open_act_store(act_store_path(settings))
    assert settings.node is not None, "config.py requires node with acts.postgresql"
    return await open_postgres_act_store(settings.acts_postgres, settings.node, replicate=replicate)
