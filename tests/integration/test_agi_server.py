"""The FastAGI server over real loopback sockets, driven by a small Asterisk-like client."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest
import structlog
from gatekeeper.agi.server import AgiLimits, AgiRequest, AgiServer
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from agi_support import CHECK_SCRIPT, SAFETY_NET, place_call, recorded_environment, running


def environment(**variables: str) -> bytes:
    """A small environment block asking for the check script, with the given variables."""
    variables = {"agi_network_script": CHECK_SCRIPT, **variables}
    return b"".join(f"{k}: {v}\n".encode() for k, v in variables.items()) + b"\n"


def set_variables(variables: Mapping[str, str]) -> list[bytes]:
    """The SET VARIABLE lines the server must send for `variables`."""
    return [f'SET VARIABLE "{k}" "{v}"\n'.encode() for k, v in variables.items()]


ALLOW = {"GK_DECISION": "ALLOW", "GK_REASON": "not_listed", "GK_DECISION_ID": "17"}


class Recorder:
    """A handler that remembers its requests and answers ALLOW with the dialled number."""

    def __init__(self) -> None:
        self.requests: list[AgiRequest] = []

    async def __call__(self, request: AgiRequest) -> Mapping[str, str]:
        """Record the request and allow the call."""
        self.requests.append(request)
        number = request.arguments[0] if request.arguments else ""
        return {**ALLOW, "GK_NUMBER": number}


@pytest.mark.asyncio
async def test_honest_call_gets_its_variables_in_order() -> None:
    """A recorded Asterisk environment is answered with one SET VARIABLE per item, in order."""
    recorder = Recorder()
    async with running(recorder) as server:
        commands = await place_call(server.port, recorded_environment())
    assert commands == set_variables({**ALLOW, "GK_NUMBER": "0470123456"})


@pytest.mark.asyncio
async def test_request_carries_the_environment() -> None:
    """The handler sees script, arguments, channel ids and caller of the recorded call."""
    recorder = Recorder()
    async with running(recorder) as server:
        await place_call(server.port, recorded_environment())
    [request] = recorder.requests
    assert (request.script, request.arguments) == ("check", ("0470123456", "spring-promo"))
    assert request.channel == "Local/0470123456@campaign-spring-promo-00000029;2"
    assert (request.uniqueid, request.callerid) == ("1732370000.41", "3225551234")
    assert request.environment["agi_calleridname"] == "Fran\ufffdoise Dupr\ufffd"
    assert request.peer.startswith("127.0.0.1:")


@pytest.mark.asyncio
async def test_missing_variables_read_as_empty() -> None:
    """An environment without the usual variables still reaches the handler, with blanks."""
    recorder = Recorder()
    async with running(recorder) as server:
        await place_call(server.port, environment(agi_network="yes"))
    [request] = recorder.requests
    assert (request.channel, request.uniqueid, request.linkedid, request.callerid) == ("",) * 4


@pytest.mark.asyncio
async def test_hangup_notice_before_each_reply_is_tolerated() -> None:
    """An unsolicited HANGUP before every reply does not stop the remaining commands."""
    async with running(Recorder()) as server:
        commands = await place_call(server.port, recorded_environment(), before_reply=b"HANGUP\n")
    assert len(commands) == 4


@pytest.mark.asyncio
async def test_refused_command_stops_the_answer() -> None:
    """A 511 reply (dead channel) is logged and nothing more is sent: GK_DECISION stays unset."""
    async with running(Recorder()) as server:
        with capture_logs() as logs:
            commands = await place_call(
                server.port,
                recorded_environment(),
                reply=b"511 Command Not Permitted on a dead channel or intercept routine\n",
            )
    assert len(commands) == 1
    assert [e["outcome"] for e in logs if e["event"] == "agi_call"] == ["command_failed"]


@pytest.mark.asyncio
async def test_peer_closing_after_first_command_ends_the_call() -> None:
    """When Asterisk closes mid-answer the server stops sending and logs peer_closed."""
    async with running(Recorder()) as server:
        with capture_logs() as logs:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(recorded_environment())
            first = await reader.readline()
            writer.close()
            await writer.wait_closed()
            await server.close()
    assert first == b'SET VARIABLE "GK_DECISION" "ALLOW"\n'
    assert [e["outcome"] for e in logs if e["event"] == "agi_call"] == ["peer_closed"]


@pytest.mark.asyncio
async def test_canonical_log_line_carries_call_context() -> None:
    """Each call logs one agi_call line bound to its channel and uniqueid."""
    async with running(Recorder()) as server:
        with capture_logs(processors=[merge_contextvars]) as logs:
            await place_call(server.port, recorded_environment())
            await server.close()
    [line] = [e for e in logs if e["event"] == "agi_call"]
    assert line["channel"] == "Local/0470123456@campaign-spring-promo-00000029;2"
    assert line["uniqueid"] == "1732370000.41"
    assert (line["outcome"], line["script"]) == ("answered", "check")
    assert structlog.contextvars.get_contextvars() == {}


@pytest.mark.asyncio
async def test_two_hundred_concurrent_calls_all_answered() -> None:
    """200 calls held open at once are all in the handler together, then all answered."""
    calls = 200
    all_in = asyncio.Event()
    entered = 0

    async def barrier(request: AgiRequest) -> Mapping[str, str]:
        nonlocal entered
        entered += 1
        if entered == calls:
            all_in.set()
        await all_in.wait()
        return {"GK_DECISION": "ALLOW", "GK_NUMBER": request.arguments[0]}

    async with running(barrier) as server:
        results = await asyncio.gather(
            *(place_call(server.port, environment(agi_arg_1=f"04701{n:05d}")) for n in range(calls))
        )
    assert results == [
        set_variables({"GK_DECISION": "ALLOW", "GK_NUMBER": f"04701{n:05d}"}) for n in range(calls)
    ]


@pytest.mark.asyncio
async def test_close_lets_in_flight_calls_finish() -> None:
    """close() waits for a call already in the handler and that call gets its answer."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(request: AgiRequest) -> Mapping[str, str]:
        entered.set()
        await release.wait()
        return ALLOW

    async with running(slow) as server:
        call = asyncio.create_task(place_call(server.port, recorded_environment()))
        await entered.wait()
        closing = asyncio.create_task(server.close())
        await asyncio.sleep(0)
        assert not closing.done()
        release.set()
        await closing
        assert await call == set_variables(ALLOW)


