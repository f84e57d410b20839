"""The facts a period report shows, gathered from the log in one consistent read."""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from gatekeeper.audit.bypass_view import BYPASS_KIND, names_number
from gatekeeper.audit.chain import VerifyResult
from gatekeeper.audit.period import local_day
from gatekeeper.audit.records import EventKind, utc_text
from gatekeeper.audit.store import (
    DecisionRow,
    EventRow,
    Filters,
    iter_decisions,
    iter_events,
    reading,
    verify_log,
)
from gatekeeper.common import BRUSSELS

MAX_REPORT_DAYS = 400
LIST_EVENT_KINDS = (EventKind.LIST_SYNC.value,)
CONFIG_EVENT_KINDS = (EventKind.CONFIG_RELOAD.value,)
ACCESS_EVENT_KINDS = (
    EventKind.CONSOLE_ACCESS.value,
    EventKind.CONSOLE_ACT.value,
    EventKind.CONSOLE_LOCKOUT.value,
)
"""Who read personal data or recorded an act in the console, and locked-out logins."""

_HOURLY = """
SELECT substr(at, 1, 13) AS hour, campaign, verdict, reason,
       json_extract(body, '$.snapshot.list_date') AS list_date, COUNT(*)
FROM chain
WHERE type = 'decision' AND at >= ? AND at < ?
GROUP BY hour, campaign, verdict, reason, list_date
"""


@dataclass(frozen=True, slots=True)
class DayFigures:
    """One Brussels calendar day of the period."""

    day: date
    allow: int = 0
    block: int = 0
    lists_used: tuple[date, ...] = ()
    list_in_force: date | None = None

    @property
    def oldest_list_age(self) -> int | None:
        """Age in days of the oldest list a decision used that day."""
        if not self.lists_used:
            return None
        return (self.day - min(self.lists_used)).days

    @property
    def age_in_force(self) -> int | None:
        """Age in days, at the end of the day, of the newest list synced by then."""
        if self.list_in_force is None:
            return None
        return (self.day - self.list_in_force).days


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything the report shows."""

    since: datetime
    until: datetime
    generated_at: datetime
    by_campaign: dict[str, Counter[str]]
    by_reason: Counter[tuple[str, str]]
    days: tuple[DayFigures, ...]
    syncs: tuple[EventRow, ...]
    sync_before: EventRow | None
    config_events: tuple[EventRow, ...]
    other_events: tuple[EventRow, ...]
    chain: VerifyResult
    number: str | None = None
    number_decisions: tuple[DecisionRow, ...] = field(default=())
    bypasses: tuple[EventRow, ...] = field(default=())
    number_bypasses: tuple[EventRow, ...] = field(default=())
    access_events: tuple[EventRow, ...] = field(default=())

    @property
    def provider_reached(self) -> int:
        """Bypasses in the period whose provider leg began before the cut."""
        return sum(1 for e in self.bypasses if e.details.get("provider_reached") is True)

    @property
    def total(self) -> int:
        """Decisions in the period."""
        return sum(sum(c.values()) for c in self.by_campaign.values())

    def verdict_total(self, verdict: str) -> int:
        """Decisions in the period with this verdict."""
        return sum(c[verdict] for c in self.by_campaign.values())


def _list_date(event: EventRow) -> date | None:
    raw = event.details.get("list_date")
    if not isinstance(raw, str):
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        return None


def sync_succeeded(event: EventRow) -> bool:
    """Whether a list_sync event says a list was put in force."""
    status = str(event.details.get("status", "imported")).lower()
    return status in {"imported", "ok", "unchanged", "success"} and _list_date(event) is not None


def gather(
    path: Path, since: datetime, until: datetime, *, number: str | None = None
) -> ReportData:
    """Read the period's figures (and one number's decisions, if asked) from the log."""
    first_day = since.astimezone(BRUSSELS).date()
    last_day = (until - timedelta(microseconds=1)).astimezone(BRUSSELS).date()
    if (last_day - first_day).days >= MAX_REPORT_DAYS:
        raise ValueError(f"a report covers at most {MAX_REPORT_DAYS} days")
    chain = verify_log(path)
    with reading(path) as conn:
        by_campaign, by_reason, per_day, lists = _decision_figures(conn, since, until)
        all_syncs = list(iter_events(conn, LIST_EVENT_KINDS, until=until))
        syncs = tuple(e for e in all_syncs if e.at >= utc_text(since))
        before = [e for e in all_syncs if e.at < utc_text(since) and sync_succeeded(e)]
        config_events = tuple(iter_events(conn, CONFIG_EVENT_KINDS, since, until))
        access = tuple(iter_events(conn, ACCESS_EVENT_KINDS, since, until))
        other = tuple(
            e
            for e in iter_events(conn, None, since, until)
            if e.kind not in LIST_EVENT_KINDS + CONFIG_EVENT_KINDS + ACCESS_EVENT_KINDS
        )
        number_rows: tuple[DecisionRow, ...] = ()
        if number is not None:
            number_rows = tuple(
                iter_decisions(conn, Filters(e164=number, since=since, until=until))
            )
    days = _days(first_day, last_day, per_day, lists, all_syncs)
    found = tuple(e for e in other if e.kind == BYPASS_KIND)
    return ReportData(
        since=since,
        until=until,
        generated_at=datetime.now(UTC),
        by_campaign=by_campaign,
        by_reason=by_reason,
        days=days,
        syncs=syncs,
        sync_before=before[-1] if before else None,
        config_events=config_events,
        other_events=other,
        chain=chain,
        number=number,
        number_decisions=number_rows,
        bypasses=found,
        number_bypasses=tuple(e for e in found if number and names_number(e.details, number)),
        access_events=access,
    )


def _decision_figures(
    conn: sqlite3.Connection, since: datetime, until: datetime
) -> tuple[
    dict[str, Counter[str]],
    Counter[tuple[str, str]],
    dict[date, Counter[str]],
    dict[date, set[date]],
]:
    by_campaign: dict[str, Counter[str]] = defaultdict(Counter)
    by_reason: Counter[tuple[str, str]] = Counter()
    per_day: dict[date, Counter[str]] = defaultdict(Counter)
    lists: dict[date, set[date]] = defaultdict(set)
    rows: Any = conn.execute(_HOURLY, (utc_text(since), utc_text(until)))
    for hour, campaign, verdict, reason, list_date, count in rows:
        # Brussels is a whole number of hours from UTC, so an hour belongs to one local day
        day = local_day(f"{hour}:00:00+00:00")
        by_campaign[str(campaign)][str(verdict)] += count
        by_reason[(str(reason), str(verdict))] += count
        per_day[day][str(verdict)] += count
        if list_date:
            lists[day].add(date.fromisoformat(str(list_date)))
    return dict(by_campaign), by_reason, per_day, lists


def _days(
    first: date,
    last: date,
    per_day: dict[date, Counter[str]],
    lists: dict[date, set[date]],
    syncs: list[EventRow],
) -> tuple[DayFigures, ...]:
    good = [(local_day(e.at), _list_date(e)) for e in syncs if sync_succeeded(e)]
    days: list[DayFigures] = []
    day = first
    while day <= last:
        in_force = [listed for synced, listed in good if synced <= day and listed is not None]
        counts = per_day.get(day, Counter())
        days.append(
            DayFigures(
                day=day,
                allow=counts["allow"],
                block=counts["block"],
                lists_used=tuple(sorted(lists.get(day, set()))),
                list_in_force=max(in_force) if in_force else None,
            )
        )
        day += timedelta(days=1)
    return tuple(days)
