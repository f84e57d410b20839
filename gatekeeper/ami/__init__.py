"""Asterisk manager interface: the only place that talks AMI (through panoramisk)."""

from __future__ import annotations

from gatekeeper.ami.client import AmiClient, AmiEvent
from gatekeeper.ami.service import AmiService, read_secret
from gatekeeper.ami.settings import AmiSettings, BypassAction
from gatekeeper.ami.watchdog import Watchdog, event_filters

__all__ = [
    "AmiClient",
    "AmiEvent",
    "AmiService",
    "AmiSettings",
    "BypassAction",
    "Watchdog",
    "event_filters",
    "read_secret",
]
