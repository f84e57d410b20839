"""Streaming read of a list file: (key, day) rows out, every other line accounted for.

Theory of operation: the file is read in 1 MiB chunks that also feed its SHA-256, so memory does
not grow with the file and the fingerprint is of exactly the bytes that were read. Only the
unfinished last line of a chunk is carried into the next, and a line longer than MAX_LINE_BYTES
refuses the file at once: memory and time stay linear whatever one line holds. Each
non-empty line is split by the detected layout; the number goes through the fast path (or
`normalise` when unusual) and the date through a small cache (a list has a few thousand distinct
dates). A line that does not read is held back one line: if it turns out to be the last
non-empty line and carries a count, it is the trailer; otherwise it is rejected with its line
number and why. The caller decides what the tally means (tolerance, trailer, day-first proof).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gatekeeper.dncm.dates import ANY_DATE, DateFieldError, day_of, read_date, shows_day_first
from gatekeeper.dncm.layout import (
    MAX_LINE_BYTES,
    UTF8_BOM,
    FieldOrder,
    Layout,
    line_too_long,
    number_key,
    split_fields,
)
from gatekeeper.rules import BelgianNumber, normalise, plain_key

CHUNK_BYTES = 1 << 20
MAX_REPORTED_REJECTS = 1000
_DATE_CACHE_LIMIT = 100_000
_DIGITS = re.compile(rb"\d+")
_FIELD_PADDING = b' \t"'


@dataclass(frozen=True, slots=True)
class RejectedLine:
    """A data line that was not imported, and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(slots=True)
class ParseTally:
    """What a pass over the file found besides its rows."""

    data_lines: int = 0
    accepted: int = 0
    rejected: int = 0
    rejects: list[RejectedLine] = field(default_factory=list)
    header_line: int | None = None
    trailer_line: int | None = None
    trailer_count: int | None = None
    day_first_proven: bool = False
    sha256: str = ""
    size: int = 0


class ListParser:
    """Reads one file with one layout; `rows()` streams, then `tally` holds the accounting."""

    def __init__(self, file: Path, layout: Layout, *, latest_day: int) -> None:
        self.file = file
        self.layout = layout
        self.latest_day = latest_day
        self.tally = ParseTally()

    def _reject(self, line: int, reason: str) -> None:
        tally = self.tally
        tally.rejected += 1
        if len(tally.rejects) < MAX_REPORTED_REJECTS:
            tally.rejects.append(RejectedLine(line, reason))

    def batches(self) -> Iterator[list[tuple[int, int]]]:  # noqa: C901, PLR0912, PLR0915 - hot loop
        """Yield lists of (key, day number) of accepted lines, chunk by chunk, in file order."""
        tally = self.tally
        layout = self.layout
        separator = layout.separator.byte
        order = layout.order
        plain = separator if order is FieldOrder.NUMBER_DATE else None
        form = layout.date_format
        check_day_first = form.day_first and not tally.day_first_proven
        latest = self.latest_day
        dates: dict[bytes, int] = {}
        hasher = hashlib.sha256()
        pending: tuple[int, bytes, str] | None = None
        expect_header = layout.header
        lineno = accepted = data_lines = 0
        tail = b""
        with self.file.open("rb") as stream:
            while True:
                chunk = stream.read(CHUNK_BYTES)
                if chunk:
                    hasher.update(chunk)
                    tally.size += len(chunk)
                    lines = (tail + chunk).split(b"\n")
                    tail = lines.pop()
                    if len(tail) > MAX_LINE_BYTES:
                        raise line_too_long(self.file, lineno + len(lines) + 1, tail)
                else:
                    lines = [tail]
                if lines and max(map(len, lines)) > MAX_LINE_BYTES:
                    at = next(i for i, raw in enumerate(lines) if len(raw) > MAX_LINE_BYTES)
                    raise line_too_long(self.file, lineno + at + 1, lines[at])
                if lineno == 0 and lines:
                    lines[0] = lines[0].strip().removeprefix(UTF8_BOM)
                batch: list[tuple[int, int]] = []
                add = batch.append
                first = lineno + 1
                for lineno, raw in enumerate(lines, first):
                    line = raw.strip()
                    if not line:
                        continue
                    if expect_header:
                        expect_header = False
                        tally.header_line = lineno
                        continue
                    if pending is not None:
                        self._reject(pending[0], pending[2])
                        pending = None
                    data_lines += 1
                    if plain is not None and len(parts := line.split(plain)) == 2:
                        number = parts[0].strip(_FIELD_PADDING)
                        day_text = parts[1].strip(_FIELD_PADDING)
                    else:
                        try:
                            number, day_text = split_fields(line, separator, order)
                        except ValueError:
                            pending = (lineno, line, "expected a number and a date")
                            continue
                    text = number.decode("latin-1")
                    key = plain_key(text)
                    if key is None:
                        found = normalise(text)
                        if not isinstance(found, BelgianNumber):
                            refusal = getattr(found, "refusal", "foreign")
                            pending = (lineno, line, f"not a Belgian number ({refusal})")
                            continue
                        key = found.key
                    day = dates.get(day_text)
                    if day is None:
                        try:
                            day = read_date(day_text, form)
                        except DateFieldError as err:
                            self._reject(lineno, f"{err}; {_KEPT_LISTED}")
                            add((key, latest))
                            continue
                        if len(dates) < _DATE_CACHE_LIMIT:
                            dates[day_text] = day
                        if check_day_first and shows_day_first(day_text, form):
                            tally.day_first_proven = True
                            check_day_first = False
                    if day > latest:
                        self._reject(
                            lineno,
                            f"registration date {day_of(day)} is after the list date; "
                            + _KEPT_LISTED,
                        )
                        day = latest
                    add((key, day))
                lineno = first + len(lines) - 1
                accepted += len(batch)
                tally.accepted = accepted
                tally.data_lines = data_lines
                if batch:
                    yield batch
                if not chunk:
                    break
        if pending is not None:
            count = _trailer_count(pending[1])
            if count is None:
                self._reject(pending[0], pending[2])
            else:
                tally.data_lines -= 1
                tally.trailer_line = pending[0]
                tally.trailer_count = count
        tally.sha256 = hasher.hexdigest()


_KEPT_LISTED = "the number is kept as listed on the list date"
"""A readable number with an unreadable date is still on the list: dated as late as it can be."""


def _trailer_count(line: bytes) -> int | None:
    counts = _DIGITS.findall(ANY_DATE.sub(b" ", line))
    if len(counts) != 1 or number_key(counts[0]) is not None:
        return None
    return int(counts[0])
