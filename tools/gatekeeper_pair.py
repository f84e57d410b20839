"""Two `gatekeeper serve` nodes for one Asterisk, found through one host name (fail-over tests).

Theory of operation: each node is the example configuration in a folder of its own (its own
data folder, list import, decision log and health port), listening on the same AGI port of its
own loopback address (127.0.0.1 and 127.0.0.2 by default). The Asterisk sandbox resolves one
host name to both addresses (its own hosts file, `AsteriskSandbox.hosts`), and its dialplan's
`GATEKEEPER_AGI` names that host, so res_agi tries the addresses in the order the resolver gives
and the first that accepts the connection decides the call. Each node also has a name of its
own (`node_host`), the targets a test's SRV records (tools/srv_responder.py) name for
`hagi://`. A node is stopped as systemd does
(SIGTERM), killed outright (SIGKILL: a crash, a power cut of the process), or frozen (SIGSTOP:
the kernel still accepts connections for it, nothing answers them). Everything started here is
stopped on exit.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from gatekeeper.common.clock import today

from tools.asterisk_sandbox import AsteriskSandbox, free_port
from tools.gatekeeper_run import (
    GATEKEEPER,
    START_TIMEOUT_S,
    gatekeeper,
    wait_for_port,
    write_run_config,
)

PAIR_HOST = "gatekeeper-pair.test"
"""The one name both nodes answer under (`.test` is reserved: it never reaches real DNS)."""
NODE_ADDRESSES = ("127.0.0.1", "127.0.0.2")


def node_host(number: int) -> str:
    """The name of node `number` (from 1) alone."""
    return f"node{number}.{PAIR_HOST}"


def free_port_on(*hosts: str) -> int:
    """A TCP port free on every one of `hosts` now."""
    while True:
        port = free_port()
        try:
            for host in hosts:
                with socket.socket() as probe:
                    probe.bind((host, port))
        except OSError:
            continue
        return port


def free_ports(count: int) -> list[int]:
    """`count` different loopback TCP ports, all free now (held open together while chosen)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


@dataclass
class ServeNode:
    """One `gatekeeper serve` on the example config, in its own folder, on host:port."""

    run_dir: Path
    agi_host: str
    agi_port: int
    ami_port: int
    ami_username: str
    ami_secret: str
    health_port: int
    customise: Callable[[dict[str, Any]], None] | None = None
    config: Path = field(init=False)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.config = write_run_config(
            self.run_dir,
            agi_port=self.agi_port,
            agi_host=self.agi_host,
            ami_port=self.ami_port,
            ami_secret=self.ami_secret,
            ami_username=self.ami_username,
            customise=self.customise,
            health_port=self.health_port,
        )
        gatekeeper(self.config, "sync", "--list-date", today().isoformat())

    def start(self) -> None:
        """Start `gatekeeper serve` and wait until it accepts on its AGI and health ports."""
        with (self.run_dir / "serve.log").open("ab") as log:
            self.process = subprocess.Popen(
                [str(GATEKEEPER), "-c", str(self.config), "serve"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        wait_for_port(self.agi_port, self.process, START_TIMEOUT_S, self.agi_host)
        wait_for_port(self.health_port, self.process, START_TIMEOUT_S)

    def signal(self, signum: signal.Signals) -> None:
        """Send `signum` to the node's process (SIGKILL also waits for it to be gone)."""
        assert self.process is not None
        self.process.send_signal(signum)
        if signum == signal.SIGKILL:
            self.process.wait()

    def stop(self) -> None:
        """Stop the node with SIGTERM (SIGKILL after 10 s); a frozen node is thawed first."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        process.send_signal(signal.SIGCONT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def decisions(self) -> dict[str, dict[str, Any]]:
        """The node's decision records (`audit export`), by decision id."""
        exported = gatekeeper(self.config, "audit", "export", "--format", "jsonl").stdout
        return {r["decision_id"]: r for r in map(json.loads, exported.splitlines())}

    def events(self, kind: str) -> list[dict[str, Any]]:
        """The node's event records of one kind (`audit events --json`)."""
        done = gatekeeper(self.config, "audit", "events", "--kind", kind, "--json")
        return [json.loads(line) for line in done.stdout.splitlines()]


@dataclass
class GatekeeperPair:
    """One Asterisk whose `GATEKEEPER_AGI` host resolves to two `serve` nodes' addresses."""

    run_dir: Path
    customise: Callable[[dict[str, Any]], None] | None = None
    addresses: tuple[str, ...] = NODE_ADDRESSES
    extra_hosts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """More names for the sandbox to resolve (a benchmark's unanswering address)."""
    agi_timeout_s: int = 3
    nameserver: str | None = None
    """The DNS server the sandbox asks (an SRV responder, for `hagi://`)."""
    agi_port: int = 0
    health_ports: list[int] = field(default_factory=list)
    """Each node's health port (free ones when empty): a standby's `ami.standby_for` names one."""
    sandbox: AsteriskSandbox = field(init=False)
    nodes: list[ServeNode] = field(init=False)

    def __post_init__(self) -> None:
        self.agi_port = self.agi_port or free_port_on(*self.addresses)
        self.sandbox = AsteriskSandbox(
            agi_port=self.agi_port,
            agi_host=PAIR_HOST,
            agi_timeout_s=self.agi_timeout_s,
            hosts={PAIR_HOST: self.addresses, **self.node_hosts, **self.extra_hosts},
            nameserver=self.nameserver,
        )
        self.health_ports = self.health_ports or free_ports(len(self.addresses))
        self.nodes = [
            ServeNode(
                self.run_dir / f"node{number}",
                agi_host=address,
                agi_port=self.agi_port,
                ami_port=self.sandbox.ami_port,
                ami_username=self.sandbox.service_username,
                ami_secret=self.sandbox.service_secret,
                health_port=health_port,
                customise=self.customise,
            )
            for number, (address, health_port) in enumerate(
                zip(self.addresses, self.health_ports, strict=True), start=1
            )
        ]

    @property
    def node_hosts(self) -> dict[str, tuple[str, ...]]:
        """Each node's own name (`node1.gatekeeper-pair.test`, ...): SRV targets."""
        return {node_host(n): (a,) for n, a in enumerate(self.addresses, start=1)}

    def start(self) -> None:
        """Start Asterisk, then every node."""
        self.sandbox.start()
        for node in self.nodes:
            node.start()

    def stop(self) -> None:
        """Stop every node and Asterisk."""
        try:
            for node in self.nodes:
                node.stop()
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
