"""`gatekeeper serve` refuses to start, with the key to fix, when it cannot do its job."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from tools.asterisk_sandbox import free_port
from tools.gatekeeper_run import GATEKEEPER, START_TIMEOUT_S, wait_for_port, write_run_config

from agi_support import place_call, recorded_environment


def _serve(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GATEKEEPER), "-c", str(config), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_busy_agi_port_exits_1_naming_agi_listen(tmp_path: Path) -> None:
    """With the AGI port taken, serve exits 1 and says which setting to change."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_run_config(tmp_path, agi_port=port, ami_port=1, ami_secret="s")
        done = _serve(config)
    assert (done.returncode, f"agi.listen 127.0.0.1:{port}: cannot listen" in done.stderr) == (
        1,
        True,
    )


def test_missing_ami_secret_file_exits_2_naming_the_key(tmp_path: Path) -> None:
    """Without the AMI secret file, serve exits 2 (configuration) naming ami.secret_file."""
    config = write_run_config(tmp_path, agi_port=free_port(), ami_port=1, ami_secret="s")
    (tmp_path / "ami.secret").unlink()
    done = _serve(config)
    assert (done.returncode, "ami.secret_file" in done.stderr) == (2, True)


def test_unknown_event_loop_exits_2_naming_the_variable(tmp_path: Path) -> None:
    """GATEKEEPER_EVENT_LOOP other than uvloop or asyncio: exit 2 before anything starts."""
    config = write_run_config(tmp_path, agi_port=free_port(), ami_port=1, ami_secret="s")
    done = subprocess.run(
        [str(GATEKEEPER), "-c", str(config), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "GATEKEEPER_EVENT_LOOP": "trio"},
    )
    assert (done.returncode, "GATEKEEPER_EVENT_LOOP=trio" in done.stderr) == (2, True)


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_serve_answers_a_call_on_either_event_loop(tmp_path: Path, loop: str) -> None:
    """On either loop `serve` says which it runs and answers a FastAGI call with a decision."""
    agi_port = free_port()
    config = write_run_config(tmp_path, agi_port=agi_port, ami_port=free_port(), ami_secret="s")
    with (tmp_path / "serve.log").open("wb") as log:
        serve = subprocess.Popen(
            [str(GATEKEEPER), "-c", str(config), "serve"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "GATEKEEPER_EVENT_LOOP": loop, "PYTHONUNBUFFERED": "1"},
        )
    try:
        wait_for_port(agi_port, serve, START_TIMEOUT_S)
        commands = asyncio.run(place_call(agi_port, recorded_environment()))
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
    lines = [json.loads(line) for line in (tmp_path / "serve.log").read_text().splitlines()]
    chosen = [line["name"] for line in lines if line.get("event") == "event_loop"]
    assert (chosen, b"GK_DECISION=" in b"".join(commands)) == ([loop], True)
