"""Which local user owns the other end of a loopback TCP connection (Linux).

Theory of operation
-------------------
`SO_PEERCRED` answers only for Unix sockets, and Asterisk's FastAGI speaks only TCP. On
loopback the peer's socket is on this host, so the kernel knows its owner. Two ways to ask:

* `SockDiag` (the default): one ``SOCK_DIAG_BY_FAMILY`` netlink request naming the peer's
  exact 4-tuple (``inet_diag_req_v2`` with ``sport``/``src`` = the peer's end and ``dport``/
  ``dst`` = ours); the kernel looks that one socket up in its hash table and answers one
  ``inet_diag_msg``, whose ``idiag_uid`` is the owner. The cost does not grow with the number
  of open sockets.
* `ProcNetTcp` (the fallback when netlink sock_diag is missing): read ``/proc/net/tcp`` or
  ``/proc/net/tcp6`` and find the line whose local address is the peer's end and whose remote
  address is ours. The cost grows with every socket on the host.

A v4-mapped IPv6 address (``::ffff:127.0.0.1``, on a dual-stack listener) is looked up as the
IPv4 socket it is. `uid()` returns None when the socket is not found (the peer already went
away); any lookup error raises `OSError`. `open_lookup` proves the method it picks on a probe
connection of its own (the uid found must be ours): a sandbox can forbid netlink sockets, hide
``/proc/net`` or map other users' uids away, and the server must not start blind. docs/agi.md
has the measured cost of both.
"""

from __future__ import annotations

import errno
import itertools
import os
import socket
import struct
import sys
from pathlib import Path
from typing import Final, Protocol

from gatekeeper.common import GatekeeperError

NETLINK_SOCK_DIAG: Final = 4
SOCK_DIAG_BY_FAMILY: Final = 20
NLM_F_REQUEST: Final = 1
NLMSG_ERROR: Final = 2
INET_DIAG_NOCOOKIE: Final = 0xFFFFFFFF
ALL_TCP_STATES: Final = 0xFFFFFFFF
NETLINK_TIMEOUT_S: Final = 0.5
"""The kernel answers at once; this only bounds a broken netlink socket."""
_NLMSGHDR: Final = struct.Struct("=IHHII")
_REQUEST: Final = struct.Struct("=BBBxI2s2s16s16sIII")
"""inet_diag_req_v2: family, protocol, ext, pad, states, then inet_diag_sockid (ports, addresses,
interface, cookie)."""
_UID_OFFSET: Final = _NLMSGHDR.size + 4 + 48 + 12
"""inet_diag_msg: family/state/timer/retrans, the 48-byte sockid, expires/rqueue/wqueue, uid."""
_RECV_BYTES: Final = 8192
_PROC_NET: Final = Path("/proc/net")
_IPV4_BYTES: Final = 4

Address = tuple[str, int]
"""An IP address (text) and port."""


class PeerUidLookup(Protocol):
    """Finds the uid owning the local socket at `peer` connected to `ours`."""

    def uid(self, peer: Address, ours: Address) -> int | None:
        """The owner's uid, or None when no such socket exists."""
        ...

    def close(self) -> None:
        """Release what the lookup holds."""
        ...


_V4_MAPPED: Final = bytes(10) + b"\xff\xff"


def packed_ip(host: str) -> bytes | None:
    """`host` as the 4 (IPv4) or 16 (IPv6) bytes of its address; None when it is not one.

    A v4-mapped IPv6 address gives the IPv4 bytes; a ``%zone`` suffix is ignored. Uses
    ``inet_pton`` rather than `ipaddress`: this runs on every accepted connection.
    """
    text = host.partition("%")[0]
    try:
        return socket.inet_pton(socket.AF_INET, text)
    except OSError:
        pass
    try:
        packed = socket.inet_pton(socket.AF_INET6, text)
    except OSError:
        return None
    return packed[12:] if packed.startswith(_V4_MAPPED) else packed


def _plain(address: Address) -> tuple[bytes, int]:
    packed = packed_ip(address[0])
    if packed is None:
        raise OSError(f"not an IP address: {address[0]!r}")
    return packed, address[1]


