"""Consent and objection input, from the command line or a CSV file, validated before storing.

Theory of operation: every field is checked and every problem is reported with its place
(`file.csv:7: date: ...`), so an admin fixes a file in one pass. A CSV file is read whole and
validated row by row; the caller stores it only if no row was rejected, in one transaction.

CSV layout: UTF-8 (a byte-order mark is allowed), comma- or semicolon-separated (decided by the
header line), a header line naming the columns in any order: `number`, `advertiser`, `date`
required, `source`, `reference` optional. `date` is `YYYY-MM-DD` or an ISO date and time
(`2025-03-01T14:30`, `2025-03-01 14:30:05`), Belgian civil time unless it carries an offset
(`Z`, `+01:00`). Blank lines are skipped.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

from gatekeeper.common import BRUSSELS, RecordRejectedError
from gatekeeper.consent.store import ActRecord, RecordKind
from gatekeeper.rules import BelgianNumber, ForeignNumber, normalise

REQUIRED_COLUMNS = ("number", "advertiser", "date")
OPTIONAL_COLUMNS = ("source", "reference")
MAX_TEXT_LENGTH = 200
MAX_REPORTED_REJECTS = 100
MAX_CSV_BYTES = 256 * 1024 * 1024

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class RawRecord:
    """The text fields of one record as given, before validation."""

    number: str
    advertiser: str
    when: str
    source: str = ""
    reference: str = ""


def parse_when(text: str, now: datetime) -> tuple[date, time | None]:
    """A date, or a date and Belgian civil time, not later than `now`; ValueError says why."""
    text = text.strip()
    local_now = now.astimezone(BRUSSELS)
    if _DATE.fullmatch(text):
        day = date.fromisoformat(text)
        if day > local_now.date():
            raise ValueError(f"{text} is after today ({local_now.date().isoformat()})")
        return day, None
    if not _DATETIME.fullmatch(text):
        raise ValueError(f"expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][offset], got {text!r}")
    given = datetime.fromisoformat(text)
    if given.tzinfo is None:
        local = given.replace(tzinfo=BRUSSELS)
        if local.astimezone(UTC).astimezone(BRUSSELS).replace(tzinfo=None) != given:
            raise ValueError(f"{text} does not exist in Belgium (the clocks skip that hour)")
    else:
        local = given.astimezone(BRUSSELS)
    if local > local_now:
        raise ValueError(f"{text} is in the future")
    return local.date(), local.time().replace(tzinfo=None)


def validate(
    kind: RecordKind, raw: RawRecord, advertisers: Collection[str], now: datetime
) -> tuple[ActRecord | None, list[str]]:
    """The record, or the problems of its fields as `field: problem`."""
    problems: list[str] = []
    e164 = _e164(raw.number, problems)
    advertiser = raw.advertiser.strip()
    if not advertiser:
        problems.append("advertiser: must not be empty")
    elif advertiser not in advertisers:
        known = ", ".join(sorted(advertisers)) or "none configured"
        problems.append(f"advertiser: unknown advertiser {advertiser!r} (known: {known})")
    when: tuple[date, time | None] | None = None
    try:
        when = parse_when(raw.when, now)
    except ValueError as err:
        problems.append(f"date: {err}")
    source = _text("source", raw.source, problems)
    reference = _text("reference", raw.reference, problems)
    if problems or e164 is None or when is None:
        return None, problems
    day, at = when
    return ActRecord(kind, advertiser, e164, day, at, source, reference), problems


def record_from_fields(
    kind: RecordKind, raw: RawRecord, advertisers: Collection[str], now: datetime
) -> ActRecord:
    """One record from the command line; RecordRejectedError lists every problem."""
    record, problems = validate(kind, raw, advertisers, now)
    if record is None:
        raise RecordRejectedError("; ".join(problems))
    return record


def read_csv(
    path: Path, kind: RecordKind, advertisers: Collection[str], now: datetime
) -> tuple[ActRecord, ...]:
    """Every record of a CSV file, or RecordRejectedError naming each bad row by line."""
    rejects: list[str] = []
    records: list[ActRecord] = []
    for line, raw in _rows(path):
        record, problems = validate(kind, raw, advertisers, now)
        rejects.extend(f"{path}:{line}: {problem}" for problem in problems)
        if record is not None:
            records.append(record)
    if rejects:
        shown = rejects[:MAX_REPORTED_REJECTS]
        if len(rejects) > len(shown):
            shown.append(f"{path}: ... and {len(rejects) - len(shown)} more problems")
        shown.append(f"{path}: nothing imported ({len(rejects)} problems)")
        raise RecordRejectedError("\n".join(shown))
    return tuple(records)


def _rows(path: Path) -> Iterable[tuple[int, RawRecord]]:
    text = _text_of(path)
    lines = text.splitlines(keepends=True)
    if not lines or not lines[0].strip():
        raise RecordRejectedError(f"{path}:1: header: expected {_columns_help()}")
    delimiter = ";" if ";" in lines[0] and "," not in lines[0] else ","
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    try:
        header = [name.strip().lower() for name in next(reader)]
        _check_header(path, header)
        while True:
            line = reader.line_num + 1
            fields = next(reader, None)
            if fields is None:
                break
            if not any(field.strip() for field in fields):
                continue
            if len(fields) != len(header):
                raise RecordRejectedError(
                    f"{path}:{line}: row: expected {len(header)} fields, got {len(fields)}"
                )
            values = dict(zip(header, fields, strict=True))
            yield (
                line,
                RawRecord(
                    number=values["number"],
                    advertiser=values["advertiser"],
                    when=values["date"],
                    source=values.get("source", ""),
                    reference=values.get("reference", ""),
                ),
            )
    except csv.Error as err:
        raise RecordRejectedError(f"{path}:{reader.line_num}: not valid CSV: {err}") from err


def _text_of(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_CSV_BYTES:
            raise RecordRejectedError(f"{path}: larger than {MAX_CSV_BYTES} bytes; split it")
        data = path.read_bytes()
    except OSError as err:
        raise RecordRejectedError(f"{path}: cannot read: {err.strerror}") from err
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise RecordRejectedError(f"{path}:{line}: not UTF-8 text") from err


def _check_header(path: Path, header: list[str]) -> None:
    known = set(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
    for name in header:
        if name not in known:
            raise RecordRejectedError(
                f"{path}:1: header: unknown column {name!r}; expected {_columns_help()}"
            )
    if len(set(header)) != len(header):
        raise RecordRejectedError(f"{path}:1: header: a column is named twice")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise RecordRejectedError(
            f"{path}:1: header: missing column {missing[0]!r}; expected {_columns_help()}"
        )


def _columns_help() -> str:
    return ",".join(REQUIRED_COLUMNS) + "".join(f"[,{name}]" for name in OPTIONAL_COLUMNS)


def _e164(raw: str, problems: list[str]) -> str | None:
    number = normalise(raw)
    if isinstance(number, BelgianNumber):
        return number.e164
    if isinstance(number, ForeignNumber):
        problems.append(
            f"number: {number.e164} is not Belgian; the list and these records cover"
            " Belgian numbers only"
        )
        return None
    problems.append(f"number: {raw.strip()!r} is not a callable number ({number.detail})")
    return None


def _text(name: str, value: str, problems: list[str]) -> str:
    value = value.strip()
    if len(value) > MAX_TEXT_LENGTH:
        problems.append(f"{name}: longer than {MAX_TEXT_LENGTH} characters")
    elif _CONTROL.search(value):
        problems.append(f"{name}: contains control characters")
    return value
