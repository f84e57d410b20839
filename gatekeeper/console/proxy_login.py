"""An account named by a trusted reverse proxy's header (`console.proxy_user_header`).

Theory of operation: the header is believed only when the TCP peer of the connection (not the
address `X-Forwarded-For` gives, which anyone can write) is in `console.trusted_proxies`.
`PeerAddress` keeps that peer in the request's scope before uvicorn's proxy-header middleware
replaces the client with the forwarded one. The same header from any other peer is ignored,
counted and logged; the request then needs a password session like any other. A trusted
header must name exactly one existing, unlocked account: anything else is refused, never
turned into a login under another name.
"""

from __future__ import annotations

import ipaddress
import re

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from gatekeeper.agi import Network
from gatekeeper.common import GatekeeperError

PEER_KEY = "gatekeeper.peer"
MAX_NAME_LENGTH = 64
_LOG_EVERY = 100
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_log = structlog.get_logger("gatekeeper.console")


class ProxyLoginRefusedError(GatekeeperError):
    """A trusted proxy named no usable account; the message says why (never the header's text)."""


class PeerAddress:
    """ASGI middleware keeping the connection's own peer address under PEER_KEY."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Note the peer, then pass the request on."""
        if scope["type"] == "http":
            client = scope.get("client")
            scope[PEER_KEY] = client[0] if client else None
        await self._app(scope, receive, send)


class ProxyLogin:
    """Which account a request's proxy header names, if the header is to be believed."""

    def __init__(self, header: str | None, trusted: tuple[Network, ...]) -> None:
        self.header = header.lower().encode("latin-1") if header else None
        self._trusted = trusted
        self.ignored = 0
        """Headers seen from a peer that is not a trusted proxy (and so ignored)."""

    def account(self, scope: Scope) -> str | None:
        """The account name a trusted proxy sends; None when off, absent or untrusted."""
        if self.header is None:
            return None
        values = [value for name, value in scope.get("headers", ()) if name == self.header]
        if not values:
            return None
        peer = scope.get(PEER_KEY)
        if not self._is_trusted(peer):
            self.ignored += 1
            if self.ignored % _LOG_EVERY == 1:
                _log.warning("console_proxy_header_ignored", peer=peer, ignored_total=self.ignored)
            return None
        if len(values) > 1:
            raise ProxyLoginRefusedError("the proxy sent the user header more than once")
        name = bytes(values[0]).decode("latin-1").strip()
        if not _NAME.fullmatch(name):
            raise ProxyLoginRefusedError("the proxy's user header is not an account name")
        return name

    def _is_trusted(self, peer: object) -> bool:
        if not isinstance(peer, str):
            return False
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self._trusted)
