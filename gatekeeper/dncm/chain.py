"""The list's records in the decision log's chain: which list was put in force, which was refused.

Theory of operation: an inspector reads the chain, not the index folder, to see which list was in
force when. Every sync leaves a `list_sync` record (`ok` for a new live list, `unchanged` when the
file was the live list again, `failed` with the error otherwise), written while the import lock
is still held, so no other sync comes between a swap and its record. A crash between the swap
and the record (SIGKILL, power cut) would leave a live list the chain does not show; so each
sync, under the lock and before it changes anything, and `serve` at start compare the live
snapshot with the last `ok`/`unchanged` record, and when they differ record the live list with
`recovered: true` (its id, list date, fingerprint, source and import time). `serve` does not wait
for the lock: a sync that holds it makes the same check itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import structlog

from gatekeeper.audit import EventKind, iter_events, log_path, reading, record_event_now
from gatekeeper.common import GatekeeperError, HasDataDir
from gatekeeper.dncm.freshness import BackwardsListError
from gatekeeper.dncm.snapshot import SyncRecord
from gatekeeper.dncm.storage import IndexPaths, import_lock
from gatekeeper.dncm.sync import ImportReport, current_record

log = structlog.get_logger()

LIST_SYNC = EventKind.LIST_SYNC
IN_FORCE_STATUSES = ("ok", "unchanged")


class EventRecorder(Protocol):
    """An open decision log (`DecisionLog`)."""

    path: Path

    async def record_event(self, kind: str, details: Mapping[str, object]) -> str:
        """Append an event to the chain."""


def recorded_in_force(log_file: Path) -> tuple[int, str] | None:
    """(snapshot id, sha256) of the list the chain last shows put in force; None if none."""
    if not log_file.exists():
        return None
    found = None
    with reading(log_file) as conn:
        for event in iter_events(conn, (LIST_SYNC,)):
            details = event.details
            if details.get("status") in IN_FORCE_STATUSES and "snapshot_id" in details:
                found = (int(details["snapshot_id"]), str(details.get("sha256")))
    return found


def is_recorded(log_file: Path, live: SyncRecord) -> bool:
    """Whether the chain's last list put in force is the live snapshot."""
    return recorded_in_force(log_file) == (live.snapshot_id, live.sha256)


def recovered_details(live: SyncRecord) -> dict[str, object]:
    """The record of a live list found without its record in the chain."""
    return {
        "status": "ok",
        "recovered": True,
        "snapshot_id": live.snapshot_id,
        "list_date": live.list_date.isoformat(),
        "sha256": live.sha256,
        "rows": live.rows,
        "source": live.source,
        "imported_at": live.imported_at.isoformat(),
    }


async def record_live_list(directory: Path, decision_log: EventRecorder) -> None:
    """At `serve` start: record the live list when the chain does not show it (never raises)."""
    paths = IndexPaths(directory)
    try:
        if paths.read_current() is None:
            return
        with import_lock(paths, wait_s=0):
            live = current_record(paths)
            if live is None or await asyncio.to_thread(is_recorded, decision_log.path, live):
                return
            await decision_log.record_event(LIST_SYNC, recovered_details(live))
            log.warning("dncm_live_list_recorded", **recovered_details(live))
    except GatekeeperError as err:
        log.error("dncm_live_list_not_checked", error=str(err))


class ChainJournal:
    """Records syncs in the decision log named by the settings; keeps errors instead of raising."""

    def __init__(self, settings: HasDataDir) -> None:
        self._settings = settings
        self.errors: list[str] = []

    def found_live(self, live: SyncRecord) -> None:
        """Record the live list as recovered when the chain does not show it in force."""
        try:
            recorded = is_recorded(log_path(self._settings.data_dir), live)
        except GatekeeperError as err:
            self.errors.append(str(err))
            return
        if not recorded:
            self.record(recovered_details(live))
            log.warning("dncm_live_list_recorded", **recovered_details(live))

    def imported(self, report: ImportReport) -> None:
        """Record a list put in force (or found unchanged)."""
        status = "unchanged" if report.unchanged else "ok"
        self.record({"status": status, **report.as_json()})

    def failed(self, error: GatekeeperError) -> None:
        """Record a sync that was refused or failed (with its rule when it had one)."""
        details: dict[str, object] = {"status": "failed", "error": str(error)}
        if isinstance(error, BackwardsListError):
            details["refused"] = error.reason
        self.record(details)

    def record(self, details: Mapping[str, object]) -> None:
        """Append one list_sync record; a failure is kept in `errors`."""
        try:
            record_event_now(self._settings, LIST_SYNC, details)
        except GatekeeperError as err:
            self.errors.append(str(err))
