"""Head anchors: the chain's last record written down outside the log, so a cut end shows.

Theory of operation: the log's own `head` row is moved by whoever writes the file, so someone
who deletes the newest records and moves the head back leaves a chain that still links. An
anchor is the head (sequence number, hash, time) written somewhere the chain's writer does not
rewrite: `verify` holds the chain to every anchor, and a log that ends before an anchored record,
or holds another hash there, fails. `Anchor` is the seam: `FileAnchor` keeps them in a folder
beside the log, one JSON line per anchor, appended (O_APPEND) and flushed to disk (fsync), one
file per UTC month so no single file grows without end; a central store for several PBXs can
implement the same protocol. The service also writes each anchor to its log (the system
journal), a copy outside `data_dir` (audit/anchoring.py).

A line that cannot be read (a write cut short by a crash, an edit) is skipped and named in
`problems`; the appender starts a new line if the file does not end with one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from gatekeeper.audit.chain import AnchoredHead
from gatekeeper.common import PRIVATE_FILE_MODE, AuditError, fsync_directory

ANCHOR_DIR_NAME = "anchors"
FILE_PREFIX = "heads-"
FILE_SUFFIX = ".jsonl"

DIR_MODE = 0o700
TAIL_BYTES = 16 * 1024
MAX_LINE_BYTES = 1024


class Anchor(Protocol):
    """Somewhere the chain's head is written down, outside the log's own file."""

    @property
    def where(self) -> str:
        """Where the anchors are, for messages."""
        ...

    def append(self, head: AnchoredHead) -> None:
        """Write one anchor durably; raises AuditError when it cannot."""
        ...

    def heads(self) -> Iterator[AnchoredHead]:
        """Every anchor, oldest first."""
        ...

    def latest(self) -> AnchoredHead | None:
        """The newest anchor, read cheaply; None when there is none."""
        ...


def anchor_dir(log_file: Path) -> Path:
    """Where the anchors of the log at `log_file` are kept: a folder beside it."""
    return log_file.parent / ANCHOR_DIR_NAME


def anchor_line(head: AnchoredHead) -> str:
    """One anchor as a JSON line (without the newline)."""
    at = head.at.astimezone(UTC).isoformat(timespec="microseconds")
    return json.dumps({"at": at, "hash": head.hash, "seq": head.seq}, sort_keys=True)


def parse_line(text: str) -> AnchoredHead:
    """An anchor from its JSON line; ValueError when it is not one."""
    try:
        data = json.loads(text)
        seq, digest, at = data["seq"], data["hash"], datetime.fromisoformat(data["at"])
    except (KeyError, TypeError, json.JSONDecodeError) as err:
        raise ValueError(f"not an anchor: {err}") from err
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise ValueError("seq is not a positive whole number")
    if not isinstance(digest, str) or len(digest) != 64:
        raise ValueError("hash is not a sha256")
    if at.tzinfo is None:
        raise ValueError("at has no offset")
    return AnchoredHead(seq, digest, at)


class FileAnchor:
    """Anchors as JSON lines in monthly files of one folder (see the module's docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.problems: list[str] = []

    @property
    def where(self) -> str:
        """The folder."""
        return str(self.folder)

    def _files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob(f"{FILE_PREFIX}*{FILE_SUFFIX}"))

    def append(self, head: AnchoredHead) -> None:
        """Append one line to this month's file and fsync it (and the folder for a new file)."""
        path = self.folder / f"{FILE_PREFIX}{head.at.astimezone(UTC):%Y-%m}{FILE_SUFFIX}"
        try:
            self.folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            created = not path.exists()
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, PRIVATE_FILE_MODE)
            try:
                data = (anchor_line(head) + "\n").encode("ascii")
                if not created and not _ends_with_newline(fd):
                    data = b"\n" + data
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                fsync_directory(self.folder)
        except OSError as err:
            raise AuditError(f"{path}: cannot write the head anchor: {err.strerror}") from err

    def heads(self) -> Iterator[AnchoredHead]:
        """Every readable anchor, oldest file first; unreadable lines go to `problems`."""
        for path in self._files():
            try:
                with path.open(encoding="ascii", errors="replace") as lines:
                    for number, text in enumerate(lines, start=1):
                        head = self._parsed(path, number, text)
                        if head is not None:
                            yield head
            except OSError as err:
                self.problems.append(f"{path}: cannot read: {err.strerror}")

    def latest(self) -> AnchoredHead | None:
        """The last readable line of the newest file that has one (reads only its tail)."""
        for path in reversed(self._files()):
            try:
                with path.open("rb") as stream:
                    size = stream.seek(0, os.SEEK_END)
                    stream.seek(max(0, size - TAIL_BYTES))
                    tail = stream.read().decode("ascii", errors="replace").splitlines()
            except OSError as err:
                self.problems.append(f"{path}: cannot read: {err.strerror}")
                continue
            for text in reversed(tail):
                try:
                    return parse_line(text)
                except ValueError:
                    continue
        return None

    def prune_before(self, cutoff: datetime) -> list[Path]:
        """Remove the monthly files whose whole month ended before `cutoff`; returns them."""
        removed = []
        for path in self._files():
            month = path.name.removeprefix(FILE_PREFIX).removesuffix(FILE_SUFFIX)
            try:
                start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
            except ValueError:
                continue
            end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
            if end <= cutoff:
                try:
                    path.unlink()
                except OSError as err:
                    raise AuditError(f"{path}: cannot remove: {err.strerror}") from err
                removed.append(path)
        return removed

    def _parsed(self, path: Path, number: int, text: str) -> AnchoredHead | None:
        if not text.strip():
            return None
        try:
            if len(text) > MAX_LINE_BYTES:
                raise ValueError("line too long")  # noqa: TRY301 - same handling as a bad line
            return parse_line(text)
        except ValueError as err:
            self.problems.append(f"{path}:{number}: unreadable anchor, skipped ({err})")
            return None


def _ends_with_newline(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size == 0 or os.pread(fd, 1, size - 1) == b"\n"
