"""Load the legal scenario table (legal_scenarios.yaml) and turn a scenario into policy facts.

Import it from any test with `from legal_scenarios import load_scenarios` (pytest and mypy find
this folder through pyproject's pythonpath and mypy_path).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import yaml
from gatekeeper.rules.numbers import normalise
from gatekeeper.rules.policy import (
    Act,
    ActKind,
    Campaign,
    Facts,
    ForeignPolicy,
    Purpose,
    Reason,
    SnapshotInfo,
)

SCENARIO_FILE = Path(__file__).with_name("legal_scenarios.yaml")
MAX_AGE_DAYS = 5


@dataclass(frozen=True, slots=True)
class ScenarioAct:
    """A consent or objection of a scenario, dated relative to today."""

    kind: ActKind
    advertiser: str
    day: int
    at: time | None = None
    revoked: bool = False

    def on(self, today: date, record_id: str) -> Act:
        """The act as the policy sees it when the decision is made on `today`."""
        return Act(self.kind, today + timedelta(days=self.day), self.at, record_id)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One row of the table; every date is a day offset from the day of the decision."""

    id: str
    why: str
    campaign: str
    number: str
    listed: int | None
    acts: tuple[ScenarioAct, ...]
    list_age: int | None
    licence_end: int
    expect: Reason

    def facts(self, today: date, campaigns: dict[str, Campaign]) -> Facts:
        """The facts the gatekeeper gathers for this scenario on `today`."""
        campaign = campaigns.get(self.campaign)
        strip = campaign.strip_prefix if campaign else ""
        advertiser = campaign.advertiser if campaign else None
        live = [
            act.on(today, str(index))
            for index, act in enumerate(self.acts, start=1)
            if not act.revoked and act.advertiser == advertiser
        ]
        snapshot = None
        if self.list_age is not None:
            list_date = today - timedelta(days=self.list_age)
            snapshot = SnapshotInfo(1, list_date, "0" * 64, 1000)
        listing = None
        if self.listed is not None:
            listing = Act(ActKind.LISTING, today + timedelta(days=self.listed))
        return Facts(
            campaign_name=self.campaign,
            campaign=campaign,
            number=normalise(self.number, strip_prefix=strip),
            today=today,
            licence_valid_until=today + timedelta(days=self.licence_end),
            max_age_days=MAX_AGE_DAYS,
            snapshot=snapshot,
            listing=listing,
            objections=tuple(a for a in live if a.kind is ActKind.OBJECTION),
            consents=tuple(a for a in live if a.kind is ActKind.CONSENT),
        )


@dataclass(frozen=True, slots=True)
class ScenarioTable:
    """The whole table: the config fragment it runs under and its scenarios."""

    config: dict[str, Any]
    campaigns: dict[str, Campaign]
    scenarios: tuple[Scenario, ...]


def load_scenarios(path: Path = SCENARIO_FILE) -> ScenarioTable:
    """Read and check the scenario table."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    defaults = raw["defaults"]
    config = raw["config"]
    campaigns = {
        name: Campaign(
            name=name,
            purpose=Purpose(spec["purpose"]),
            advertiser=spec["advertiser"],
            foreign_numbers=ForeignPolicy(spec.get("foreign_numbers", "block")),
            strip_prefix=spec.get("strip_prefix", ""),
        )
        for name, spec in config["campaigns"].items()
    }
    scenarios = tuple(_scenario({**defaults, **row}) for row in raw["scenarios"])
    return ScenarioTable(config, campaigns, scenarios)


def _scenario(row: dict[str, Any]) -> Scenario:
    return Scenario(
        id=row["id"],
        why=row["why"],
        campaign=row["campaign"],
        number=str(row["number"]),
        listed=row["listed"],
        acts=tuple(
            ScenarioAct(
                kind=ActKind(act["kind"]),
                advertiser=act["advertiser"],
                day=act["day"],
                at=time.fromisoformat(act["at"]) if "at" in act else None,
                revoked=act.get("revoked", False),
            )
            for act in row["acts"]
        ),
        list_age=row["list_age"],
        licence_end=row["licence_end"],
        expect=Reason(row["expect"]),
    )
