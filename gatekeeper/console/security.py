"""HTTP-level protections: session and CSRF cookies, security headers, the login throttle."""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict, deque

from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "gk_session"
LOGIN_CSRF_COOKIE = "gk_login_csrf"
LANGUAGE_COOKIE = "gk_lang"
LOGIN_ATTEMPTS_PER_WINDOW = 30
LOGIN_WINDOW_S = 300.0
MAX_THROTTLED_CLIENTS = 10_000

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
"""No script at all, and nothing from elsewhere."""

HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
}


class SecurityHeaders:
    """ASGI middleware adding HEADERS to every response that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers on the way out."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self._app(scope, receive, sending)


def set_cookie(
    response: Response, name: str, value: str, *, secure: bool, max_age: int | None = None
) -> None:
    """A cookie scripts cannot read, sent only to this site (and only over HTTPS if `secure`)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )


def same_token(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a form's CSRF token with the expected one."""
    return bool(given) and bool(expected) and hmac.compare_digest(str(given), expected)


class LoginThrottle:
    """At most LOGIN_ATTEMPTS_PER_WINDOW failed logins per client address per window.

    Bounded: the least recently seen addresses are forgotten beyond `max_clients`.
    """

    def __init__(
        self,
        attempts: int = LOGIN_ATTEMPTS_PER_WINDOW,
        window_s: float = LOGIN_WINDOW_S,
        *,
        max_clients: int = MAX_THROTTLED_CLIENTS,
    ) -> None:
        self._attempts = attempts
        self._window_s = window_s
        self._max_clients = max_clients
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, client: str, moment: float) -> deque[float]:
        times = self._seen.pop(client, None) or deque()
        while times and times[0] <= moment - self._window_s:
            times.popleft()
        self._seen[client] = times
        while len(self._seen) > self._max_clients:
            self._seen.popitem(last=False)
        return times

    def allow(self, client: str, now: float | None = None) -> bool:
        """Whether `client` may try to log in (fewer failures than the limit in the window)."""
        moment = time.monotonic() if now is None else now
        return len(self._recent(client, moment)) < self._attempts

    def failed(self, client: str, now: float | None = None) -> None:
        """Count a failed login from `client`."""
        moment = time.monotonic() if now is None else now
        self._recent(client, moment).append(moment)
