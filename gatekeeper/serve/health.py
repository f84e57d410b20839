"""A small HTTP endpoint on loopback: `/healthz` (JSON, 200 or 503) and `/metrics` (Prometheus).

Theory of operation: one asyncio server answers one request per connection and closes it. The
request head is read with a size cap and a deadline, so a slow or hostile client costs one
socket for a few seconds at most. `/healthz` runs the injected checks (each returns `(ok,
detail)`, plainly or as an awaitable, within its own deadline; a check that raises or stalls
is a failed check, never a crashed endpoint) and answers 200 only when all pass; injected
sections (the AMI watch's role) add what they describe to the document, without judging it.
`/metrics` renders the registry. Nothing else is served.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import structlog

from gatekeeper.common import GatekeeperError
from gatekeeper.serve.metrics import EXPOSITION_CONTENT_TYPE, Metrics

HEAD_LIMIT_BYTES = 8192
REQUEST_DEADLINE_S = 5.0
CHECK_DEADLINE_S = 2.0

CheckResult = tuple[bool, str]
Check = Callable[[], CheckResult | Awaitable[CheckResult]]
Section = Callable[[], Mapping[str, object]]

log = structlog.get_logger("gatekeeper.serve.health")


class HealthError(GatekeeperError):
    """The health endpoint could not start."""


@dataclass(frozen=True, slots=True)
class Report:
    """The outcome of all checks."""

    healthy: bool
    checks: Mapping[str, CheckResult]
    sections: Mapping[str, Mapping[str, object]] = field(default_factory=dict)

    def body(self) -> bytes:
        """The JSON document `/healthz` answers with."""
        document: dict[str, object] = {
            **self.sections,
            "status": "ok" if self.healthy else "unhealthy",
            "checks": {
                name: {"ok": ok, "detail": detail} for name, (ok, detail) in self.checks.items()
            },
        }
        return json.dumps(document, sort_keys=True).encode() + b"\n"


async def _run_check(check: Check, deadline_s: float) -> CheckResult:
    try:
        async with asyncio.timeout(deadline_s):
            result = check()
            if inspect.isawaitable(result):
                result = await result
    except TimeoutError:
        return False, f"check gave no answer within {deadline_s:g} s"
    except Exception as err:  # noqa: BLE001 - a broken check is a failed check, reported as such
        return False, f"check failed: {type(err).__name__}: {err}"
    ok, detail = result
    return bool(ok), str(detail)


async def run_checks(checks: Mapping[str, Check], deadline_s: float = CHECK_DEADLINE_S) -> Report:
    """Run every check at once, each within `deadline_s`; healthy only if all pass."""
    names = list(checks)
    results = await asyncio.gather(*(_run_check(checks[name], deadline_s) for name in names))
    by_name = dict(zip(names, results, strict=True))
    return Report(healthy=all(ok for ok, _ in results), checks=by_name)


def _response(status: str, content_type: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class HealthServer:
    """Serves `/healthz` and `/metrics`; `start()`, then `close()`."""

    def __init__(  # noqa: PLR0913 - the checks, where to listen, and keyword-only knobs
        self,
        checks: Mapping[str, Check],
        metrics: Metrics,
        host: str,
        port: int,
        *,
        check_deadline_s: float = CHECK_DEADLINE_S,
        sections: Mapping[str, Section] | None = None,
    ) -> None:
        self._check_deadline_s = check_deadline_s
        self._sections = dict(sections or {})
        self._checks = dict(checks)
        self._metrics = metrics
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when asked for port 0)."""
        if self._server is None or not self._server.sockets:
            return self._port
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        """Bind and start serving; raises HealthError naming the address if that fails."""
        try:
            self._server = await asyncio.start_server(
                self._serve, self._host, self._port, limit=HEAD_LIMIT_BYTES
            )
        except OSError as err:
            where = f"{self._host}:{self._port}"
            raise HealthError(f"health.listen {where}: cannot listen: {err.strerror}") from err
        log.info("health_listening", host=self._host, port=self.port)

    async def close(self) -> None:
        """Stop serving and wait for the listener to close."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(REQUEST_DEADLINE_S):
                head = await reader.readuntil(b"\r\n\r\n")
                writer.write(await self._answer(head))
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            log.info("health_request_dropped", reason="incomplete, oversized or too slow")
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, head: bytes) -> bytes:
        method, _, rest = head.partition(b" ")
        target = rest.partition(b" ")[0].partition(b"?")[0]
        if method != b"GET":
            return _response("405 Method Not Allowed", "text/plain", b"GET only\n")
        if target == b"/healthz":
            report = await run_checks(self._checks, self._check_deadline_s)
            sections = {name: section() for name, section in self._sections.items()}
            report = Report(report.healthy, report.checks, sections)
            status = "200 OK" if report.healthy else "503 Service Unavailable"
            return _response(status, "application/json", report.body())
        if target == b"/metrics":
            return _response("200 OK", EXPOSITION_CONTENT_TYPE, self._metrics.exposition())
        return _response("404 Not Found", "text/plain", b"try /healthz or /metrics\n")
