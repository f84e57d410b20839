"""Record one non-decision event (a list sync, a scrub) from a short-lived command."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.schema import log_path
from gatekeeper.common import HasDataDir


def record_event_now(settings: HasDataDir, kind: str, details: Mapping[str, object]) -> str:
    """Append the event to the settings' decision log; returns its id. Raises AuditError."""

    async def record() -> str:
        decision_log = await DecisionLog.open(log_path(settings.data_dir))
        try:
            return await decision_log.record_event(kind, details)
        finally:
            await decision_log.close()

    return asyncio.run(record())
