"""Importing a list file into a new snapshot and swapping it in; the scheduled sync of `serve`.

Theory of operation: an import takes the directory's lock (waiting at most `lock_wait_s`),
removes what crashed imports left, and hands the live list to the journal, which records it if
a crash kept it out of the decision log's chain. The file's fingerprint is looked up in the sync
history: the live list's bytes again are "unchanged" and replace nothing; an earlier list's
bytes, or a list dated before the live one, are refused unless forced (`freshness`). Then it
detects the layout from the file's head, streams the file into a new snapshot beside the live
one, and validates before anything is replaced: the bytes parsed are the bytes fingerprinted,
rejected lines within tolerance, the trailer's count, day-first dates proven, no suspicious
shrink, no newest registration older than the live list's. Only a sealed, fsynced snapshot is
renamed into place and named by CURRENT (os.replace, then the directory fsynced); the history
row, the journal's record and the clean-up of old snapshots come after, still under the lock,
and the next import repairs the history row and the chain's record if a crash cuts them short.
OS and SQLite failures (full disk, read-only folder) become SyncErrors naming the path. Readers
never wait: they keep answering from the snapshot they have open until CURRENT changes.

`serve` runs its scheduled imports in a child process (`python -m gatekeeper.dncm sync`), not a
thread: the parse loop would otherwise hold the GIL for whole switch intervals (5 ms) and stall
the lookups of live calls. A failed sync keeps the last good snapshot, logs an error, counts the
failure in its `SyncStatus` and tells `on_result` (the metrics); policy blocks calls once the
kept list is too old.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol

import structlog

from gatekeeper.common import (
    BRUSSELS,
    GatekeeperError,
    IndexUnavailableError,
    ListFormatError,
    ListRefusedError,
    SyncError,
    backoff_ceiling,
    fsync_directory,
    now,
)
from gatekeeper.dncm.dates import number_of
from gatekeeper.dncm.freshness import (
    check_list_date,
    check_newest,
    earlier_import,
    fingerprint,
    newest_registration,
    refuse_replay,
)
from gatekeeper.dncm.history import record_sync, recorded_ids, sync_history
from gatekeeper.dncm.index import ListIndex
from gatekeeper.dncm.layout import SAMPLE_BYTES, Layout, LayoutPin, detect_layout
from gatekeeper.dncm.parser import ListParser, ParseTally, RejectedLine
from gatekeeper.dncm.settings import DncmSettings
from gatekeeper.dncm.snapshot import SnapshotBuilder, SyncRecord, open_sealed
from gatekeeper.dncm.sources import fetch, local_file, mtime_date
from gatekeeper.dncm.storage import (
    LOCK_WAIT_S,
    PARTIAL_SUFFIX,
    SNAPSHOT_SUFFIX,
    IndexPaths,
    create_data_dir,
    failures_named,
    import_lock,
)
from gatekeeper.rules import LIST_DATE_TOLERANCE_DAYS

log = structlog.get_logger()

SHOWN_REJECTS = 20
KEPT_SNAPSHOTS = 2
DAILY_AT = (0, 30)
RETRY_FIRST_S = 60.0
RETRY_MAX_S = 3600.0
TRAILER_MARK = " trailer"
"""Ends a snapshot's layout when its file had a record-count trailer."""
CHILD_DEADLINE_S = 1800.0
CHILD_GRACE_S = 10.0


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did; `unchanged` when the file was the live list's bytes again."""

    record: SyncRecord
    layout: Layout | None
    data_lines: int
    trailer_count: int | None
    rejects: tuple[RejectedLine, ...]
    unchanged: bool = False

    def summary(self) -> str:
        """One line for people: rows, changes, fingerprint, list date."""
        record = self.record
        if self.unchanged:
            return (
                f"unchanged: the file is the live list (snapshot {record.snapshot_id}, "
                f"{record.rows} rows, list date {record.list_date.isoformat()}, "
                f"sha256 {record.sha256}); nothing replaced"
            )
        return (
            f"snapshot {record.snapshot_id}: {record.rows} rows, +{record.added} added, "
            f"-{record.removed} removed, {record.duplicates} duplicates, "
            f"{record.rejected} rejected, list date {record.list_date.isoformat()}, "
            f"sha256 {record.sha256}"
        )

    def as_json(self) -> dict[str, object]:
        """The report as a JSON object (no list content, only counts and the fingerprint)."""
        record = self.record
        return {
            "snapshot_id": record.snapshot_id,
            "rows": record.rows,
            "added": 0 if self.unchanged else record.added,
            "removed": 0 if self.unchanged else record.removed,
            "duplicates": record.duplicates,
            "rejected": record.rejected,
            "sha256": record.sha256,
            "list_date": record.list_date.isoformat(),
            "source": record.source,
            "layout": record.layout,
            "unchanged": self.unchanged,
        }


