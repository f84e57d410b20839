"""Scrubbing a calling list: every row decided as a live call would be, one record for the lot.

Theory of operation: a scrub gives every row the decision of the same `Checker` as live calls
(`Checker.decide_at_hand`: the same normaliser with the campaign's prefix rule, the same facts,
the same `policy.decide`), asked through `BatchDecider` a block of rows at a time, so a row's
verdict is the one the AGI would have given when the scrub started. Three things make it a
batch. The list snapshot in force at the start is pinned, so a sync during the scrub cannot
change the list halfway. The advertiser's consents and objections are read in one query
beforehand instead of one per row. The clock is fixed at the start, so every row is decided as
of the same moment. Instead of a record per row, one `scrub` event goes into the decision log
with what the output was based on (input and output fingerprints, campaign, list snapshot,
counts by verdict and reason); it is committed before the output is put in place, so there is no
scrubbed list without its proof. A scrub is for planning: every call is
still checked, and recorded, when it is dialled.
"""

from __future__ import annotations

import secrets
import socket
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from gatekeeper.audit import DecisionLog, EventKind, log_path, snapshot_body
from gatekeeper.check import BLOCK_ROWS, BatchDecider
from gatekeeper.common import IndexUnavailableError, ScrubUsageError, StoreError, now, refuse_inside
from gatekeeper.config import Settings
from gatekeeper.dncm import IndexPaths, ListAnswer, day_of, open_current
from gatekeeper.rules import Act, Campaign, Purpose, Reason, SnapshotInfo, Verdict
from gatekeeper.scrub.calling_list import (
    Fingerprint,
    Layout,
    ListReader,
    ScrubbedWriter,
    cell,
    fingerprint,
)
from gatekeeper.stores.acts import open_configured_act_store

SCRUB_EVENT = EventKind.SCRUB
SCRUB_SOURCE = "scrub"
SNAPSHOT_MMAP_BYTES = 1 << 30
"""A scrub looks up numbers in random order: mapping the snapshot saves a read call per page."""

ANSWERS_KEPT = 20_000
"""Answers are immutable and few (one per registration day): each is built once, up to this many."""
_LOOKUP = "SELECT registered FROM listing WHERE number = ?"
_NO_ACTS: tuple[tuple[Act, ...], tuple[Act, ...]] = ((), ())


class PinnedList:
    """The list snapshot in force when opened, answering every lookup until closed."""

    def __init__(
        self,
        connection: sqlite3.Connection | None,
        info: SnapshotInfo | None,
        error: IndexUnavailableError | None = None,
    ) -> None:
        self._connection = connection
        self._cursor = None if connection is None or info is None else connection.cursor()
        self._info = info
        self._answers: dict[int | None, ListAnswer] = {}
        self.error = error

    @classmethod
    def open(cls, directory: Path) -> PinnedList:
        """Pin the snapshot CURRENT names; no list gives no snapshot, a broken one an error."""
        try:
            opened = open_current(IndexPaths(directory))
        except IndexUnavailableError as err:
            return cls(None, None, err)
        if opened is None:
            return cls(None, None)
        connection, record = opened
        try:
            connection.execute(f"PRAGMA mmap_size = {SNAPSHOT_MMAP_BYTES}")
        except sqlite3.Error as err:
            connection.close()
            return cls(None, None, IndexUnavailableError(f"{directory}: {err}"))
        return cls(connection, record.info)

    def snapshot(self) -> SnapshotInfo | None:
        """The pinned snapshot, None when no list was ever imported."""
        if self.error is not None:
            raise self.error
        return self._info

    def lookup(self, key: int) -> ListAnswer:
        """The registration date of a number in the pinned snapshot, with that snapshot."""
        if self.error is not None:
            raise self.error
        if self._cursor is None or self._info is None:
            raise IndexUnavailableError("no list snapshot imported")
        try:
            row = self._cursor.execute(_LOOKUP, (key,)).fetchone()
        except sqlite3.Error as err:
            raise IndexUnavailableError(f"list snapshot unreadable: {err}") from err
        day: int | None = row[0] if row else None
        answer = self._answers.get(day)
        if answer is None:
            answer = ListAnswer(self._info, None if day is None else day_of(day))
            if len(self._answers) < ANSWERS_KEPT:
                self._answers[day] = answer
        return answer

    def lookup_many(self, keys: Sequence[int]) -> dict[int, ListAnswer]:
        """The answers of the listed numbers among `keys` (a block of rows'), in one query.

        An unlisted key is absent: its answer is this snapshot's without a date.
        """
        if self.error is not None:
            raise self.error
        if self._cursor is None or self._info is None:
            raise IndexUnavailableError("no list snapshot imported")
        if not keys:
            return {}
        query = f"SELECT number, registered FROM listing WHERE number IN ({_marks(len(keys))})"
        try:
            rows = self._cursor.execute(query, keys).fetchall()
        except sqlite3.Error as err:
            raise IndexUnavailableError(f"list snapshot unreadable: {err}") from err
        found = {}
        answers = self._answers
        for key, day in rows:
            answer = answers.get(day)
            if answer is None:
                answer = ListAnswer(self._info, None if day is None else day_of(day))
                if len(answers) < ANSWERS_KEPT:
                    answers[day] = answer
            found[key] = answer
        return found

    def listing_date(self, key: int) -> date | None:
        """The registration date of a number in the pinned snapshot, or None."""
        return self.lookup(key).listing_date

    def close(self) -> None:
        """Release the snapshot."""
        self._cursor = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _marks(n: int) -> str:
    return ",".join("?" * n)


