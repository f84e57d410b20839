"""Asterisk and the gatekeeper on two hosts (network namespaces): a cut link fails closed."""

from __future__ import annotations

import asyncio
import ipaddress
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyroute2 import IPRoute, NetNS, netns
from tools.asterisk_sandbox import DEFAULT_ROOT, READY_MARK
from tools.calls import CallSpec, PlacedCall, place_through
from tools.gatekeeper_run import GatekeeperRun

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]


@dataclass(frozen=True)
class Link:
    """A veth pair between this host and a namespace where the gatekeeper runs."""

    namespace: str
    host_ifname: str
    gatekeeper_ip: str

    def set(self, *, up: bool) -> None:
        """Bring the host's end of the link up or down (down: every packet is lost).

        pyroute2's calls run their own event loop: from a test's loop, call this in a thread.
        """
        with IPRoute() as ipr:
            [index] = ipr.link_lookup(ifname=self.host_ifname)
            ipr.link("set", index=index, state="up" if up else "down")


@pytest.fixture
def link() -> Iterator[Link]:
    """A namespace joined to this host by a /30 veth link, removed afterwards."""
    tag = os.getpid() % 10000
    name, host_if, ns_if = f"gk-test-{tag}", f"gkh{tag}", f"gkn{tag}"
    subnet = f"10.231.{tag % 250}"
    netns.create(name)
    try:
        with IPRoute() as ipr:
            ipr.link("add", ifname=host_if, kind="veth", peer={"ifname": ns_if, "net_ns_fd": name})
            [index] = ipr.link_lookup(ifname=host_if)
            ipr.addr("add", index=index, address=f"{subnet}.1", prefixlen=30)
            ipr.link("set", index=index, state="up")
        with NetNS(name) as ns:
            [inner] = ns.link_lookup(ifname=ns_if)
            ns.addr("add", index=inner, address=f"{subnet}.2", prefixlen=30)
            ns.link("set", index=inner, state="up")
            [loopback] = ns.link_lookup(ifname="lo")
            ns.link("set", index=loopback, state="up")
        yield Link(name, host_if, f"{subnet}.2")
    finally:
        with IPRoute() as ipr:
            for index in ipr.link_lookup(ifname=host_if):
                ipr.link("del", index=index)
        netns.remove(name)


async def _call(run: GatekeeperRun) -> PlacedCall:
    [call] = await place_through(run.sandbox, [CallSpec("0470999999", "spring-promo")], limit_s=30)
    return call


async def test_cut_link_blocks_the_call_and_a_mended_one_allows_again(
    link: Link, tmp_path: Path
) -> None:
    """Over the link calls are decided; with it cut they never go out; mended, they are again."""
    if not (DEFAULT_ROOT / READY_MARK).exists():
        pytest.fail("the Asterisk sandbox is not installed: run `make asterisk`")
    asterisk_side = ipaddress.ip_interface(f"{link.gatekeeper_ip}/30").network
    run = GatekeeperRun(
        tmp_path / "run",
        agi_host=link.gatekeeper_ip,
        serve_netns=link.namespace,
        customise=lambda config: config["agi"].update(allowed_peers=[str(asterisk_side)]),
    )
    with run:
        before = await _call(run)
        await asyncio.to_thread(link.set, up=False)
        cut = await _call(run)
        await asyncio.to_thread(link.set, up=True)
        after = await _call(run)
    assert [(c.decision, c.reason, c.reached_trunk) for c in (before, cut, after)] == [
        ("ALLOW", "not_listed", True),
        ("BLOCK", "internal_error", False),
        ("ALLOW", "not_listed", True),
    ]
