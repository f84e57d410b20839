"""The layout of a list file (separator, field order, date form, header, encoding), detected.

Theory of operation: DNCM's layout document is not available to us, so the layout is read from
the file itself. The first lines (up to SAMPLE_LINES, within the first SAMPLE_BYTES) are read
under every candidate reading that the admin's pins allow (separator x field order x date form);
a reading fits a line when the number is Belgian and the date parses. The reading that fits the
most lines wins, and it must fit more than half of them (MIN_FIT; the lines it does not fit are
rejected one by one later, with their line numbers): a file that no reading explains, or that two
readings explain equally well, is refused rather than guessed. An explicit separator
beats whitespace when both fit (a tab is also whitespace). The first line is a header when it
does not fit and holds letters. Day-first dates (`03/04/2021`) cannot show their order on every
line: the parser checks the whole file for a day above 12 and refuses it when none proves the
order, unless the admin pinned the date form.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from itertools import product
from pathlib import Path

from gatekeeper.common import ListFormatError, ListRefusedError
from gatekeeper.dncm.dates import DETECTABLE_FORMATS, DateFieldError, DateFormat, read_date
from gatekeeper.rules import BelgianNumber, normalise

SAMPLE_BYTES = 1 << 20
MAX_LINE_BYTES = 1024
"""A list line is a number and a date (about 25 bytes); anything much longer is not a list."""
SAMPLE_LINES = 2000
MIN_FIT = 0.5
UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_NUMBER_LIKE = re.compile(rb"[+\d][\d .()/-]*")
_LETTER = re.compile(rb"[A-Za-z]")


class Separator(enum.StrEnum):
    """What separates the two fields of a line."""

    SEMICOLON = ";"
    COMMA = ","
    TAB = "tab"
    PIPE = "|"
    WHITESPACE = "whitespace"

    @property
    def byte(self) -> bytes | None:
        """The separator byte; None means any run of whitespace."""
        if self is Separator.WHITESPACE:
            return None
        if self is Separator.TAB:
            return b"\t"
        return self.value.encode("ascii")


class Encoding(enum.StrEnum):
    """The text encodings a list file may use (numbers and dates are ASCII in both)."""

    UTF8 = "utf-8"
    LATIN1 = "latin-1"


class FieldOrder(enum.StrEnum):
    """Which field comes first on a line."""

    NUMBER_DATE = "number,date"
    DATE_NUMBER = "date,number"


@dataclass(frozen=True, slots=True)
class Layout:
    """How to read a list file."""

    separator: Separator
    order: FieldOrder
    date_format: DateFormat
    header: bool
    encoding: Encoding

    def describe(self) -> str:
        """One line for logs and reports."""
        header = "header" if self.header else "no header"
        return (
            f"separator={self.separator.value} columns={self.order.value} "
            f"dates={self.date_format.value} {header} encoding={self.encoding.value}"
        )


@dataclass(frozen=True, slots=True)
class LayoutPin:
    """The parts of the layout an admin fixed in the configuration (`dncm.layout`)."""

    separator: Separator | None = None
    order: FieldOrder | None = None
    date_format: DateFormat | None = None
    header: bool | None = None
    encoding: Encoding | None = None

    @property
    def pins_date_format(self) -> bool:
        """Whether the date form was fixed by the admin (so day-first needs no proof)."""
        return self.date_format is not None


def split_fields(line: bytes, separator: bytes | None, order: FieldOrder) -> tuple[bytes, bytes]:
    """(number, date) of a stripped line; raises ValueError when it has not two fields."""
    if order is FieldOrder.NUMBER_DATE:
        parts = line.split(separator, 1)
    else:
        parts = line.rsplit(separator, 1)
    if len(parts) != 2:
        raise ValueError("expected two fields")
    first, second = parts
    if separator is not None:
        second = second.rstrip(separator) if order is FieldOrder.NUMBER_DATE else second
        first = first.lstrip(separator) if order is FieldOrder.DATE_NUMBER else first
    first = first.strip(b' \t"')
    second = second.strip(b' \t"')
    return (first, second) if order is FieldOrder.NUMBER_DATE else (second, first)


def number_key(number: bytes) -> int | None:
    """The index key of a number field, or None when it is not a Belgian number."""
    if _NUMBER_LIKE.fullmatch(number) is None:
        return None
    found = normalise(number.decode("ascii"))
    return found.key if isinstance(found, BelgianNumber) else None


def line_too_long(file: Path | str, line: int, start: bytes) -> ListFormatError:
    """The refusal of a line over MAX_LINE_BYTES (or of a file whose line ends are bare CR)."""
    if b"\r" in start.rstrip(b"\r"):
        return ListFormatError(f"{file}: line ends are bare CR; convert to LF or CRLF")
    return ListFormatError(
        f"{file}:{line}: the line is longer than {MAX_LINE_BYTES} bytes (a list line is a "
        "number and a date): not a DNCM list file, or a corrupt one"
    )


def detect_layout(head: bytes, *, at_eof: bool, pin: LayoutPin, where: str) -> Layout:
    """The one reading of the file's first lines that fits; raises ListFormatError otherwise."""
    encoding = _encoding(head, pin, where)
    _refuse_unsplittable(head, where)
    lines = _sample_lines(head, at_eof=at_eof)
    if not lines:
        raise ListRefusedError(f"{where}: the file holds no lines; refusing an empty list")
    readings = list(
        product(
            [pin.separator] if pin.separator else list(Separator),
            [pin.order] if pin.order else list(FieldOrder),
            [pin.date_format] if pin.date_format else list(DETECTABLE_FORMATS),
        )
    )
    scored = []
    for separator, order, form in readings:
        fits = [_fits(line, separator.byte, order, form) for line in lines]
        data_lines = len(lines) if fits[0] or pin.header is False else len(lines) - 1
        scored.append((sum(fits), data_lines, fits[0], (separator, order, form)))
    best = max(score for score, *_ in scored)
    winners = [entry for entry in scored if entry[0] == best]
    if len(winners) > 1:
        winners = [w for w in winners if w[3][0] is not Separator.WHITESPACE] or winners
    if best == 0 and len(lines) == 1:
        raise ListRefusedError(f"{where}: the file holds no record; refusing an empty list")
    if best == 0:
        raise ListFormatError(
            f"{where}:1: no known layout reads the first lines as a Belgian number and a date; "
            "pin dncm.layout in the configuration"
        )
    if len(winners) > 1:
        described = "; ".join(
            f"separator={s.value} columns={o.value} dates={f.value}" for *_, (s, o, f) in winners
        )
        raise ListFormatError(
            f"{where}: ambiguous layout, these readings fit equally well: {described}; "
            "pin dncm.layout in the configuration"
        )
    score, data_lines, first_fits, (separator, order, form) = winners[0]
    if score <= MIN_FIT * data_lines:
        raise ListFormatError(
            f"{where}: the best layout (separator={separator.value} columns={order.value} "
            f"dates={form.value}) reads only {score} of the first {data_lines} lines; "
            "pin dncm.layout or fix the file"
        )
    header = pin.header
    if header is None:
        header = not first_fits and _LETTER.search(lines[0]) is not None
    return Layout(separator, order, form, header, encoding)


