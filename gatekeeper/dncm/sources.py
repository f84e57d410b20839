"""Where the list file comes from: a file, the newest file of a drop folder, or sFTP.

Each source hands back a local file and the list date its source vouches for: the file's
modification date in Brussels (DNCM refreshes the file just before midnight, so the day it was
written is the day it describes). Files fetched over sFTP land in the index's inbox, 0600, under a
temporary name until complete.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path, PurePosixPath

import asyncssh

from gatekeeper.common import BRUSSELS, ConfigError, SyncError, create_private
from gatekeeper.dncm.settings import DncmSettings, SftpSource

SFTP_CONNECT_TIMEOUT_S = 20.0
SFTP_DEADLINE_S = 600.0
_IN_PROGRESS_SUFFIXES = (".part", ".partial", ".tmp", ".filepart")


@dataclass(frozen=True, slots=True)
class FetchedFile:
    """A list file on local disk, ready to import."""

    path: Path
    list_date: date
    source: str


def mtime_date(timestamp: float) -> date:
    """The Brussels date of a modification time."""
    return datetime.fromtimestamp(timestamp, BRUSSELS).date()


def local_file(path: Path) -> FetchedFile:
    """A list file given by path."""
    try:
        stat = path.stat()
    except OSError as err:
        raise SyncError(f"{path}: cannot read the list file: {err.strerror}") from err
    return FetchedFile(path, mtime_date(stat.st_mtime), f"file:{path}")


def newest_in(folder: Path) -> FetchedFile:
    """The most recently modified complete file of a drop folder."""
    try:
        candidates = [
            entry
            for entry in folder.iterdir()
            if entry.is_file()
            and not entry.name.startswith(".")
            and not entry.name.endswith(_IN_PROGRESS_SUFFIXES)
        ]
    except OSError as err:
        raise SyncError(f"{folder}: cannot read the drop folder: {err.strerror}") from err
    if not candidates:
        raise SyncError(f"{folder}: the drop folder holds no list file")
    newest = max(candidates, key=lambda entry: (entry.stat().st_mtime_ns, entry.name))
    fetched = local_file(newest)
    return FetchedFile(fetched.path, fetched.list_date, f"drop:{newest}")


async def fetch_sftp(source: SftpSource, inbox: Path) -> FetchedFile:
    """Download the list file over sFTP with key authentication; the host key must be known."""
    name = PurePosixPath(source.path).name or "dncm.txt"
    target = inbox / name
    partial = inbox / f"{name}.part"
    known_hosts: object = () if source.known_hosts is None else str(source.known_hosts)
    label = f"sftp://{source.user}@{source.host}:{source.port}{source.path}"
    try:
        async with asyncio.timeout(SFTP_DEADLINE_S):
            async with (
                asyncssh.connect(
                    source.host,
                    port=source.port,
                    username=source.user,
                    client_keys=[str(source.key_file)],
                    known_hosts=known_hosts,
                    connect_timeout=SFTP_CONNECT_TIMEOUT_S,
                    agent_path=None,
                    config=[],
                ) as connection,
                connection.start_sftp_client() as sftp,
            ):
                attributes = await sftp.stat(source.path)
                partial.unlink(missing_ok=True)
                create_private(partial)
                await sftp.get(source.path, str(partial))
    except (OSError, asyncssh.Error, TimeoutError) as err:
        partial.unlink(missing_ok=True)
        raise SyncError(f"{label}: cannot fetch the list file: {err}") from err
    partial.replace(target)
    mtime = attributes.mtime if attributes.mtime is not None else target.stat().st_mtime
    return FetchedFile(target, mtime_date(float(mtime)), label)


def fetch(settings: DncmSettings, inbox: Path) -> FetchedFile:
    """Fetch the list from the configured source (blocking)."""
    if settings.source_file is not None:
        return local_file(settings.source_file)
    if settings.drop_folder is not None:
        return newest_in(settings.drop_folder)
    if settings.sftp is not None:
        return asyncio.run(fetch_sftp(settings.sftp, inbox))
    raise ConfigError("dncm.source: no list source is configured (file, drop_folder or sftp)")
