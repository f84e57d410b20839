"""PeerGate's rules for remote peers, and the loopback test, without sockets."""

from __future__ import annotations

import ipaddress

import pytest
from gatekeeper.agi.peers import Admission, PeerGate, PeerRules, Refusal, is_loopback

OURS = ("10.0.0.1", 4573)


class NoLookup:
    """A uid lookup for rules that must never need one (remote peers)."""

    def uid(self, peer: tuple[str, int], ours: tuple[str, int]) -> int | None:
        """Fail the test: a remote peer's owner is unknowable."""
        raise AssertionError(f"uid looked up for {peer}")

    def close(self) -> None:
        """Nothing to release."""


def _gate(*networks: str) -> PeerGate:
    rules = PeerRules(
        allowed_uids=frozenset({0}),
        allowed_networks=tuple(ipaddress.ip_network(n) for n in networks),
    )
    return PeerGate(rules, NoLookup())


@pytest.mark.parametrize(
    ("peer", "admission"),
    [
        ("10.0.0.5", Admission(key="10.0.0.5")),
        ("::ffff:10.0.0.5", Admission(key="::ffff:10.0.0.5")),
        ("10.0.1.5", Admission(refusal=Refusal.ADDRESS_NOT_ALLOWED)),
        ("fd00::7", Admission(key="fd00::7")),
        ("fd00:1::7", Admission(refusal=Refusal.ADDRESS_NOT_ALLOWED)),
    ],
)
def test_remote_peers_are_admitted_by_address_only(peer: str, admission: Admission) -> None:
    """A remote peer is admitted when its address is in an allowed network, else refused."""
    assert _gate("10.0.0.0/24", "fd00::/64").admit((peer, 40000), OURS) == admission


def test_peer_without_an_address_is_refused() -> None:
    """A peer whose address the socket no longer reports is refused, never an error."""
    assert _gate("0.0.0.0/0").admit(("", 0), OURS).refusal is Refusal.ADDRESS_NOT_ALLOWED


def test_remote_peer_is_refused_without_an_allow_list() -> None:
    """With no allowed networks every remote peer is refused."""
    assert _gate().admit(("192.0.2.9", 40000), OURS).refusal is Refusal.ADDRESS_NOT_ALLOWED


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.3.4.5", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("pbx.example", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    """Loopback is 127/8, ::1, their v4-mapped form and `localhost`; nothing else."""
    assert is_loopback(host) is loopback


class OwnerIs:
    """A uid lookup that names one owner for every socket."""

    def __init__(self, uid: int) -> None:
        self._uid = uid

    def uid(self, peer: tuple[str, int], ours: tuple[str, int]) -> int | None:
        """The same owner, whatever the socket."""
        return self._uid

    def close(self) -> None:
        """Nothing to release."""


@pytest.mark.parametrize(
    "peer", ["127.0.0.1", "127.3.4.5", "::1", "::ffff:127.0.0.1", "::ffff:7f00:1"]
)
def test_loopback_peers_are_admitted_by_owner(peer: str) -> None:
    """Every loopback form is checked by the socket's owner: root admitted, uid 1000 refused."""
    rules = PeerRules(allowed_uids=frozenset({0}))
    admitted = PeerGate(rules, OwnerIs(0)).admit((peer, 40000), ("127.0.0.1", 4573))
    refused = PeerGate(rules, OwnerIs(1000)).admit((peer, 40000), ("127.0.0.1", 4573))
    assert (admitted, refused) == (
        Admission(key="uid 0", uid=0),
        Admission(refusal=Refusal.USER_NOT_ALLOWED, uid=1000),
    )


def test_peer_named_not_numbered_is_refused() -> None:
    """A peer reported by name, not address, is refused, never looked up or raised on."""
    assert _gate("0.0.0.0/0").admit(("localhost", 40000), OURS) == Admission(
        refusal=Refusal.ADDRESS_NOT_ALLOWED
    )
