"""Which configured campaign a dialler's campaign id stands for: the one place ids are resolved.

A dialler names a call's campaign in its own words (a VICIdial campaign id, a FreePBX route
name, an Issabel campaign number). The configured name answers for itself; an alias listed
under `campaigns.NAME.aliases` answers for its campaign; a call that names no campaign takes
`default_campaign` when one is set. Anything else is not resolved, and the policy refuses it as
an unknown campaign.
"""

from __future__ import annotations

from dataclasses import dataclass

from gatekeeper.config import Settings
from gatekeeper.rules import Campaign


@dataclass(frozen=True, slots=True)
class Resolved:
    """A dialler's id and what it was resolved to."""

    dialler_id: str
    name: str
    """The campaign's configured name, or the dialler's id when it names none configured."""
    campaign: Campaign | None
    via: str
    """How: `name`, `alias`, `default`, or `unknown`."""


def resolve(settings: Settings, dialler_id: str) -> Resolved:
    """The campaign `dialler_id` names under `settings`."""
    campaign = settings.campaigns.get(dialler_id)
    if campaign is not None:
        return Resolved(dialler_id, campaign.name, campaign, "name")
    alias_of = settings.campaign_aliases.get(dialler_id)
    if alias_of is not None:
        return Resolved(dialler_id, alias_of, settings.campaigns[alias_of], "alias")
    if not dialler_id.strip() and settings.default_campaign is not None:
        default = settings.default_campaign
        return Resolved(dialler_id, default, settings.campaigns[default], "default")
    return Resolved(dialler_id, dialler_id, None, "unknown")
