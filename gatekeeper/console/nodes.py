"""The Nodes page's readings: every node's list from the central copy, or this node's /healthz.

Theory of operation: with `console.central_log` the page shows what `audit nodes --central`
prints: `read_nodes` and `compare` (stores/postgres/nodes.py), SILENT past SILENCE_BOUND_S.
`read_nodes` is blocking, so it runs in a worker thread; the page waits CENTRAL_DEADLINE_S for
it, and only one read runs at a time (a page asked for while one is still running says so
rather than start another), so a slow database costs one thread, never one per page. Any
failure is a reading with a problem, shown as a line of the page.

Without it the console reads its own node's `serve` at `health.listen`: one HTTP/1.1 GET of
/healthz, to that configured address only (loopback when it is a wildcard), connected within
HEALTH_CONNECT_S and answered within HEALTH_DEADLINE_S, at most MAX_HEALTH_BYTES read. The
answer is untrusted text: anything but a health report (an HTTP status other than 200 or 503,
no JSON, another shape) is named as such; names and details are cut to MAX_TEXT characters and
their non-printable characters escaped, at most MAX_CHECKS checks shown. Nothing here raises to
the page: a service that is down, slow or strange is a reading that says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from dataclasses import dataclass
from typing import Any

import structlog

from gatekeeper.common import StoreError, shown
from gatekeeper.config import Endpoint, PostgresSettings
from gatekeeper.stores.postgres.nodes import NodeReading, NodesView, compare, read_nodes

SILENCE_BOUND_S = 26 * 3600
"""serve syncs its list daily and records every sync: a node silent this long has stopped."""
CENTRAL_DEADLINE_S = 10.0
HEALTH_CONNECT_S = 1.0
HEALTH_DEADLINE_S = 2.5
"""serve gives each check 2 s (serve/health.py): a stalled check is still an answer, in time."""
MAX_HEALTH_BYTES = 65536
MAX_CHECKS = 64
MAX_TEXT = 500
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - mapped away
_log = structlog.get_logger("gatekeeper.console")


@dataclass(frozen=True, slots=True)
class CentralNodes:
    """The nodes compared, or the problem (an i18n key) that kept them from being read."""

    view: NodesView | None
    problem: str | None = None
    max_silence_s: float = SILENCE_BOUND_S


class NodeLists:
    """Reads every node's list from the central copy, one read at a time, in a worker thread."""

    def __init__(
        self,
        settings: PostgresSettings,
        *,
        deadline_s: float = CENTRAL_DEADLINE_S,
        max_silence_s: float = SILENCE_BOUND_S,
    ) -> None:
        self._settings = settings
        self._deadline_s = deadline_s
        self._max_silence_s = max_silence_s
        self._running: asyncio.Future[list[NodeReading]] | None = None

    async def read(self) -> CentralNodes:
        """Every node compared; a problem instead when the database fails, is slow or busy."""
        if self._running is not None and not self._running.done():
            return CentralNodes(None, "nodes_busy", self._max_silence_s)
        running = asyncio.ensure_future(asyncio.to_thread(read_nodes, self._settings))
        running.add_done_callback(_retrieved)
        self._running = running
        try:
            async with asyncio.timeout(self._deadline_s):
                readings = await asyncio.shield(running)
        except TimeoutError:
            _log.error("console_nodes_unavailable", error=f"no answer in {self._deadline_s:g} s")
            return CentralNodes(None, "nodes_unavailable", self._max_silence_s)
        except StoreError as err:
            _log.error("console_nodes_unavailable", error=str(err))
            return CentralNodes(None, "nodes_unavailable", self._max_silence_s)
        return CentralNodes(compare(readings, self._max_silence_s), None, self._max_silence_s)


def _retrieved(future: asyncio.Future[list[NodeReading]]) -> None:
    """Collect the outcome of a read the page stopped waiting for (no unretrieved warning)."""
    if not future.cancelled():
        future.exception()


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """One check of /healthz as the service answered it (text escaped and cut)."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class LocalHealth:
    """This node's /healthz: its checks, or the problem (an i18n key) and what was met."""

    address: str
    checks: tuple[HealthCheck, ...] = ()
    problem: str | None = None
    detail: str = ""
    hidden: int = 0
    """Checks over MAX_CHECKS, not shown."""

    @property
    def failing(self) -> int:
        """How many checks fail."""
        return sum(not check.ok for check in self.checks)


