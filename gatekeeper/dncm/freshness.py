"""Whether a list file may replace the live list: the live list never goes backwards.

Theory of operation: a file's list date comes from its modification time unless the admin gives
`--list-date`, and a copy (`cp` without `-p`, a mirror job, an sFTP re-upload) gets a fresh
mtime. So the date alone cannot tell an old list from a new one; the content can. Before a build,
the file's SHA-256 is looked up in the sync history: the live list's own bytes again are
"unchanged" (nothing is replaced and the live date stays), any earlier list's bytes are refused.
A list dated before the live list is refused (it would make every commercial call `list_stale`),
and after the build a list whose newest registration is older than the live list's newest is
refused (an old list with a few edits). `--force` lifts these three refusals, for an admin who
means to put an earlier list back; a replayed list then keeps the date it was first imported
with, so forcing never makes an old list look fresh.
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import date
from pathlib import Path

from gatekeeper.common import IndexUnavailableError, ListRefusedError, SyncError
from gatekeeper.dncm.dates import day_of
from gatekeeper.dncm.snapshot import SyncRecord, open_snapshot

FINGERPRINT_CHUNK_BYTES = 1 << 20
_FORCE_HINT = (
    "fetch the newest file from DNCM; to put this list back on purpose, run "
    "`gatekeeper sync --file PATH --force`"
)


class BackwardsListError(ListRefusedError):
    """A file refused because it would take the live list backwards; `reason` says which rule."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def fingerprint(file: Path) -> str:
    """The SHA-256 of a file, read in bounded chunks."""
    hasher = hashlib.sha256()
    try:
        with file.open("rb") as stream:
            while chunk := stream.read(FINGERPRINT_CHUNK_BYTES):
                hasher.update(chunk)
    except OSError as err:
        raise SyncError(f"{file}: cannot read the list file: {err.strerror}") from err
    return hasher.hexdigest()


def earlier_import(history: list[SyncRecord], sha256: str) -> SyncRecord | None:
    """The latest earlier import of these exact bytes, if any."""
    matches = [record for record in history if record.sha256 == sha256]
    return matches[-1] if matches else None


def refuse_replay(file: Path, earlier: SyncRecord, live: SyncRecord | None) -> BackwardsListError:
    """The refusal of a file whose bytes an earlier, no longer live, import already had."""
    live_text = (
        f"; the live list is snapshot {live.snapshot_id} of {live.list_date.isoformat()}"
        if live is not None
        else ""
    )
    return BackwardsListError(
        "already_imported",
        f"{file}: already imported as snapshot {earlier.snapshot_id} (list date "
        f"{earlier.list_date.isoformat()}, imported "
        f"{earlier.imported_at.isoformat(timespec='minutes')})"
        f"{live_text}: an earlier list is not put back; {_FORCE_HINT}",
    )


def check_list_date(file: Path, day: date, live: SyncRecord | None, *, vouched: bool) -> None:
    """Refuse a list dated before the live list."""
    if live is None or day >= live.list_date:
        return
    origin = "given with --list-date" if vouched else "the file's modification date"
    raise BackwardsListError(
        "older_list_date",
        f"{file}: list date {day.isoformat()} ({origin}) is before the live list's date "
        f"{live.list_date.isoformat()} (snapshot {live.snapshot_id}): an older list would make "
        f"every commercial call list_stale; {_FORCE_HINT}",
    )


def newest_registration(snapshot: Path) -> int | None:
    """The newest registration day number in a sealed snapshot; None when it cannot be read."""
    try:
        connection = open_snapshot(snapshot)
    except IndexUnavailableError:
        return None
    try:
        row = connection.execute("SELECT max(registered) FROM listing").fetchone()
    except sqlite3.Error:
        return None
    finally:
        connection.close()
    return None if row is None or row[0] is None else int(row[0])


def check_newest(file: Path, newest: int | None, live_newest: int | None, live: SyncRecord) -> None:
    """Refuse a list whose newest registration is older than the live list's newest."""
    if newest is None or live_newest is None or newest >= live_newest:
        return
    raise BackwardsListError(
        "older_registrations",
        f"{file}: its newest registration ({day_of(newest).isoformat()}) is older than the "
        f"live list's newest ({day_of(live_newest).isoformat()}, snapshot {live.snapshot_id}): "
        f"probably an older list; {_FORCE_HINT}",
    )
