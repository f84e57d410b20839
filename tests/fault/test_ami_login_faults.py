"""Refused and stalled AMI logins: clear errors, an unhealthy service, and no secret in logs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import structlog
from gatekeeper.ami.client import AmiClient
from gatekeeper.ami.service import AmiService
from gatekeeper.ami.settings import AmiSettings, BypassAction
from gatekeeper.ami.watchdog import Watchdog
from gatekeeper.common.errors import AmiError
from gatekeeper.serve.health import HealthServer
from gatekeeper.serve.metrics import Metrics
from tools.asterisk_sandbox import DEFAULT_ROOT, READY_MARK, AsteriskSandbox, free_port

from ami_support import EVENT_WAIT_S, MemoryLog

pytestmark = [pytest.mark.asyncio]

WRONG_SECRET = "wrong-secret-4f1c9a"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AsteriskSandbox]:
    """One real Asterisk for the module."""
    if not (DEFAULT_ROOT / READY_MARK).exists():
        pytest.fail("the Asterisk sandbox is not installed: run `make asterisk`")
    with AsteriskSandbox(agi_port=free_port()) as running:
        yield running


@pytest_asyncio.fixture
async def silent_peer() -> AsyncIterator[int]:
    """A TCP peer that accepts, sends the AMI banner, and then never answers anything."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


def _service(sandbox: AsteriskSandbox, secret_file: Path, metrics: Metrics) -> AmiService:
    settings = AmiSettings(
        host="127.0.0.1",
        port=sandbox.ami_port,
        username=sandbox.ami_username,
        secret_file=secret_file,
        gated_contexts=("gatekeeper-example-trunk",),
    )
    memory = MemoryLog()
    watchdog = Watchdog(
        gated_contexts=settings.gated_contexts,
        on_bypass=BypassAction.HANGUP,
        bypass_recorder=memory,
        outcome_recorder=memory,
    )
    return AmiService(settings, watchdog, metrics)


async def _until_refused(service: AmiService) -> None:
    async with asyncio.timeout(EVENT_WAIT_S):
        while "authentication refused" not in service.last_error:
            await service.changed()


async def _healthz(port: int) -> tuple[bytes, dict[str, object]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\n\r\n")
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], json.loads(body)


@pytest.mark.asterisk
async def test_wrong_secret_makes_the_service_unhealthy(
    sandbox: AsteriskSandbox, tmp_path: Path
) -> None:
    """With a wrong secret in the file, /healthz answers 503 and says authentication failed."""
    secret_file = tmp_path / "ami.secret"
    secret_file.write_text(WRONG_SECRET + "\n", encoding="utf-8")
    metrics = Metrics()
    service = _service(sandbox, secret_file, metrics)
    server = HealthServer({"ami": service.health}, metrics, "127.0.0.1", 0)
    await server.start()
    running = asyncio.create_task(service.run())
    try:
        await _until_refused(service)
        status_line, document = await _healthz(server.port)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await server.close()
    checks = document["checks"]
    assert isinstance(checks, dict)
    assert (status_line, document["status"], checks["ami"]["ok"]) == (
        b"HTTP/1.1 503 Service Unavailable",
        "unhealthy",
        False,
    )
    assert "authentication refused for user 'gatekeeper'" in checks["ami"]["detail"]


@pytest.mark.asterisk
async def test_right_secret_makes_the_service_healthy(
    sandbox: AsteriskSandbox, tmp_path: Path
) -> None:
    """With the right secret, the AMI check passes once the watchdog runs."""
    secret_file = tmp_path / "ami.secret"
    secret_file.write_text(sandbox.ami_secret + "\n", encoding="utf-8")
    service = _service(sandbox, secret_file, Metrics())
    running = asyncio.create_task(service.run())
    try:
        async with asyncio.timeout(EVENT_WAIT_S):
            while not service.health()[0]:
                await service.changed()
        ok, detail = service.health()
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert (ok, "logged in to" in detail) == (True, True)


@pytest.mark.asterisk
async def test_secret_never_reaches_the_logs(sandbox: AsteriskSandbox, tmp_path: Path) -> None:
    """Refused logins and retries log the user and the reason, never the secret."""
    secret_file = tmp_path / "ami.secret"
    secret_file.write_text(WRONG_SECRET + "\n", encoding="utf-8")
    service = _service(sandbox, secret_file, Metrics())
    with structlog.testing.capture_logs() as logged:
        running = asyncio.create_task(service.run())
        try:
            await _until_refused(service)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    assert logged
    assert all(WRONG_SECRET not in repr(entry) for entry in logged)


async def test_silent_peer_gives_a_login_timeout(silent_peer: int) -> None:
    """A peer that accepts and never answers the login: AmiError naming the deadline."""
    with pytest.raises(AmiError, match=r"login for user 'gatekeeper' failed: .*no reply within"):
        await AmiClient.connect("127.0.0.1", silent_peer, "gatekeeper", "x", timeout=0.2)
