"""Asterisk manager interface: the only place that talks AMI (through panoramisk)."""

from __future__ import annotations

from gatekeeper.ami.bypass import MAX_REPORTS as MAX_OPEN_REPORTS
from gatekeeper.ami.client import SUBSCRIPTION_LIMIT, AmiClient, AmiEvent
from gatekeeper.ami.outcomes import MAX_CALLS as MAX_FOLLOWED_CALLS
from gatekeeper.ami.service import AmiService, read_secret
from gatekeeper.ami.settings import (
    PEER_HEALTH_PATH,
    AmiSettings,
    BypassAction,
    PeerHealth,
    StandbySettings,
)
from gatekeeper.ami.standby import StandbyWatch, primary_section, probe
from gatekeeper.ami.watchdog import Watchdog, event_filters

__all__ = [
    "MAX_FOLLOWED_CALLS",
    "MAX_OPEN_REPORTS",
    "PEER_HEALTH_PATH",
    "SUBSCRIPTION_LIMIT",
    "AmiClient",
    "AmiEvent",
    "AmiService",
    "AmiSettings",
    "BypassAction",
    "PeerHealth",
    "StandbySettings",
    "StandbyWatch",
    "Watchdog",
    "event_filters",
    "primary_section",
    "probe",
    "read_secret",
]