class SyncJournal(Protocol):
    """Where each sync is recorded for inspectors (the decision log's chain); never raises."""

    def found_live(self, live: SyncRecord) -> None:
        """Called under the import lock with the live list, before anything changes."""

    def imported(self, report: ImportReport) -> None:
        """Called under the import lock once a list went live (or was found unchanged)."""


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """When an import is refused (from `dncm.max_rejected_lines`, `dncm.max_shrink_percent`)."""

    max_rejected_lines: int = 0
    max_shrink_percent: int = 5


def import_list_file(  # noqa: PLR0913 - the import's keyword-only knobs
    directory: Path,
    file: Path,
    *,
    source: str,
    list_date: date | None = None,
    source_date: date | None = None,
    force: bool = False,
    layout: LayoutPin | None = None,
    limits: ImportLimits | None = None,
    journal: SyncJournal | None = None,
    lock_wait_s: float = LOCK_WAIT_S,
) -> ImportReport:
    """Parse, validate, build a new snapshot beside the live one and swap it in (blocking).

    The list date is `list_date` (the admin's word), else `source_date` (what the source
    vouches for), else the file's modification date. Raises ListFormatError when the file cannot
    be read unambiguously and ListRefusedError when it fails validation or would take the live
    list backwards; either way the live snapshot is untouched.
    """
    paths = IndexPaths(directory)
    paths.create()
    day = _list_day(file, list_date, source_date)
    with failures_named(paths.directory), import_lock(paths, lock_wait_s):
        _remove_partials(paths)
        previous = current_record(paths)
        if previous is not None and previous.snapshot_id not in recorded_ids(paths):
            record_sync(paths, previous)
        if previous is not None and journal is not None:
            journal.found_live(previous)
        sha256 = fingerprint(file)
        earlier = earlier_import(sync_history(paths.directory), sha256)
        if earlier is not None and not force:
            if previous is None or earlier.snapshot_id != previous.snapshot_id:
                raise refuse_replay(file, earlier, previous)
            report = ImportReport(previous, None, 0, None, (), unchanged=True)
            log.warning("dncm_unchanged_file", **report.as_json())
        else:
            if earlier is not None and list_date is None:
                day = earlier.list_date
            if not force:
                check_list_date(file, day, previous, vouched=list_date is not None)
            report = _build_and_swap(
                paths,
                file,
                _Import(
                    source, day, sha256, force, layout or LayoutPin(), limits or ImportLimits()
                ),
                previous,
            )
        if journal is not None:
            journal.imported(report)
    return report


def _list_day(file: Path, list_date: date | None, source_date: date | None) -> date:
    """The date the list describes; refused when it is in the future."""
    try:
        stat = file.stat()
    except OSError as err:
        raise SyncError(f"{file}: cannot read the list file: {err.strerror}") from err
    if not file.is_file():
        raise SyncError(f"{file}: not a list file (a folder or a device?)")
    day = list_date or source_date or mtime_date(stat.st_mtime)
    if (day - now().date()).days > LIST_DATE_TOLERANCE_DAYS:
        raise ListRefusedError(
            f"{file}: list date {day.isoformat()} is in the future"
            + ("" if list_date else " (the file's modification time; is the clock right?)")
        )
    return day


@dataclass(frozen=True, slots=True)
class _Import:
    """What one import was asked to do."""

    source: str
    day: date
    sha256: str
    force: bool
    pin: LayoutPin
    limits: ImportLimits


