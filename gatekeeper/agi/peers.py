"""Who may ask the FastAGI server: loopback peers by owning user, others by address.

Theory of operation
-------------------
A FastAGI request is answered with the list status of a number and recorded in the compliance
log, so only Asterisk may ask. `PeerGate.admit` decides per accepted connection, before a byte
is read:

* a loopback peer (``127.0.0.0/8``, ``::1``, or either v4-mapped) is on this host, so the
  kernel knows which user owns its socket (`peer_uid`); it is admitted only if that uid is in
  `PeerRules.allowed_uids`. A socket whose owner cannot be found is refused;
* any other peer is admitted only if its address is in `PeerRules.allowed_networks`.

An admitted peer gets a key (``uid 0``, ``10.0.0.5``) under which the server counts its open
connections against the per-peer cap. The default users (`default_uids`) are root, the user the
service runs as and ``asterisk`` when that user exists: the first two can read the list and
write the log directly anyway, so refusing them would protect nothing.
"""

from __future__ import annotations

import contextlib
import enum
import ipaddress
import os
import pwd
from collections.abc import Iterable
from dataclasses import dataclass, field

from gatekeeper.agi.peer_uid import Address, PeerUidLookup, packed_ip

ASTERISK_USER = "asterisk"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_IPV4_BYTES = 4
_IPV4_LOOPBACK_FIRST_BYTE = 127
"""127.0.0.0/8."""
_IPV6_LOOPBACK = ipaddress.IPv6Address("::1").packed


class Refusal(enum.StrEnum):
    """Why a connection ended without a check: the label of the refusal counter."""

    GLOBAL_CAP = "global_cap"
    PEER_CAP = "peer_cap"
    USER_NOT_ALLOWED = "user_not_allowed"
    OWNER_UNKNOWN = "owner_unknown"
    ADDRESS_NOT_ALLOWED = "address_not_allowed"
    SHUTTING_DOWN = "shutting_down"
    HEADER_TIMEOUT = "header_timeout"
    HEADER_INVALID = "header_invalid"
    HEADER_MISSING = "header_missing"
    UNKNOWN_SCRIPT = "unknown_script"


CAP_REFUSALS = frozenset({Refusal.GLOBAL_CAP, Refusal.PEER_CAP})
"""Refusals that mean the server is saturated."""


def default_uids() -> frozenset[int]:
    """Root, the service's own user, and ``asterisk`` if that user exists."""
    uids = {0, os.geteuid()}
    with contextlib.suppress(KeyError):
        uids.add(pwd.getpwnam(ASTERISK_USER).pw_uid)
    return frozenset(uids)


@dataclass(frozen=True, slots=True)
class PeerRules:
    """Which loopback users and which remote networks may ask."""

    allowed_uids: frozenset[int] = field(default_factory=default_uids)
    allowed_networks: tuple[Network, ...] = ()


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address (a v4-mapped one included) or ``localhost``."""
    if host == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _is_loopback_ip(packed: bytes | None) -> bool:
    """`is_loopback` for an address already packed by `packed_ip` (v4-mapped as IPv4)."""
    if packed is None:
        return False
    return (
        packed[0] == _IPV4_LOOPBACK_FIRST_BYTE
        if len(packed) == _IPV4_BYTES
        else packed == _IPV6_LOOPBACK
    )


def _in_any(host: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


@dataclass(frozen=True, slots=True)
class Admission:
    """A connection admitted under `key`, or refused for `refusal`; `uid` when it was looked up."""

    key: str = ""
    refusal: Refusal | None = None
    uid: int | None = None


class PeerGate:
    """Admits a connection (with its per-peer key) or names the refusal."""

    def __init__(self, rules: PeerRules, lookup: PeerUidLookup) -> None:
        self.rules = rules
        self._lookup = lookup

    def admit(self, peer: Address, ours: Address) -> Admission:
        """The peer's key for the per-peer cap, or why it is refused."""
        if _is_loopback_ip(packed_ip(peer[0])):
            try:
                uid = self._lookup.uid(peer, ours)
            except OSError:
                return Admission(refusal=Refusal.OWNER_UNKNOWN)
            if uid is None:
                return Admission(refusal=Refusal.OWNER_UNKNOWN)
            if uid not in self.rules.allowed_uids:
                return Admission(refusal=Refusal.USER_NOT_ALLOWED, uid=uid)
            return Admission(key=f"uid {uid}", uid=uid)
        if _in_any(peer[0], self.rules.allowed_networks):
            return Admission(key=peer[0])
        return Admission(refusal=Refusal.ADDRESS_NOT_ALLOWED)

    def close(self) -> None:
        """Release the uid lookup."""
        self._lookup.close()
