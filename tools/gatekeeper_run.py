"""A gatekeeper with its Asterisk, started from the example config for the demo and the tests.

Theory of operation: the example configuration in `config/` is copied into a run folder with
its data folder, AGI port and AMI credentials pointed at this run, the bundled sample list is
imported (dated today), and `gatekeeper serve` runs as a child process beside an Asterisk
sandbox whose dialplan sends every gated call to it. Everything started here is stopped on exit.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml
from gatekeeper.common.clock import today
from pyroute2 import netns

from tools.asterisk_sandbox import REPO, AsteriskSandbox, free_port

EXAMPLE_CONFIG = REPO / "config" / "gatekeeper.yaml"
SAMPLE_LIST = REPO / "config" / "sample-dncm.txt"
GATEKEEPER = Path(sys.executable).parent / "gatekeeper"
START_TIMEOUT_S = 20.0


def write_run_config(  # noqa: PLR0913 - keyword-only knobs of one test fixture
    run_dir: Path,
    *,
    agi_port: int,
    ami_port: int,
    ami_secret: str,
    customise: Callable[[dict[str, Any]], None] | None = None,
    health_port: int | None = None,
    agi_host: str = "127.0.0.1",
    ami_username: str | None = None,
) -> Path:
    """The example config, pointed at this run's data folder, ports and AMI secret."""
    run_dir.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    secret_file = run_dir / "ami.secret"
    secret_file.write_text(ami_secret + "\n", encoding="utf-8")
    secret_file.chmod(0o600)
    config["data_dir"] = "data"
    config["agi"] = {"listen": f"{agi_host}:{agi_port}"}
    config["health"] = {"listen": f"127.0.0.1:{health_port or free_port()}"}
    config["ami"] = {
        **config.get("ami", {}),
        "host": "127.0.0.1",
        "port": ami_port,
        "secret_file": "ami.secret",
    }
    if ami_username is not None:
        config["ami"]["username"] = ami_username
    config.setdefault("dncm", {})["source"] = {"file": str(SAMPLE_LIST)}
    if customise is not None:
        customise(config)
    path = run_dir / "gatekeeper.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def gatekeeper(config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one gatekeeper command against a config; stdout and stderr are captured."""
    return subprocess.run(
        [str(GATEKEEPER), "-c", str(config), *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], timeout: float, host: str = "127.0.0.1"
) -> None:
    """Wait until something listens on the loopback port, or the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gatekeeper serve exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


@dataclass
class GatekeeperRun:
    """`gatekeeper serve` on the example config with a real Asterisk in front of it."""

    run_dir: Path
    import_list: bool = True
    customise: Callable[[dict[str, Any]], None] | None = None
    extra_dialplan: str = ""
    extra_modules: tuple[str, ...] = ()
    extra_configs: Mapping[str, str] = field(default_factory=dict)
    agi_host: str = "127.0.0.1"
    serve_netns: str | None = None
    serve_prefix: tuple[str, ...] = ()
    """Words run before `gatekeeper serve`, such as tools/unit_seccomp.py and a unit."""
    agi_port: int = field(default_factory=free_port)
    health_port: int = field(default_factory=free_port)
    sandbox: AsteriskSandbox = field(init=False)
    config: Path = field(init=False)
    serve: subprocess.Popen[bytes] | None = None
    sync_summary: str = ""

    def __post_init__(self) -> None:
        self.sandbox = AsteriskSandbox(
            agi_port=self.agi_port,
            agi_host=self.agi_host,
            extra_dialplan=self.extra_dialplan,
            extra_modules=self.extra_modules,
            extra_configs=self.extra_configs,
        )
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self.config = write_run_config(
            self.run_dir,
            agi_port=self.agi_port,
            ami_port=self.sandbox.ami_port,
            ami_secret=self.sandbox.service_secret,
            ami_username=self.sandbox.service_username,
            customise=self.customise,
            health_port=self.health_port,
            agi_host=self.agi_host,
        )

    def start(self) -> None:
        """Import the sample list, start Asterisk, start the gatekeeper."""
        if self.import_list:
            done = gatekeeper(self.config, "sync", "--list-date", today().isoformat())
            self.sync_summary = done.stdout.strip()
        self.sandbox.start()
        self.start_gatekeeper()

    def start_gatekeeper(self) -> None:
        """Start `gatekeeper serve` and wait until it answers on its AGI port."""
        log = (self.run_dir / "serve.log").open("ab")
        self.serve = subprocess.Popen(
            [*self.serve_prefix, str(GATEKEEPER), "-c", str(self.config), "serve"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=self._enter_netns if self.serve_netns else None,  # noqa: PLW1509 - tests only
        )
        log.close()
        wait_for_port(self.agi_port, self.serve, START_TIMEOUT_S, self.agi_host)

    def _enter_netns(self) -> None:
        """In the child, before exec: move into the network namespace the test made."""
        assert self.serve_netns is not None
        netns.setns(self.serve_netns)

    def stop_gatekeeper(self) -> None:
        """Stop `gatekeeper serve` with SIGTERM, as systemd does."""
        process = self.serve
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self) -> None:
        """Stop everything this run started."""
        try:
            self.stop_gatekeeper()
        finally:
            self.sandbox.stop()

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