def _build_and_swap(
    paths: IndexPaths, file: Path, job: _Import, previous: SyncRecord | None
) -> ImportReport:
    """Build the snapshot, validate it, and make it live (the import lock is held)."""
    detected = _detect(file, job.pin)
    snapshot_id = _next_id(paths, previous)
    with failures_named(paths.partial(snapshot_id)):
        builder = SnapshotBuilder(paths.partial(snapshot_id))
        try:
            parser = ListParser(file, detected, latest_day=number_of(job.day))
            builder.load(parser.batches())
            _same_bytes(file, parser.tally.sha256, job.sha256)
            _validate(
                file,
                tally=parser.tally,
                rows=builder.rows,
                previous=previous,
                layout=detected,
                pin=job.pin,
                limits=job.limits,
                force=job.force,
            )
            previous_file = paths.snapshot(previous.snapshot_id) if previous else None
            if previous_file is not None and not previous_file.exists():
                previous_file = None
            if previous is not None and previous_file is not None and not job.force:
                check_newest(
                    file,
                    builder.newest_registration(),
                    newest_registration(previous_file),
                    previous,
                )
            added, removed = builder.compare(previous_file)
            record = SyncRecord(
                snapshot_id=snapshot_id,
                imported_at=now(),
                source=job.source,
                sha256=parser.tally.sha256,
                list_date=job.day,
                rows=builder.rows,
                added=added,
                removed=removed,
                duplicates=parser.tally.accepted - builder.rows,
                rejected=parser.tally.rejected,
                layout=detected.describe()
                + (TRAILER_MARK if parser.tally.trailer_count is not None else ""),
            )
            builder.seal(record)
        except BaseException:
            builder.discard()
            raise
    paths.partial(snapshot_id).replace(paths.snapshot(snapshot_id))
    fsync_directory(paths.snapshots)
    paths.write_current(snapshot_id)
    record_sync(paths, record)
    _remove_old(paths, snapshot_id)
    tally = parser.tally
    return ImportReport(
        record, detected, tally.data_lines, tally.trailer_count, tuple(tally.rejects)
    )


def _same_bytes(file: Path, parsed: str, checked: str) -> None:
    if parsed != checked:
        raise SyncError(f"{file}: the file changed while it was read; sync again")


def _detect(file: Path, pin: LayoutPin) -> Layout:
    try:
        with file.open("rb") as stream:
            head = stream.read(SAMPLE_BYTES)
            at_eof = not stream.read(1)
    except OSError as err:
        raise SyncError(f"{file}: cannot read the list file: {err.strerror}") from err
    return detect_layout(head, at_eof=at_eof, pin=pin, where=str(file))


def _validate(  # noqa: PLR0913 - every refusal needs its own fact
    file: Path,
    *,
    tally: ParseTally,
    rows: int,
    previous: SyncRecord | None,
    layout: Layout,
    pin: LayoutPin,
    limits: ImportLimits,
    force: bool,
) -> None:
    if tally.rejected > limits.max_rejected_lines:
        shown = "; ".join(str(r) for r in tally.rejects[:SHOWN_REJECTS])
        more = tally.rejected - min(tally.rejected, SHOWN_REJECTS)
        raise ListRefusedError(
            f"{file}: {tally.rejected} rejected lines exceed the tolerance of "
            f"{limits.max_rejected_lines} (dncm.max_rejected_lines): {shown}"
            + (f"; and {more} more" if more else "")
        )
    if tally.trailer_count is not None and tally.trailer_count != tally.data_lines:
        raise ListRefusedError(
            f"{file}:{tally.trailer_line}: the trailer counts {tally.trailer_count} records "
            f"but the file holds {tally.data_lines}: probably truncated or corrupt"
        )
    had_trailer = previous is not None and previous.layout.endswith(TRAILER_MARK)
    if had_trailer and tally.trailer_count is None and not force:
        raise ListRefusedError(
            f"{file}: the previous list file ended with a record count and this one has none: "
            "probably cut short; use --force if the supplier changed the layout"
        )
    unproven = layout.date_format.day_first and not tally.day_first_proven
    if unproven and pin.date_format is None and tally.accepted:
        raise ListFormatError(
            f"{file}: dates like 03/04/2021 cannot tell day from month and no date in the file "
            "has a day above 12; pin dncm.layout.date_format (DD/MM/YYYY or MM/DD/YYYY)"
        )
    if force:
        return
    if rows == 0:
        raise ListRefusedError(f"{file}: the file lists no number; refusing an empty list")
    if previous is not None and previous.rows:
        floor = previous.rows * (100 - limits.max_shrink_percent) / 100
        if rows < floor:
            shrink = 100 * (previous.rows - rows) / previous.rows
            raise ListRefusedError(
                f"{file}: {rows} numbers is {shrink:.1f}% fewer than the current snapshot's "
                f"{previous.rows} (more than dncm.max_shrink_percent="
                f"{limits.max_shrink_percent}%): probably truncated; use --force if it is right"
            )


