"""Dates and times on the command line: ISO 8601, Europe/Brussels unless they carry an offset."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from gatekeeper.common import BRUSSELS, AuditError


def parse_moment(text: str, *, end_of_day: bool = False) -> datetime:
    """An aware moment from an ISO date or date-time.

    A bare date means the start of that day in Brussels, or with `end_of_day` the start of the
    next day, so `--until 2025-03-03` includes all of 3 March.
    """
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            if end_of_day:
                day += timedelta(days=1)
            return datetime.combine(day, time(0), tzinfo=BRUSSELS)
        moment = datetime.fromisoformat(raw)
    except ValueError as err:
        raise AuditError(
            f"{text!r} is not an ISO date (2025-03-03) or date-time (2025-03-03T14:05)"
        ) from err
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BRUSSELS)
    return moment


def local_text(utc_iso: str) -> str:
    """A stored UTC time as Brussels wall-clock text with its offset, to the second."""
    moment = datetime.fromisoformat(utc_iso).astimezone(BRUSSELS)
    return moment.isoformat(sep=" ", timespec="seconds")


def local_day(utc_iso: str) -> date:
    """The Brussels calendar day of a stored UTC time."""
    return datetime.fromisoformat(utc_iso).astimezone(BRUSSELS).date()
