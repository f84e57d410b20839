"""Time as the law counts it: dates and times are Europe/Brussels unless they carry an offset."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

BRUSSELS = ZoneInfo("Europe/Brussels")


def now() -> datetime:
    """The current time in Brussels, timezone-aware."""
    return datetime.now(BRUSSELS)


def today() -> date:
    """Today's date in Brussels."""
    return now().date()