class SockDiag:
    """Looks one socket up with a netlink ``SOCK_DIAG_BY_FAMILY`` request."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
        self._socket.settimeout(NETLINK_TIMEOUT_S)
        self._socket.bind((0, 0))
        self._sequence = itertools.count(1)

    def uid(self, peer: Address, ours: Address) -> int | None:
        """The uid owning the TCP socket whose local end is `peer` and remote end `ours`."""
        peer_ip, peer_port = _plain(peer)
        our_ip, our_port = _plain(ours)
        if len(peer_ip) != len(our_ip):
            return None
        family = socket.AF_INET if len(peer_ip) == _IPV4_BYTES else socket.AF_INET6
        sequence = next(self._sequence) & 0xFFFFFFFF
        body = _REQUEST.pack(
            family,
            socket.IPPROTO_TCP,
            0,
            ALL_TCP_STATES,
            peer_port.to_bytes(2, "big"),
            our_port.to_bytes(2, "big"),
            peer_ip.ljust(16, b"\0"),
            our_ip.ljust(16, b"\0"),
            0,
            INET_DIAG_NOCOOKIE,
            INET_DIAG_NOCOOKIE,
        )
        header = _NLMSGHDR.pack(
            _NLMSGHDR.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, sequence, 0
        )
        self._socket.send(header + body)
        while True:
            answer = self._socket.recv(_RECV_BYTES)
            if len(answer) < _NLMSGHDR.size + 4:
                raise OSError(f"sock_diag answer of {len(answer)} bytes is too short")
            length, kind, _, answered, _ = _NLMSGHDR.unpack_from(answer)
            if answered == sequence:
                break
        if kind == NLMSG_ERROR:
            (error,) = struct.unpack_from("=i", answer, _NLMSGHDR.size)
            if -error == errno.ENOENT:
                return None
            raise OSError(-error, f"sock_diag lookup failed: {error}")
        if kind != SOCK_DIAG_BY_FAMILY or min(length, len(answer)) < _UID_OFFSET + 4:
            raise OSError(f"sock_diag gave an unexpected answer (type {kind}, {length} bytes)")
        (uid,) = struct.unpack_from("=I", answer, _UID_OFFSET)
        return int(uid)

    def close(self) -> None:
        """Close the netlink socket."""
        self._socket.close()


class ProcNetTcp:
    """Finds the socket's line in ``/proc/net/tcp`` or ``/proc/net/tcp6``."""

    def __init__(self, proc_net: Path = _PROC_NET) -> None:
        self._proc_net = proc_net

    def uid(self, peer: Address, ours: Address) -> int | None:
        """The uid owning the TCP socket whose local end is `peer` and remote end `ours`."""
        peer_ip, peer_port = _plain(peer)
        our_ip, our_port = _plain(ours)
        if len(peer_ip) != len(our_ip):
            return None
        name = "tcp" if len(peer_ip) == _IPV4_BYTES else "tcp6"
        wanted = f"{_proc_hex(peer_ip)}:{peer_port:04X} {_proc_hex(our_ip)}:{our_port:04X}"
        text = (self._proc_net / name).read_text(encoding="ascii")
        at = text.find(" " + wanted + " ")
        if at < 0:
            return None
        line = text[at : text.find("\n", at)].split()
        return int(line[6])

    def close(self) -> None:
        """Nothing to release."""


def _proc_hex(packed: bytes) -> str:
    """An address as /proc/net/tcp prints it: each 32-bit word read in host byte order, in hex."""
    return "".join(
        f"{int.from_bytes(packed[i : i + 4], sys.byteorder):08X}" for i in range(0, len(packed), 4)
    )


class PeerUidError(GatekeeperError):
    """Neither way of finding a loopback peer's owner works here."""


def open_lookup(proc_net: Path = _PROC_NET) -> PeerUidLookup:
    """The first lookup that finds the owner of a probe connection: sock_diag, /proc/net/tcp.

    Raises `PeerUidError` naming why each failed (a sandbox that forbids ``AF_NETLINK`` and
    hides ``/proc/net``, a user namespace that hides other users' uids).
    """
    failures: list[str] = []
    for name, make in (
        ("netlink sock_diag", SockDiag),
        ("/proc/net/tcp", lambda: ProcNetTcp(proc_net)),
    ):
        try:
            lookup: PeerUidLookup = make()
        except OSError as err:
            failures.append(f"{name}: {err}")
            continue
        problem = _probe(lookup)
        if problem is None:
            return lookup
        lookup.close()
        failures.append(f"{name}: {problem}")
    raise PeerUidError(
        "agi: cannot tell which user owns a loopback peer's socket ("
        + "; ".join(failures)
        + "): the service must be allowed AF_NETLINK sockets (or /proc/net) and see real uids"
    )


def _probe(lookup: PeerUidLookup) -> str | None:
    """Why `lookup` cannot name this process as the owner of a fresh loopback socket, if so."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname()) as client:
            accepted, _ = listener.accept()
            with accepted:
                try:
                    uid = lookup.uid(client.getsockname(), accepted.getsockname())
                except OSError as err:
                    return str(err)
    if uid != os.geteuid():
        return f"found uid {uid} for a socket of uid {os.geteuid()}"
    return None
