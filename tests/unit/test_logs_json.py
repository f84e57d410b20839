"""Journal lines (JSON): the same text structlog's own time stamp and JSON renderer give."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
import structlog
from gatekeeper.common.logs import CallLogger, configure_logging
from structlog.testing import capture_logs


@pytest.mark.parametrize(
    "moment",
    [
        1_764_590_400.0,  # a whole second: no fraction is written
        1_764_590_400.123456,
        1_764_590_400.9999996,  # rounds up into the next second
        1_764_590_399.0000004,  # rounds down to a whole second
        0.5,
    ],
)
def test_timestamp_is_the_iso_text_of_the_moment(
    moment: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The `timestamp` field is the moment in ISO 8601 UTC as `datetime` renders it, with Z."""
    monkeypatch.setattr("time.time", lambda: moment)
    stream = io.StringIO()
    configure_logging(stream=stream)
    structlog.get_logger().info("tick")
    expected = datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")
    assert json.loads(stream.getvalue())["timestamp"] == expected


def test_line_is_sorted_json_with_repr_for_other_values() -> None:
    """A line is one JSON object, keys sorted; a value JSON cannot carry is written as its repr."""
    stream = io.StringIO()
    configure_logging(stream=stream)
    structlog.get_logger().info(
        "decision", zeta=1, alpha=["a"], when=datetime(2026, 1, 2, tzinfo=UTC)
    )
    line = stream.getvalue().rstrip("\n")
    fields = json.loads(line)
    assert (list(fields), fields["when"], "\n" in line) == (
        sorted(fields),
        repr(datetime(2026, 1, 2, tzinfo=UTC)),
        False,
    )


def test_call_logger_follows_each_new_configuration() -> None:
    """A call logger writes where the configuration in force says, however often it changes."""
    call_log = CallLogger("gatekeeper.test")
    first, second = io.StringIO(), io.StringIO()
    configure_logging(stream=first)
    call_log.get().info("one")
    configure_logging(stream=second)
    call_log.get().info("two")
    with capture_logs() as captured:
        call_log.get().info("three")
    call_log.get().info("four")
    written = [
        [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
        for stream in (first, second)
    ]
    assert (written, [entry["event"] for entry in captured]) == (
        [["one"], ["two", "four"]],
        ["three"],
    )