def current_record(paths: IndexPaths) -> SyncRecord | None:
    """The live snapshot's metadata; from the sync history when its file is gone or unreadable.

    A lost snapshot file must not stop the import that replaces it: the history still has its
    row count (the truncation guard's baseline) and its id.
    """
    snapshot_id = paths.read_current()
    if snapshot_id is None:
        return None
    path = paths.snapshot(snapshot_id)
    try:
        connection, record = open_sealed(path)
    except IndexUnavailableError as err:
        log.warning("dncm_current_snapshot_unreadable", snapshot=str(path), error=str(err))
    else:
        connection.close()
        return record
    recorded = [r for r in sync_history(paths.directory) if r.snapshot_id == snapshot_id]
    return recorded[-1] if recorded else None


def _next_id(paths: IndexPaths, previous: SyncRecord | None) -> int:
    known = paths.snapshot_ids(SNAPSHOT_SUFFIX) + paths.snapshot_ids(PARTIAL_SUFFIX)
    known.extend(recorded_ids(paths))
    if previous is not None:
        known.append(previous.snapshot_id)
    return max(known, default=0) + 1


def _remove_partials(paths: IndexPaths) -> None:
    for snapshot_id in paths.snapshot_ids(PARTIAL_SUFFIX):
        paths.partial(snapshot_id).unlink(missing_ok=True)
        log.warning("dncm_partial_removed", snapshot_id=snapshot_id)


def _remove_old(paths: IndexPaths, current: int) -> None:
    kept = [i for i in paths.snapshot_ids(SNAPSHOT_SUFFIX) if i <= current][-KEPT_SNAPSHOTS:]
    for snapshot_id in paths.snapshot_ids(SNAPSHOT_SUFFIX):
        if snapshot_id not in kept:
            paths.snapshot(snapshot_id).unlink(missing_ok=True)


def sync_now(  # noqa: PLR0913 - keyword-only knobs of one command
    settings: SyncSettings,
    *,
    file: Path | None = None,
    list_date: date | None = None,
    force: bool = False,
    journal: SyncJournal | None = None,
    lock_wait_s: float = LOCK_WAIT_S,
) -> ImportReport:
    """Fetch the list from the configured source (or `file`) and import it (blocking)."""
    directory = settings.data_dir / "dncm"
    create_data_dir(settings.data_dir)
    IndexPaths(directory).create()
    if file is not None:
        fetched = local_file(file)
    else:
        fetched = fetch(settings.dncm, IndexPaths(directory).inbox)
    dncm = settings.dncm
    report = import_list_file(
        directory,
        fetched.path,
        source=fetched.source,
        list_date=list_date,
        source_date=fetched.list_date,
        force=force,
        layout=dncm.layout,
        limits=ImportLimits(dncm.max_rejected_lines, dncm.max_shrink_percent),
        journal=journal,
        lock_wait_s=lock_wait_s,
    )
    log.info("dncm_sync_done", **report.as_json())
    return report


@dataclass(slots=True)
class SyncStatus:
    """Counters of the scheduled sync, for metrics and health checks."""

    attempts: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_report: dict[str, object] = field(default_factory=dict)


class SyncSettings(Protocol):
    """What a sync reads of the settings (`gatekeeper.config.Settings` is one)."""

    @property
    def path(self) -> Path:
        """The config file, which the sync child process is started with."""

    @property
    def data_dir(self) -> Path:
        """The folder that holds the index."""

    @property
    def dncm(self) -> DncmSettings:
        """The `dncm` section."""


class SettingsSource(Protocol):
    """Something that yields the settings in force (`config.LiveSettings`)."""

    def current(self) -> SyncSettings:
        """The settings in force now."""


def _settings_of(provider: SettingsSource | Callable[[], SyncSettings]) -> SyncSettings:
    current = getattr(provider, "current", None)
    if callable(current):
        settings: SyncSettings = current()
        return settings
    assert callable(provider)
    return provider()