def _refuse_unsplittable(head: bytes, where: str) -> None:
    """Refuse a head whose line ends are bare CR, or that holds a line over MAX_LINE_BYTES."""
    if b"\r" in head and b"\n" not in head:
        raise ListFormatError(f"{where}: line ends are bare CR; convert to LF or CRLF")
    for number, line in enumerate(head.split(b"\n"), start=1):
        if len(line) > MAX_LINE_BYTES:
            raise line_too_long(where, number, line[: MAX_LINE_BYTES + 1])


def _encoding(head: bytes, pin: LayoutPin, where: str) -> Encoding:
    if head.startswith(_UTF16_BOMS) or b"\x00" in head:
        raise ListFormatError(
            f"{where}:1: the file is UTF-16 or binary; only UTF-8 and Latin-1 text is read"
        )
    if pin.encoding is not None:
        return pin.encoding
    if head.startswith(UTF8_BOM):
        return Encoding.UTF8
    complete = head[: head.rfind(b"\n") + 1] or head
    try:
        complete.decode("utf-8")
    except UnicodeDecodeError:
        return Encoding.LATIN1
    return Encoding.UTF8


def _sample_lines(head: bytes, *, at_eof: bool) -> list[bytes]:
    raw_lines = head.removeprefix(UTF8_BOM).split(b"\n")
    if not at_eof:
        raw_lines.pop()
    lines = [stripped for line in raw_lines if (stripped := line.strip())]
    if at_eof and len(lines) > 2:
        lines.pop()
    return lines[:SAMPLE_LINES]


def _fits(line: bytes, separator: bytes | None, order: FieldOrder, form: DateFormat) -> bool:
    try:
        number, day = split_fields(line, separator, order)
        read_date(day, form)
    except (ValueError, DateFieldError):
        return False
    return number_key(number) is not None
