"""Time as the law counts it: Belgian civil time (Europe/Brussels) unless a time carries an offset.

This is the one place that names the zone and says what "today" is: every list, licence,
consent and report date is compared to `today()`. The zone data comes from the `tzdata`
package where the system has none.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

BRUSSELS = ZoneInfo("Europe/Brussels")


def now(clock: datetime | None = None) -> datetime:
    """The current time (or `clock`) in Brussels, timezone-aware."""
    return (clock if clock is not None else datetime.now(UTC)).astimezone(BRUSSELS)


def today(clock: datetime | None = None) -> date:
    """Today's date (or `clock`'s) in Brussels."""
    return now(clock).date()
