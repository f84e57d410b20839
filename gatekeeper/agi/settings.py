"""The `agi` section of the configuration: where the FastAGI server listens and its bounds."""

from __future__ import annotations

from dataclasses import dataclass

from gatekeeper.agi.peers import Network
from gatekeeper.agi.server import HEADER_TIMEOUT_S, MAX_CONNECTIONS, MAX_CONNECTIONS_PER_PEER

DEFAULT_AGI_PORT = 4573


@dataclass(frozen=True, slots=True)
class AgiSettings:
    """Where the FastAGI server listens, who may ask it, and its connection bounds.

    `allowed_uids` None means the default users (`gatekeeper.agi.peers.default_uids`).
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_AGI_PORT
    allowed_uids: frozenset[int] | None = None
    allowed_peers: tuple[Network, ...] = ()
    header_timeout_ms: int = round(HEADER_TIMEOUT_S * 1000)
    max_connections: int = MAX_CONNECTIONS
    max_connections_per_peer: int = MAX_CONNECTIONS_PER_PEER

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"
