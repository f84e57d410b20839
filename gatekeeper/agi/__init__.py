"""FastAGI: the sans-IO protocol (`protocol`) and the asyncio server around it (`server`)."""

from __future__ import annotations

from gatekeeper.agi.peers import Network, PeerRules, Refusal, default_uids, is_loopback
from gatekeeper.agi.refusals import Refusals
from gatekeeper.agi.server import (
    MAX_CONNECTIONS,
    MAX_CONNECTIONS_PER_PEER,
    AgiHandler,
    AgiLimits,
    AgiRequest,
    AgiServer,
)
from gatekeeper.agi.settings import DEFAULT_AGI_PORT, AgiSettings

__all__ = [
    "DEFAULT_AGI_PORT",
    "MAX_CONNECTIONS",
    "MAX_CONNECTIONS_PER_PEER",
    "AgiHandler",
    "AgiLimits",
    "AgiRequest",
    "AgiServer",
    "AgiSettings",
    "Network",
    "PeerRules",
    "Refusal",
    "Refusals",
    "default_uids",
    "is_loopback",
]