class SyncResults(Protocol):
    """Told of each scheduled sync's result (`serve.metrics.Metrics.count_sync`)."""

    def __call__(self, *, ok: bool) -> None:
        """One sync ended, well or not."""


def _ignore(*, ok: bool) -> None:
    """No one to tell of a sync's result."""
    del ok


def seconds_until_next_run(at: datetime, daily_at: tuple[int, int] = DAILY_AT) -> float:
    """Seconds from `at` to the next daily run time in Brussels."""
    local = at.astimezone(BRUSSELS)
    target = local.replace(hour=daily_at[0], minute=daily_at[1], second=0, microsecond=0)
    if target <= local:
        target = (target + timedelta(days=1)).replace(hour=daily_at[0], minute=daily_at[1])
    return max(0.0, (target - local).total_seconds())


def needs_sync_now(index: ListIndex, today: date) -> bool:
    """At start-up: sync at once when there is no list, or it is older than yesterday's."""
    try:
        snapshot = index.snapshot()
    except GatekeeperError:
        return True
    return snapshot is None or snapshot.list_date < today - timedelta(days=1)


async def sync_forever(  # noqa: PLR0913 - schedule knobs are keyword-only with defaults
    settings_provider: SettingsSource | Callable[[], SyncSettings],
    index: ListIndex,
    stop: asyncio.Event,
    *,
    status: SyncStatus | None = None,
    on_result: SyncResults | None = None,
    daily_at: tuple[int, int] = DAILY_AT,
    retry_first_s: float = RETRY_FIRST_S,
    retry_max_s: float = RETRY_MAX_S,
) -> None:
    """Sync daily and at start-up when the list is old; retry failures with backoff until `stop`."""
    status = status if status is not None else SyncStatus()
    told = on_result if on_result is not None else _ignore
    delay = 0.0 if needs_sync_now(index, now().date()) else seconds_until_next_run(now(), daily_at)
    failures = 0
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        if stop.is_set():
            return
        status.attempts += 1
        try:
            report = await sync_in_child(_settings_of(settings_provider), stop)
            index.refresh()
        except (GatekeeperError, OSError, ValueError) as err:
            failures += 1
            status.failures += 1
            status.consecutive_failures = failures
            status.last_error = str(err)
            told(ok=False)
            delay = backoff_ceiling(failures, retry_first_s, retry_max_s)
            log.error("dncm_sync_failed", error=str(err), retry_in_s=delay, failures=failures)
            continue
        failures = 0
        status.consecutive_failures = 0
        status.last_success_at = now()
        status.last_error = None
        status.last_report = report
        told(ok=True)
        log.info("dncm_sync_ok", **report)
        delay = seconds_until_next_run(now(), daily_at)


async def sync_in_child(settings: SyncSettings, stop: asyncio.Event) -> dict[str, object]:
    """Run `sync` in a child process; its JSON report, or SyncError with its last error line."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gatekeeper.dncm",
        "-c",
        str(settings.path),
        "sync",
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    communicate = asyncio.ensure_future(process.communicate())
    stopped = asyncio.ensure_future(stop.wait())
    started = time.monotonic()
    try:
        done, _ = await asyncio.wait(
            {communicate, stopped}, timeout=CHILD_DEADLINE_S, return_when=asyncio.FIRST_COMPLETED
        )
        if communicate not in done:
            await _end_child(process)
            raise SyncError(
                "sync stopped before it finished" if stopped in done else "sync timed out"
            )
    except asyncio.CancelledError:
        communicate.cancel()
        await asyncio.shield(_end_child(process))
        raise
    finally:
        stopped.cancel()
    out, err = communicate.result()
    for line in err.decode("utf-8", "replace").splitlines():
        sys.stderr.write(line + "\n")
    if process.returncode != 0:
        last = err.decode("utf-8", "replace").strip().splitlines()
        raise SyncError(
            f"sync exited with {process.returncode} after {time.monotonic() - started:.1f} s: "
            + (last[-1] if last else "no message")
        )
    try:
        report: dict[str, object] = json.loads(out)
    except ValueError as err:
        raise SyncError(f"sync printed no JSON report: {err}") from err
    return report


async def _end_child(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), CHILD_GRACE_S)
    except TimeoutError:
        process.kill()
        await process.wait()
