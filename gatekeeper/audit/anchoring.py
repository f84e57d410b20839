"""The service's side of head anchors: write the chain's head down while it moves, and at stop.

Theory of operation: when the service starts, then every `ANCHOR_INTERVAL_S` (and once when
the service or a `check` closes the log) the anchorer reads the last record of the chain from the
file, so records appended by other processes are covered too. If it moved since the newest
anchor, it first makes sure the newest anchor still holds (the record at its sequence number has
its hash, or a purge removed it): a chain cut or rewritten meanwhile is not anchored over, it is
logged as an error and left for `audit verify` to name. Then it appends the new anchor and logs
it as an `audit_anchor` line, which `serve` sends to the system journal: a second copy outside
`data_dir`. Anchoring never delays a decision: it runs in a thread, reads with its own read-only
connection, and a failure is logged and tried again at the next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import structlog

from gatekeeper.audit.anchor import Anchor, FileAnchor, anchor_dir
from gatekeeper.audit.chain import AnchoredHead
from gatekeeper.audit.schema import connect_reader
from gatekeeper.common import AuditError

ANCHOR_INTERVAL_S = 60.0

log = structlog.get_logger()


class HeadAnchorer:
    """Anchors the head of one log file in one `Anchor`."""

    def __init__(
        self,
        log_file: Path,
        anchor: Anchor | None = None,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.log_file = log_file
        self.anchor = anchor if anchor is not None else FileAnchor(anchor_dir(log_file))
        self._now = now
        self._last: AnchoredHead | None = None
        self._read_last = False

    def anchor_now(self) -> AnchoredHead | None:
        """Anchor the head if it moved; returns the new anchor, None if nothing was written.

        Raises AuditError when the log cannot be read or the anchor cannot be written.
        """
        if not self._read_last:
            self._last = self.anchor.latest()
            self._read_last = True
        try:
            return self._anchor_head()
        except sqlite3.Error as err:
            raise AuditError(f"{self.log_file}: cannot read the head to anchor: {err}") from err

    def _anchor_head(self) -> AnchoredHead | None:
        conn = connect_reader(self.log_file)
        try:
            conn.execute("BEGIN")
            row = conn.execute("SELECT seq, hash FROM chain ORDER BY seq DESC LIMIT 1").fetchone()
            if row is None:
                return None
            seq, digest = int(row[0]), str(row[1])
            last = self._last
            if last is not None and (last.seq, last.hash) == (seq, digest):
                return None
            if last is not None and not _still_holds(conn, last):
                log.error(
                    "audit_anchor_broken",
                    anchored_seq=last.seq,
                    anchored_hash=last.hash,
                    log_last_seq=seq,
                    detail="the log no longer holds the anchored record; run audit verify",
                )
                return None
        finally:
            conn.close()
        head = AnchoredHead(seq, digest, self._now())
        self.anchor.append(head)
        self._last = head
        log.info(
            "audit_anchor",
            seq=head.seq,
            hash=head.hash,
            at=head.at.isoformat(),
            where=self.anchor.where,
        )
        return head

    def try_anchor(self) -> None:
        """`anchor_now`, with a failure logged rather than raised."""
        try:
            self.anchor_now()
        except (AuditError, OSError) as err:
            log.error("audit_anchor_failed", error=str(err))
        except Exception:  # a broken anchor must never stop the service
            log.exception("audit_anchor_failed")

    async def run(self, stop: asyncio.Event, interval_s: float = ANCHOR_INTERVAL_S) -> None:
        """Anchor now, then every `interval_s` until `stop` is set (the final one is the caller's).

        The first anchor vouches for the log as the service found it (and its start record)
        from the first minute, not only after the first interval.
        """
        await asyncio.to_thread(self.try_anchor)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval_s):
                    await stop.wait()
            if not stop.is_set():
                await asyncio.to_thread(self.try_anchor)


def _still_holds(conn: sqlite3.Connection, last: AnchoredHead) -> bool:
    """The record at the anchored seq has the anchored hash, or was purged (before the first)."""
    found = conn.execute("SELECT hash FROM chain WHERE seq = ?", (last.seq,)).fetchone()
    if found is not None:
        return str(found[0]) == last.hash
    first = conn.execute("SELECT MIN(seq) FROM chain").fetchone()
    return first is not None and first[0] is not None and int(first[0]) > last.seq