@pytest.mark.asyncio
async def test_closed_server_refuses_new_calls() -> None:
    """After close() starts, new connections get no answer."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(request: AgiRequest) -> Mapping[str, str]:
        entered.set()
        await release.wait()
        return ALLOW

    async with running(slow) as server:
        port = server.port
        first = asyncio.create_task(place_call(port, recorded_environment()))
        await entered.wait()
        closing = asyncio.create_task(server.close())
        await asyncio.sleep(0)
        try:
            late = await place_call(port, recorded_environment())
        except ConnectionRefusedError:
            late = []
        assert late == []
        release.set()
        await closing
        await first


@pytest.mark.asyncio
async def test_close_cancels_calls_past_the_grace_period() -> None:
    """A call still stuck when the grace period ends is cut off without an answer."""
    entered = asyncio.Event()

    async def stuck(request: AgiRequest) -> Mapping[str, str]:
        entered.set()
        await asyncio.Event().wait()
        return ALLOW

    limits = AgiLimits(shutdown_grace=0, handler_timeout=SAFETY_NET * 2)
    async with running(stuck, limits) as server:
        call = asyncio.create_task(place_call(server.port, recorded_environment()))
        await entered.wait()
        with capture_logs() as logs:
            await server.close()
        assert await call == []
    assert any(e["event"] == "agi_calls_cancelled_at_shutdown" for e in logs)


@pytest.mark.asyncio
async def test_port_before_start_is_an_error() -> None:
    """Reading the port of a server that is not listening is a caller bug."""
    server = AgiServer({CHECK_SCRIPT: Recorder()}, "127.0.0.1", 0)
    with pytest.raises(RuntimeError, match="before start"):
        _ = server.port


@pytest.mark.asyncio
async def test_start_twice_is_an_error() -> None:
    """Starting a running server again is a caller bug, not a second listener."""
    async with running(Recorder()) as server:
        with pytest.raises(RuntimeError, match="twice"):
            await server.start()


@pytest.mark.asyncio
async def test_close_without_start_is_harmless() -> None:
    """close() on a server that never started does nothing."""
    await AgiServer({CHECK_SCRIPT: Recorder()}, "127.0.0.1", 0).close()


@pytest.mark.parametrize(
    "limits",
    [
        {"header_timeout": 0},
        {"handler_timeout": -1},
        {"reply_timeout": 0},
        {"close_timeout": 0},
        {"shutdown_grace": -1},
        {"max_header_bytes": 0},
        {"max_concurrent_connections": 0},
    ],
)
def test_limits_refuse_nonsense(limits: dict[str, float]) -> None:
    """Limits that would disable a deadline or a cap are refused."""
    with pytest.raises(ValueError, match="AgiLimits"):
        AgiLimits(**limits)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_default_answer_is_one_mset() -> None:
    """By default a plain answer goes out as one EXEC MSet, and success is result=0."""
    server = AgiServer({CHECK_SCRIPT: Recorder()}, "127.0.0.1", 0)
    async with asyncio.timeout(SAFETY_NET), server:
        with capture_logs() as logs:
            commands = await place_call(
                server.port, recorded_environment(), reply=b"200 result=0\n"
            )
            await server.close()
    expected = (
        b'EXEC "MSet" "GK_DECISION=ALLOW,GK_REASON=not_listed,GK_DECISION_ID=17,'
        b'GK_NUMBER=0470123456"\n'
    )
    assert commands == [expected]
    assert [e["outcome"] for e in logs if e["event"] == "agi_call"] == ["answered"]
