"""Who may ask the FastAGI server: real sockets owned by real users, on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import pwd
import socket
import sqlite3
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from gatekeeper.agi import peer_uid
from gatekeeper.agi.peer_uid import ProcNetTcp, SockDiag
from gatekeeper.agi.peers import PeerRules, default_uids
from gatekeeper.agi.server import AgiRequest, AgiServer
from gatekeeper.ami.settings import BypassAction
from gatekeeper.ami.watchdog import Watchdog
from gatekeeper.config import LiveSettings
from gatekeeper.serve.app import agi_handler, agi_server, open_services
from gatekeeper.serve.metrics import Metrics
from structlog.testing import capture_logs
from tools.asterisk_sandbox import free_port
from tools.gatekeeper_run import write_run_config

from agi_support import CHECK_SCRIPT, SAFETY_NET, call_as, recorded_environment

OTHER_USER = "nobody"
ALLOW = {"GK_DECISION": "ALLOW", "GK_REASON": "not_listed"}


class Recorder:
    """A handler that allows every call and keeps each request."""

    def __init__(self) -> None:
        self.requests: list[AgiRequest] = []

    async def __call__(self, request: AgiRequest) -> Mapping[str, str]:
        """Record the request and allow the call."""
        self.requests.append(request)
        return ALLOW


async def _serve_one_call_as(
    user: str, peers: PeerRules | None
) -> tuple[bytes, Recorder, list[MutableMapping[str, Any]]]:
    recorder = Recorder()
    server = AgiServer({CHECK_SCRIPT: recorder}, "127.0.0.1", 0, batch_variables=False, peers=peers)
    async with asyncio.timeout(SAFETY_NET), server:
        with capture_logs() as logs:
            sent = await asyncio.to_thread(call_as, user, server.port, recorded_environment())
    return sent, recorder, logs


@pytest.mark.asyncio
async def test_request_from_another_local_user_is_refused_unanswered() -> None:
    """By default a request from a socket owned by `nobody` gets no answer and no handler runs."""
    sent, recorder, logs = await _serve_one_call_as(OTHER_USER, None)
    assert (sent, recorder.requests) == (b"", [])
    [refused] = [e for e in logs if e["event"] == "agi_connection_refused"]
    assert (refused["reason"], refused["uid"]) == (
        "user_not_allowed",
        pwd.getpwnam(OTHER_USER).pw_uid,
    )


@pytest.mark.asyncio
async def test_request_from_an_allowed_user_is_answered() -> None:
    """A request from a socket owned by a user in the allowed uids is answered."""
    allowed = PeerRules(allowed_uids=frozenset({pwd.getpwnam(OTHER_USER).pw_uid}))
    sent, recorder, _ = await _serve_one_call_as(OTHER_USER, allowed)
    assert sent.count(b"SET VARIABLE") == len(ALLOW)
    assert len(recorder.requests) == 1


@pytest.mark.asyncio
async def test_request_from_the_service_user_is_answered_by_default() -> None:
    """The default rules admit the user the service runs as (here root)."""
    sent, recorder, _ = await _serve_one_call_as("root", None)
    assert (sent.count(b"SET VARIABLE"), len(recorder.requests)) == (len(ALLOW), 1)


def test_default_users_are_root_and_the_service_user() -> None:
    """The default allowed uids hold root and the uid the service runs as."""
    assert {0} <= default_uids()


@pytest.fixture(params=["127.0.0.1", "::1", "v4-mapped"])
def loopback_pair(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[tuple[str, int], tuple[str, int]]]:
    """A connected loopback pair: (the client's end, the server's end) as the server sees them."""
    family, host = (
        (socket.AF_INET, "127.0.0.1")
        if request.param == "127.0.0.1"
        else (
            socket.AF_INET6,
            "::1" if request.param == "::1" else "::",
        )
    )
    with socket.socket(family) as listener:
        listener.bind((host, 0))
        listener.listen()
        target = "127.0.0.1" if request.param == "v4-mapped" else host
        with socket.create_connection((target, listener.getsockname()[1])) as client:
            accepted, peer = listener.accept()
            with accepted:
                yield peer[:2], accepted.getsockname()[:2]
            assert client


@pytest.mark.parametrize("lookup", [SockDiag, ProcNetTcp])
def test_lookups_find_the_owner_of_a_loopback_socket(
    lookup: type[SockDiag | ProcNetTcp], loopback_pair: tuple[tuple[str, int], tuple[str, int]]
) -> None:
    """Both uid lookups name the owner of the peer's socket (IPv4, IPv6, v4-mapped)."""
    peer, ours = loopback_pair
    finder = lookup()
    try:
        assert finder.uid(peer, ours) == 0
        assert finder.uid((peer[0], 1), ours) is None
    finally:
        finder.close()


def _decisions(live: LiveSettings) -> int:
    path = live.current().data_dir / "audit" / "decisions.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as db:
        (count,) = db.execute("SELECT count(*) FROM chain WHERE type = 'decision'").fetchone()
    return int(count)


@pytest.mark.asyncio
async def test_refused_user_gets_no_decision_recorded(tmp_path: Path) -> None:
    """Through serve's wiring, `nobody` gets no answer and no decision; root gets both."""
    live = LiveSettings(
        write_run_config(tmp_path, agi_port=free_port(), ami_port=1, ami_secret="s")
    )
    metrics = Metrics()
    async with open_services(live) as services:
        watchdog = Watchdog(
            gated_contexts=(),
            on_bypass=BypassAction.ALERT,
            bypass_recorder=services.decision_log,
            outcome_recorder=services.decision_log,
        )
        handler = agi_handler(services.checker, watchdog, metrics)
        async with (
            asyncio.timeout(SAFETY_NET),
            agi_server(live.current().agi, handler, metrics) as server,
        ):
            refused = await asyncio.to_thread(
                call_as, OTHER_USER, server.port, recorded_environment()
            )
            refused_decisions = _decisions(live)
            answered = await asyncio.to_thread(call_as, "root", server.port, recorded_environment())
    assert (refused, refused_decisions) == (b"", 0)
    assert (b"GK_DECISION=BLOCK" in answered, _decisions(live)) == (True, 1)


def test_lookup_falls_back_to_proc_net_without_netlink(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where netlink sockets are forbidden, the /proc/net/tcp lookup is used."""
    monkeypatch.setattr(peer_uid, "SockDiag", _forbidden_netlink)
    lookup = peer_uid.open_lookup()
    assert isinstance(lookup, ProcNetTcp)


def test_lookup_refuses_naming_both_ways_when_neither_works(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With netlink forbidden and no /proc/net/tcp, the lookup refuses to start, saying why."""
    monkeypatch.setattr(peer_uid, "SockDiag", _forbidden_netlink)
    with pytest.raises(peer_uid.PeerUidError, match=r"netlink sock_diag: .*; /proc/net/tcp: "):
        peer_uid.open_lookup(tmp_path)


def _forbidden_netlink() -> SockDiag:
    """What a sandbox without AF_NETLINK answers."""
    raise PermissionError(1, "Operation not permitted")
