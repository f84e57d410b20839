"""The health and metrics endpoint over a real loopback socket."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Mapping

import pytest
import pytest_asyncio
from gatekeeper.serve import health
from gatekeeper.serve.health import Check, CheckResult, HealthError, HealthServer
from gatekeeper.serve.metrics import Metrics

pytestmark = pytest.mark.asyncio


def _ok() -> CheckResult:
    return True, "fine"


def _down() -> CheckResult:
    return False, "AMI at 127.0.0.1:5038: authentication refused for user 'gatekeeper'"


def _broken() -> CheckResult:
    raise RuntimeError("disk on fire")


async def _stalled() -> CheckResult:
    await asyncio.Event().wait()
    return True, "never"


async def _serve(
    checks: Mapping[str, Check], metrics: Metrics | None = None, deadline_s: float = 2.0
) -> HealthServer:
    server = HealthServer(checks, metrics or Metrics(), "127.0.0.1", 0, check_deadline_s=deadline_s)
    await server.start()
    return server


async def _get(port: int, request: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        response = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    if not response:
        return 0, b""
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def _request(path: str, method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()


@pytest_asyncio.fixture
async def healthy() -> AsyncIterator[HealthServer]:
    """An endpoint whose checks all pass."""
    server = await _serve({"agi": _ok, "ami": _ok})
    yield server
    await server.close()


async def test_all_checks_passing_answers_200_with_each_check(healthy: HealthServer) -> None:
    """Every check passing: 200 and a JSON document listing each check."""
    status, body = await _get(healthy.port, _request("/healthz"))
    document = json.loads(body)
    assert (status, document["status"], sorted(document["checks"])) == (200, "ok", ["agi", "ami"])


@pytest.mark.parametrize(
    ("check", "detail"),
    [
        (_down, "authentication refused for user 'gatekeeper'"),
        (_broken, "check failed: RuntimeError: disk on fire"),
    ],
)
async def test_one_failing_check_answers_503_with_its_detail(check: Check, detail: str) -> None:
    """A check that fails or raises makes the whole answer 503, saying why."""
    server = await _serve({"agi": _ok, "ami": check})
    try:
        status, body = await _get(server.port, _request("/healthz"))
    finally:
        await server.close()
    document = json.loads(body)
    assert (status, document["status"], document["checks"]["ami"]["ok"]) == (
        503,
        "unhealthy",
        False,
    )
    assert detail in document["checks"]["ami"]["detail"]


async def test_stalled_check_fails_instead_of_hanging() -> None:
    """A check that never answers is reported as failed after its deadline."""
    server = await _serve({"log": _stalled}, deadline_s=0.05)
    try:
        status, body = await _get(server.port, _request("/healthz"))
    finally:
        await server.close()
    assert (status, "no answer within" in json.loads(body)["checks"]["log"]["detail"]) == (
        503,
        True,
    )


async def test_metrics_are_served_in_prometheus_text_format() -> None:
    """/metrics answers the registry's exposition."""
    metrics = Metrics()
    metrics.count_bypass()
    server = await _serve({}, metrics)
    try:
        status, body = await _get(server.port, _request("/metrics"))
    finally:
        await server.close()
    assert (status, b"gatekeeper_bypasses_total 1.0" in body) == (200, True)


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (_request("/nothing"), 404),
        (_request("/healthz", "POST"), 405),
        (_request("/healthz?verbose=1"), 200),
    ],
)
async def test_other_requests(healthy: HealthServer, request_bytes: bytes, expected: int) -> None:
    """Unknown paths are 404, other methods 405, a query string is ignored."""
    status, _ = await _get(healthy.port, request_bytes)
    assert status == expected


async def test_oversized_request_head_is_dropped(healthy: HealthServer) -> None:
    """A request head beyond the size cap gets no answer, only a closed connection."""
    huge = b"GET /healthz HTTP/1.1\r\nX-Pad: " + b"a" * health.HEAD_LIMIT_BYTES * 2 + b"\r\n\r\n"
    assert await _get(healthy.port, huge) == (0, b"")


async def test_busy_port_is_a_clear_error() -> None:
    """A port already taken raises HealthError naming health.listen and the address."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HealthServer({}, Metrics(), "127.0.0.1", port)
        with pytest.raises(HealthError, match=f"health.listen 127.0.0.1:{port}: cannot listen"):
            await server.start()
