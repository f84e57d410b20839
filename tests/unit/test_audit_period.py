"""Command-line dates and times: ISO 8601, Europe/Brussels unless an offset is given."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from gatekeeper.audit.period import local_day, local_text, parse_moment
from gatekeeper.common.errors import AuditError


@pytest.mark.parametrize(
    ("text", "end_of_day", "utc"),
    [
        ("2025-03-03", False, datetime(2025, 3, 2, 23, 0, tzinfo=UTC)),
        ("2025-03-03", True, datetime(2025, 3, 3, 23, 0, tzinfo=UTC)),
        ("2025-07-01", False, datetime(2025, 6, 30, 22, 0, tzinfo=UTC)),
        ("2025-03-03T14:05", False, datetime(2025, 3, 3, 13, 5, tzinfo=UTC)),
        ("2025-03-03T14:05+00:00", False, datetime(2025, 3, 3, 14, 5, tzinfo=UTC)),
        ("2025-03-03T14:05:00Z", True, datetime(2025, 3, 3, 14, 5, tzinfo=UTC)),
    ],
)
def test_parse_moment(text: str, end_of_day: bool, utc: datetime) -> None:
    """Dates are Brussels days (an --until date includes its whole day); offsets are kept."""
    assert parse_moment(text, end_of_day=end_of_day) == utc


@pytest.mark.parametrize("text", ["3 March", "2025-13-01", "2025-03-03T25:00", ""])
def test_parse_moment_refuses_what_is_not_iso(text: str) -> None:
    """Anything but an ISO date or date-time is refused with the text quoted."""
    with pytest.raises(AuditError, match="not an ISO date"):
        parse_moment(text)


def test_local_text_and_day_are_brussels() -> None:
    """A stored UTC time late on 2 March is 3 March in Brussels."""
    stored = "2025-03-02T23:30:00.000000+00:00"
    assert (local_text(stored), local_day(stored).isoformat()) == (
        "2025-03-03 00:30:00+01:00",
        "2025-03-03",
    )
