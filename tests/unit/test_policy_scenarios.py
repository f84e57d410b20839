"""The legal scenario table, run against policy.decide on several days of the year."""

from __future__ import annotations

from datetime import date

import pytest
from gatekeeper.rules.numbers import BelgianNumber, ForeignNumber, normalise
from gatekeeper.rules.policy import Reason, decide
from legal_scenarios import Scenario, load_scenarios

TABLE = load_scenarios()
DECISION_DAYS = (
    date(2026, 6, 15),  # an ordinary day
    date(2028, 3, 1),  # the day after a leap day
    date(2027, 3, 28),  # the day Belgium moves its clocks forward
    date(2027, 1, 1),  # the first day of a year
)


@pytest.mark.parametrize("today", DECISION_DAYS, ids=str)
@pytest.mark.parametrize("scenario", TABLE.scenarios, ids=lambda s: s.id)
def test_scenario_reason(scenario: Scenario, today: date) -> None:
    """Each legal scenario gets its expected reason code, whatever the day."""
    decision = decide(scenario.facts(today, TABLE.campaigns))
    assert decision.reason is scenario.expect, decision.rule


def test_table_is_large_enough() -> None:
    """The table holds at least 40 scenarios (docs/rules.md)."""
    assert len(TABLE.scenarios) >= 40


def test_table_covers_every_reason_but_store_failures() -> None:
    """Every reason code except internal_error and acts_unavailable is expected by a scenario."""
    expected = {scenario.expect for scenario in TABLE.scenarios}
    assert expected == set(Reason) - {Reason.INTERNAL_ERROR, Reason.ACTS_UNAVAILABLE}


def test_scenario_ids_are_unique() -> None:
    """Scenario ids are unique, so a failure names one scenario."""
    ids = [scenario.id for scenario in TABLE.scenarios]
    assert len(ids) == len(set(ids))


def test_scenario_numbers_are_distinct_subscribers() -> None:
    """No two scenarios dial the same subscriber, so they can share one list and one store."""
    numbers = [normalise(scenario.number) for scenario in TABLE.scenarios]
    e164s = [n.e164 for n in numbers if isinstance(n, BelgianNumber | ForeignNumber)]
    assert len(e164s) == len(set(e164s))


def test_timed_acts_are_never_dated_today() -> None:
    """Timed acts lie before today, so a real store (which refuses the future) accepts them."""
    assert all(act.day < 0 for s in TABLE.scenarios for act in s.acts if act.at is not None)


def test_scenario_acts_name_configured_advertisers() -> None:
    """Every act belongs to an advertiser of the table's config fragment."""
    advertisers = set(TABLE.config["advertisers"])
    assert {act.advertiser for s in TABLE.scenarios for act in s.acts} <= advertisers
