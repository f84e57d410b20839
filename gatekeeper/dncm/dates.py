"""Registration dates as the list file writes them, read into compact day numbers.

A day number is the count of days since 1970-01-01: two bytes in SQLite for any date of the list.
Each supported format is one regular expression with an optional time of day after the date
(`2021-04-03 12:34:56`, `2021-04-03T12:34:56Z`, `20210403 123456`); the time is ignored
because the list's registrations are dated, not timed.
"""

from __future__ import annotations

import enum
import re
from datetime import date

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
DAY_MONTH_LIMIT = 12

_TIME = rb"(?:[ T](?:\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?|\d{6})(?:Z|[+-]\d{2}:?\d{2})?)?"


class DateFormat(enum.StrEnum):
    """The date forms the parser reads; `MM/DD/YYYY` only when pinned in the configuration."""

    ISO = "YYYY-MM-DD"
    DAY_FIRST_SLASH = "DD/MM/YYYY"
    DAY_FIRST_DASH = "DD-MM-YYYY"
    COMPACT = "YYYYMMDD"
    MONTH_FIRST_SLASH = "MM/DD/YYYY"

    @property
    def day_first(self) -> bool:
        """Whether day and month could be swapped without the reader noticing."""
        return self in (DateFormat.DAY_FIRST_SLASH, DateFormat.DAY_FIRST_DASH)


DETECTABLE_FORMATS = (
    DateFormat.ISO,
    DateFormat.DAY_FIRST_SLASH,
    DateFormat.DAY_FIRST_DASH,
    DateFormat.COMPACT,
)

# Groups in (year, month, day) order of meaning, by position in the text.
_SHAPES: dict[DateFormat, tuple[re.Pattern[bytes], tuple[int, int, int]]] = {
    DateFormat.ISO: (re.compile(rb"(\d{4})-(\d{2})-(\d{2})" + _TIME), (1, 2, 3)),
    DateFormat.DAY_FIRST_SLASH: (re.compile(rb"(\d{1,2})/(\d{1,2})/(\d{4})" + _TIME), (3, 2, 1)),
    DateFormat.DAY_FIRST_DASH: (re.compile(rb"(\d{1,2})-(\d{1,2})-(\d{4})" + _TIME), (3, 2, 1)),
    DateFormat.COMPACT: (re.compile(rb"(\d{4})(\d{2})(\d{2})" + _TIME), (1, 2, 3)),
    DateFormat.MONTH_FIRST_SLASH: (
        re.compile(rb"(\d{1,2})/(\d{1,2})/(\d{4})" + _TIME),
        (3, 1, 2),
    ),
}

ANY_DATE = re.compile(
    rb"\d{4}-\d{2}-\d{2}|\d{1,2}[/-]\d{1,2}[/-]\d{4}|(?:19|20)\d{2}[01]\d[0-3]\d" + _TIME
)


class DateFieldError(ValueError):
    """A date field that does not hold a date of the expected form."""


def read_date(text: bytes, form: DateFormat) -> int:
    """The day number of a date field; raises DateFieldError naming what is wrong."""
    pattern, (year_at, month_at, day_at) = _SHAPES[form]
    found = pattern.fullmatch(text)
    if found is None:
        raise DateFieldError(f"date {_shown(text)} is not of the form {form.value}")
    try:
        day = date(int(found[year_at]), int(found[month_at]), int(found[day_at]))
    except ValueError as err:
        raise DateFieldError(f"date {_shown(text)} is not a calendar date ({err})") from err
    return day.toordinal() - EPOCH_ORDINAL


def shows_day_first(text: bytes, form: DateFormat) -> bool:
    """Whether a day-first date proves its order: its first part is above 12."""
    if not form.day_first:
        return False
    head = re.match(rb"(\d{1,2})[/-]", text)
    return head is not None and int(head[1]) > DAY_MONTH_LIMIT


def day_of(number: int) -> date:
    """The date of a day number."""
    return date.fromordinal(number + EPOCH_ORDINAL)


def number_of(day: date) -> int:
    """The day number of a date."""
    return day.toordinal() - EPOCH_ORDINAL


def _shown(text: bytes) -> str:
    return repr(text[:40].decode("latin-1"))
