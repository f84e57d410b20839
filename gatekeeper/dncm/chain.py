"""The list's records in the decision log's chain: which list was put in force, which was refused.

An inspector reads the chain, not the index folder, to see which list was in force when: every
sync leaves a `list_sync` record (`ok` for a new live list, `unchanged` when the file was the live
list again, `failed` with the error otherwise). The record of a new list is written while the
import lock is still held, so no other sync can come between the swap and its record.
"""

from __future__ import annotations

from collections.abc import Mapping

from gatekeeper.audit.events import record_event_now
from gatekeeper.config import Settings
from gatekeeper.dncm.sync import ImportReport
from gatekeeper.errors import GatekeeperError

LIST_SYNC = "list_sync"


class ChainJournal:
    """Records syncs in the decision log named by the settings; keeps errors instead of raising."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.errors: list[str] = []

    def imported(self, report: ImportReport) -> None:
        """Record a list put in force (or found unchanged)."""
        status = "unchanged" if report.unchanged else "ok"
        self.record({"status": status, **report.as_json()})

    def failed(self, error: str) -> None:
        """Record a sync that was refused or failed; the live list is kept."""
        self.record({"status": "failed", "error": error})

    def record(self, details: Mapping[str, object]) -> None:
        """Append one list_sync record; a failure is kept in `errors`."""
        try:
            record_event_now(self._settings, LIST_SYNC, details)
        except GatekeeperError as err:
            self.errors.append(str(err))