class PreloadedActs:
    """One advertiser's consents and objections, read once, answering every row."""

    def __init__(
        self, advertiser: str, acts: dict[str, tuple[tuple[Act, ...], tuple[Act, ...]]]
    ) -> None:
        self.advertiser = advertiser
        self._acts = acts

    @property
    def count(self) -> int:
        """How many live acts were read."""
        return sum(len(o) + len(c) for o, c in self._acts.values())

    def acts_at_hand(self, advertiser: str, e164: str) -> tuple[tuple[Act, ...], tuple[Act, ...]]:
        """The (objections, consents) of this number; never another advertiser's."""
        if advertiser != self.advertiser:
            raise StoreError(f"acts of {self.advertiser!r} were read, not of {advertiser!r}")
        return self._acts.get(e164, _NO_ACTS)

    async def acts_for(self, advertiser: str, e164: str) -> tuple[tuple[Act, ...], tuple[Act, ...]]:
        """`acts_at_hand`, for the checker's `ActLookup`."""
        return self.acts_at_hand(advertiser, e164)


@dataclass(frozen=True, slots=True)
class ScrubRequest:
    """What to scrub, for which campaign, and where the result goes."""

    source: Path
    output: Path
    campaign: str
    column: str | None = None
    allowed_only: bool = False


@dataclass(frozen=True, slots=True)
class ScrubResult:
    """What a scrub did, and the record that proves it."""

    scrub_id: str
    record_id: str
    output: Path
    rows: int
    written: int
    reasons: dict[str, int]
    snapshot: SnapshotInfo | None
    notes: tuple[str, ...] = ()

    def count(self, verdict: Verdict) -> int:
        """Rows with this verdict."""
        return sum(n for reason, n in self.reasons.items() if Reason(reason).verdict is verdict)

    def summary(self) -> str:
        """The one line the command prints."""
        blocked = [
            f"{reason} {n}"
            for reason, n in sorted(self.reasons.items(), key=lambda item: (-item[1], item[0]))
            if Reason(reason).verdict is Verdict.BLOCK
        ]
        by_reason = f" ({', '.join(blocked)})" if blocked else ""
        listed = f"list of {self.snapshot.list_date.isoformat()}" if self.snapshot else "no list"
        return (
            f"{self.rows} rows: {self.count(Verdict.ALLOW)} allowed, "
            f"{self.count(Verdict.BLOCK)} blocked{by_reason}; {self.written} rows written to "
            f"{self.output}; {listed}; scrub {self.scrub_id}, record {self.record_id}"
        )


def new_scrub_id(started: datetime) -> str:
    """A readable, unique scrub id: the start time and some randomness."""
    return f"{started:%Y%m%d-%H%M%S}-{secrets.token_hex(4)}"


async def scrub(
    settings: Settings, request: ScrubRequest, *, clock: Callable[[], datetime] = now
) -> ScrubResult:
    """Scrub a calling list; raises ScrubUsageError, ScrubInputError or another GatekeeperError."""
    campaign = settings.campaigns.get(request.campaign)
    if campaign is None:
        known = ", ".join(sorted(settings.campaigns)) or "none configured"
        raise ScrubUsageError(f"unknown campaign {request.campaign!r} (configured: {known})")
    if request.output.resolve() == request.source.resolve():
        raise ScrubUsageError(f"{request.output}: the output must not be the input file")
    if str(request.output) == "-":
        raise ScrubUsageError(
            "--output -: the scrubbed list is personal data and goes to a private file, "
            "not to standard output; name a file"
        )
    refuse_inside(request.output, settings.data_dir)
    started = clock()
    source = fingerprint(request.source)
    index = PinnedList.open(settings.data_dir / "dncm")
    try:
        if campaign.purpose is Purpose.COMMERCIAL and index.error is not None:
            raise index.error
        acts = await _acts_of(settings, campaign)
        decision_log = await DecisionLog.open(log_path(settings.data_dir))
        try:
            decider = BatchDecider(
                settings, index, acts, request.campaign, at=started, source=SCRUB_SOURCE
            )
            run = _Run(
                settings,
                request,
                campaign,
                source,
                started,
                new_scrub_id(started),
                index.snapshot(),
                acts.count,
            )
            return await run.execute(decider, decision_log, clock)
        finally:
            await decision_log.close()
    finally:
        index.close()