class _UnreadableError(Exception):
    """The answer is not a health report."""


async def read_health(endpoint: Endpoint) -> LocalHealth:
    """The /healthz of the serve at `endpoint`; never raises, a failure is a reading."""
    host = _WILDCARDS.get(endpoint.host, endpoint.host)
    address = f"[{host}]:{endpoint.port}" if ":" in host else f"{host}:{endpoint.port}"
    try:
        async with asyncio.timeout(HEALTH_DEADLINE_S):
            raw = await _get(host, endpoint.port)
    except TimeoutError:
        return LocalHealth(address, problem="not_answering", detail=_no_answer())
    except OSError as err:
        reason = os.strerror(err.errno) if err.errno else str(err)
        return LocalHealth(address, problem="not_answering", detail=reason)
    if raw is None:
        return LocalHealth(
            address, problem="health_too_large", detail=f"over {MAX_HEALTH_BYTES // 1024} KiB"
        )
    try:
        status, body = _status_and_body(raw)
        if status not in {200, 503}:
            return LocalHealth(address, problem="health_unreadable", detail=f"HTTP {status}")
        checks = _checks(body)
    except _UnreadableError as err:
        return LocalHealth(address, problem="health_unreadable", detail=str(err))
    return LocalHealth(address, tuple(checks[:MAX_CHECKS]), hidden=max(0, len(checks) - MAX_CHECKS))


def _no_answer() -> str:
    return f"no answer within {HEALTH_DEADLINE_S:g} s"


async def _get(host: str, port: int) -> bytes | None:
    """The whole answer to GET /healthz, or None when it is over MAX_HEALTH_BYTES."""
    try:
        async with asyncio.timeout(HEALTH_CONNECT_S):
            reader, writer = await asyncio.open_connection(host, port)
    except TimeoutError as err:
        raise OSError(f"no connection within {HEALTH_CONNECT_S:g} s") from err
    try:
        name = f"[{host}]" if ":" in host else host
        writer.write(
            f"GET /healthz HTTP/1.1\r\nHost: {name}:{port}\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        data = bytearray()
        while chunk := await reader.read(MAX_HEALTH_BYTES + 1 - len(data)):
            data += chunk
            if len(data) > MAX_HEALTH_BYTES:
                return None
        return bytes(data)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _status_and_body(raw: bytes) -> tuple[int, bytes]:
    head, sep, body = raw.partition(b"\r\n\r\n")
    parts = head.split(b"\r\n", 1)[0].split(b" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise _UnreadableError("not an HTTP answer")
    code = parts[1]
    if not (len(code) == 3 and code.isdigit()):
        raise _UnreadableError("not an HTTP answer")
    return int(code), body


def _checks(body: bytes) -> list[HealthCheck]:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise _UnreadableError("not JSON") from err
    checks = document.get("checks") if isinstance(document, dict) else None
    if not isinstance(checks, dict) or not checks:
        raise _UnreadableError("no checks in the answer")
    return [_check(name, value) for name, value in checks.items()]


def _check(name: str, value: Any) -> HealthCheck:  # noqa: ANN401 - parsed JSON, checked here
    if not isinstance(value, dict):
        raise _UnreadableError("a check is not an object")
    ok, detail = value.get("ok"), value.get("detail")
    if not isinstance(ok, bool) or not isinstance(detail, str):
        raise _UnreadableError("a check has no ok and detail")
    return HealthCheck(_text(name), ok, _text(detail))


def _text(value: str) -> str:
    cut = value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"
    return shown(cut)


def elapsed(seconds: float) -> tuple[int, str]:
    """A duration as a whole number and its unit (`s`, `min`, `h`, `d`), rounded down."""
    whole = int(max(0.0, seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if whole >= size * (2 if unit != "min" else 1):
            return whole // size, unit
    return whole, "s"
