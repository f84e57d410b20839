"""The licence guard: warn before the DNCM licence ends; after it, commercial calls are blocked."""

from __future__ import annotations

from datetime import date

import structlog

from gatekeeper.config.settings import Settings

LICENCE_WARNING_DAYS = 30


def licence_warning(settings: Settings, today: date) -> str | None:
    """What to tell the admin about the licence on `today`, or None if nothing is due yet."""
    licensee = settings.licensee
    end = licensee.licence_valid_until
    days_left = (end - today).days
    if days_left < 0:
        return (
            f"the DNCM licence of {licensee.name} ended on {end.isoformat()}: "
            "commercial calls are blocked (licence_expired)"
        )
    if days_left > LICENCE_WARNING_DAYS:
        return None
    when = "today" if days_left == 0 else f"in {days_left} day{'s' if days_left > 1 else ''}"
    return (
        f"the DNCM licence of {licensee.name} ends on {end.isoformat()} ({when}): "
        "renew it and update licensee.licence_valid_until, "
        "or commercial calls will be blocked (licence_expired)"
    )


def log_licence_state(settings: Settings, today: date) -> str | None:
    """Log the licence warning for `today` if there is one (at serve start and daily)."""
    warning = licence_warning(settings, today)
    if warning is not None:
        log = structlog.get_logger("gatekeeper.config.licence")
        log.warning(
            "licence_warning",
            message=warning,
            licence_valid_until=settings.licensee.licence_valid_until.isoformat(),
            expired=today > settings.licensee.licence_valid_until,
        )
    return warning
