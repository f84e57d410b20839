"""Put a group of legal scenarios into real files: a config, an imported list, stored acts.

The scenario table dates everything relative to today; scenarios that share a list age and a
licence end share one run folder, since every scenario dials a different subscriber.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from gatekeeper.common.clock import today
from gatekeeper.consent import ActRecord, RecordKind, open_act_store
from gatekeeper.dncm.sync import import_list_file
from gatekeeper.rules.numbers import BelgianNumber, normalise
from legal_scenarios import Scenario, ScenarioTable

GroupKey = tuple[int | None, int]


def groups(scenarios: Iterable[Scenario]) -> dict[GroupKey, list[Scenario]]:
    """Scenarios by (list age, licence end): each group can share one set of files."""
    grouped: dict[GroupKey, list[Scenario]] = defaultdict(list)
    for scenario in scenarios:
        grouped[scenario.list_age, scenario.licence_end].append(scenario)
    return dict(grouped)


def customiser(table: ScenarioTable, licence_end: int, day: date) -> Any:
    """A config customisation giving the table's advertisers, campaigns and licence end."""

    def customise(config: dict[str, Any]) -> None:
        config["advertisers"] = table.config["advertisers"]
        config["campaigns"] = table.config["campaigns"]
        config["licensee"]["licence_valid_until"] = (day + timedelta(days=licence_end)).isoformat()

    return customise


def prepare_data(data_dir: Path, scenarios: list[Scenario], day: date | None = None) -> None:
    """Import the group's listings (when it has a list) and store its consents and objections."""
    day = day or today()
    list_age = scenarios[0].list_age
    if list_age is not None:
        _import_listings(data_dir, scenarios, day, list_age)
    asyncio.run(_store_acts(data_dir, scenarios, day))


def _belgian(number: str) -> BelgianNumber:
    normalised = normalise(number)
    assert isinstance(normalised, BelgianNumber), number
    return normalised


def _import_listings(data_dir: Path, scenarios: list[Scenario], day: date, age: int) -> None:
    lines = [
        f"0{_belgian(s.number).e164[3:]};{(day + timedelta(days=s.listed)).isoformat()}\n"
        for s in scenarios
        if s.listed is not None
    ]
    lines.append(f"0470999998;{(day - timedelta(days=900)).isoformat()}\n")
    list_file = data_dir.parent / "scenario-list.txt"
    list_file.write_text("".join(lines), encoding="ascii")
    import_list_file(
        data_dir / "dncm", list_file, source="scenarios", list_date=day - timedelta(days=age)
    )


async def _store_acts(data_dir: Path, scenarios: list[Scenario], day: date) -> None:
    store = await open_act_store(data_dir / "consent" / "acts.sqlite")
    try:
        for scenario in scenarios:
            normalised = normalise(scenario.number)
            if not isinstance(normalised, BelgianNumber):
                continue
            for act in scenario.acts:
                kind = RecordKind(act.kind.value)
                record = ActRecord(
                    kind, act.advertiser, normalised.e164, day + timedelta(days=act.day), act.at
                )
                added = await store.add(record)
                if act.revoked:
                    await store.revoke(added.stored.record_id, kind, "scenario")
    finally:
        await store.close()