async def _acts_of(settings: Settings, campaign: Campaign) -> PreloadedActs:
    if campaign.purpose is not Purpose.COMMERCIAL:
        return PreloadedActs(campaign.advertiser, {})
    store = await open_configured_act_store(settings)
    try:
        return PreloadedActs(campaign.advertiser, await store.acts_by_number(campaign.advertiser))
    finally:
        await store.close()


@dataclass(frozen=True, slots=True)
class _Run:
    settings: Settings
    request: ScrubRequest
    campaign: Campaign
    source: Fingerprint
    started: datetime
    scrub_id: str
    snapshot: SnapshotInfo | None
    acts_read: int

    async def execute(
        self,
        decider: BatchDecider,
        decision_log: DecisionLog,
        clock: Callable[[], datetime],
    ) -> ScrubResult:
        request = self.request
        by_reason: Counter[Reason] = Counter()
        scrub_id = cell(self.scrub_id)
        cells = {
            reason: (cell(reason.verdict.value.upper()), cell(reason.value), scrub_id)
            if reason.verdict is Verdict.ALLOW or not request.allowed_only
            else None
            for reason in Reason
        }
        decide_all = decider.decide_all
        with ListReader(request.source, self.source, request.column) as reader:
            layout = reader.layout
            assert layout is not None
            index = layout.number_index
            with ScrubbedWriter(
                request.output, layout, bom=self.source.bom, group=self.settings.officers_group
            ) as writer:
                row = writer.row
                for block in _blocks(reader):
                    decided = decide_all([fields[index] for fields in block])
                    by_reason.update([reason for reason, _e164, _decision in decided])
                    for fields, (reason, e164, _decision) in zip(block, decided, strict=True):
                        written = cells[reason]
                        if written is not None:
                            verdict, code, scrub = written
                            row(fields, (verdict, code, cell(e164) if e164 else "", scrub))
                reader.finish()
                reasons = Counter({reason.value: n for reason, n in by_reason.items() if n})
                rows = reasons.total()
                output_sha256 = writer.seal()
                finished = clock()
                details = self._details(layout, rows, writer.rows, reasons)
                details["output"] = {
                    "file": str(request.output.resolve()),
                    "sha256": output_sha256,
                    "rows": writer.rows,
                    "allowed_only": request.allowed_only,
                }
                details["finished"] = finished.isoformat()
                record_id = await decision_log.record_event(SCRUB_EVENT, details, at=finished)
                writer.commit()
        notes = tuple(note for note in (self.source.note, _replaced_note(layout)) if note)
        return ScrubResult(
            scrub_id=self.scrub_id,
            record_id=record_id,
            output=request.output,
            rows=rows,
            written=writer.rows,
            reasons=dict(reasons),
            snapshot=self.snapshot,
            notes=notes,
        )

    def _details(
        self, layout: Layout, rows: int, written: int, reasons: Counter[str]
    ) -> dict[str, object]:
        verdicts = Counter({verdict.value: 0 for verdict in Verdict})
        for reason, n in reasons.items():
            verdicts[Reason(reason).verdict.value] += n
        return {
            "scrub_id": self.scrub_id,
            "input": {
                "file": str(self.request.source.resolve()),
                "name": self.request.source.name,
                "sha256": self.source.sha256,
                "bytes": self.source.size,
                "encoding": self.source.encoding,
                "separator": layout.delimiter_name,
                "number_column": layout.number_column,
            },
            "campaign": self.request.campaign,
            "purpose": self.campaign.purpose.value,
            "advertiser": self.campaign.advertiser,
            "snapshot": snapshot_body(self.snapshot),
            "rows": rows,
            "written": written,
            "verdicts": dict(verdicts),
            "reasons": dict(sorted(reasons.items())),
            "acts_read": self.acts_read,
            "started": self.started.isoformat(),
            "config": str(self.settings.path),
            "config_sha256": self.settings.sha256,
            "host": socket.gethostname(),
        }


def _blocks(reader: ListReader) -> Iterator[list[list[str]]]:
    """The rows' fields, `BLOCK_ROWS` at a time: only one block is held."""
    block: list[list[str]] = []
    for _line, fields in reader:
        block.append(fields)
        if len(block) == BLOCK_ROWS:
            yield block
            block = []
    if block:
        yield block


def _replaced_note(layout: Layout) -> str:
    if not layout.replaced:
        return ""
    names = ", ".join(layout.header[i] for i in layout.replaced)
    return f"the input's own {names} column(s) were replaced by this scrub's"
