"""Where the index lives on disk, and the few file operations that make a swap crash-safe.

Layout of the index directory (`data_dir / "dncm"`, mode 0700, every file 0600):

    CURRENT                 the id of the live snapshot, replaced atomically (os.replace)
    snapshots/<id>.sqlite   complete, fsynced snapshots; only CURRENT and its predecessor are kept
    snapshots/<id>.partial  a build in progress (or left by a crash; removed by the next import)
    history.sqlite          one row per imported snapshot
    inbox/                  files fetched over sFTP
    sync.lock               held (flock) by the one import allowed at a time; names its holder
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import stat
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from gatekeeper.common import (
    PRIVATE_FILE_MODE,
    SyncError,
    fsync_directory,
    make_private_dir,
    write_private,
)

SNAPSHOT_SUFFIX = ".sqlite"
PARTIAL_SUFFIX = ".partial"
DATA_INBOX = "inbox"
"""The folder of data_dir where an admin or a transfer job drops the list file."""
LOCK_WAIT_S = 5.0
"""How long a sync waits for another one to finish before it gives up (`sync --lock-wait`)."""
LOCK_POLL_S = 0.05
HOLDER_COMMAND_CHARS = 200
HOLDER_MAX_BYTES = 1024


@dataclass(frozen=True, slots=True)
class IndexPaths:
    """The files of one index directory."""

    directory: Path

    @property
    def current(self) -> Path:
        """The pointer naming the live snapshot."""
        return self.directory / "CURRENT"

    @property
    def snapshots(self) -> Path:
        """The folder of snapshot files."""
        return self.directory / "snapshots"

    @property
    def history(self) -> Path:
        """The sync history database."""
        return self.directory / "history.sqlite"

    @property
    def inbox(self) -> Path:
        """Where fetched list files land."""
        return self.directory / "inbox"

    @property
    def lock(self) -> Path:
        """The import lock file."""
        return self.directory / "sync.lock"

    def snapshot(self, snapshot_id: int) -> Path:
        """The file of a complete snapshot."""
        return self.snapshots / f"{snapshot_id}{SNAPSHOT_SUFFIX}"

    def partial(self, snapshot_id: int) -> Path:
        """The file a snapshot is built in before it is complete."""
        return self.snapshots / f"{snapshot_id}{PARTIAL_SUFFIX}"

    def create(self) -> None:
        """Create the directory tree, private to the service user; SyncError if it cannot."""
        with failures_named(self.directory):
            for folder in (self.directory, self.snapshots, self.inbox):
                make_private_dir(folder)

    def read_current(self) -> int | None:
        """The live snapshot id, or None when no snapshot was ever swapped in."""
        try:
            text = self.current.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        if not text.isdigit():
            raise SyncError(f"{self.current}: not a snapshot id: {text[:20]!r}")
        return int(text)

    def write_current(self, snapshot_id: int) -> None:
        """Point CURRENT at a snapshot: write a temporary file, fsync, rename over, fsync dir."""
        temporary = self.directory / "CURRENT.tmp"
        write_private(temporary, f"{snapshot_id}\n".encode("ascii"))
        temporary.replace(self.current)
        fsync_directory(self.directory)

    def snapshot_ids(self, suffix: str) -> list[int]:
        """Ids of the snapshot files with this suffix, ascending."""
        found = []
        for entry in self.snapshots.glob(f"*{suffix}"):
            stem = entry.name.removesuffix(suffix)
            if stem.isdigit():
                found.append(int(stem))
        return sorted(found)


@contextlib.contextmanager
def failures_named(where: Path) -> Iterator[None]:
    """Turn an OS or SQLite failure (full disk, read-only) into a SyncError naming the path."""
    try:
        yield
    except OSError as err:
        name = err.filename if err.filename is not None else where
        raise SyncError(f"{name}: {err.strerror or err}") from err
    except sqlite3.Error as err:
        raise SyncError(f"{where}: {err}") from err


def create_data_dir(data_dir: Path) -> None:
    """Create the data folder and its list inbox when missing, private to the service user."""
    with failures_named(data_dir):
        for folder in (data_dir, data_dir / DATA_INBOX):
            make_private_dir(folder)


class NotRegularFileError(OSError):
    """A path that names a pipe, a device, a socket or a folder where a file was expected."""


_FILE_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def open_regular(path: Path) -> BinaryIO:
    """Open a regular file for reading; a pipe or device is refused at once, never waited on."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((name for test, name in _FILE_KINDS if test(mode)), "of another kind")
        raise NotRegularFileError(f"{path} is {kind}, not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


@contextlib.contextmanager
def import_lock(paths: IndexPaths, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """Hold the directory's import lock: imports (timer, `serve`, by hand) run one at a time.

    Waits at most `wait_s` for another holder, then raises SyncError naming it (pid, command,
    since when: each holder writes this into the lock file and clears it when done).
    """
    try:
        fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    except OSError as err:
        raise SyncError(f"{paths.lock}: cannot open the sync lock: {err.strerror}") from err
    try:
        _take(fd, paths.lock, wait_s)
        _write_holder(fd)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def _take(fd: int, path: Path, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise SyncError(
                    f"{path}: another sync holds the lock ({_holder(fd)}); gave up after "
                    f"{wait_s:g} s; try again when it is done, or stop it if it is stuck"
                ) from None
            time.sleep(LOCK_POLL_S)
        else:
            return


def _write_holder(fd: int) -> None:
    holder = {
        "pid": os.getpid(),
        "command": " ".join(sys.argv)[:HOLDER_COMMAND_CHARS],
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(holder).encode("utf-8") + b"\n", 0)


def _holder(fd: int) -> str:
    """Who holds the lock, as its holder wrote it; control characters are escaped."""
    try:
        holder = json.loads(os.pread(fd, HOLDER_MAX_BYTES, 0))
        return (
            f"pid {int(holder['pid'])}, since {holder['since']!s:.32}, "
            f"command {json.dumps(str(holder['command']))}"
        )
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"
