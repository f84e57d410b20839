"""A tiny DNS server for tests: SRV records it is told, NXDOMAIN for everything else.

Theory of operation: Asterisk's `hagi://NAME` looks up the SRV records of `_agi._tcp.NAME`
through the system resolver (the sandbox's own resolv.conf names this server). This server
answers one UDP query at a time: a question of type SRV for a name in `records` gets those
records, in the order given, with TTL 0 (so a change shows at the next call); any other
question gets NXDOMAIN. The records may be changed while it runs. Targets are resolved by the
sandbox's own hosts file, not here. Only what a test needs of RFC 1035 and RFC 2782 is spoken:
one question, no compression but the pointer to it, no EDNS, no TCP.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self, cast

DNS_PORT = 53
TYPE_SRV = 33
CLASS_IN = 1
FLAG_RESPONSE = 0x8000
FLAG_AUTHORITATIVE = 0x0400
FLAG_RECURSION_DESIRED = 0x0100
RCODE_NXDOMAIN = 3
RCODE_FORMERR = 1
NAME_POINTER_TO_QUESTION = 0xC00C
HEADER = struct.Struct("!HHHHHH")


@dataclass(frozen=True, slots=True)
class Srv:
    """One SRV record: priority (lowest first), weight, port and target host."""

    priority: int
    weight: int
    port: int
    target: str


def _labels(name: str) -> bytes:
    out = b"".join(bytes([len(part)]) + part.encode("ascii") for part in name.split(".") if part)
    return out + b"\0"


def _question(query: bytes) -> tuple[str, int, int, int] | None:
    """(name, type, class, end offset) of the query's one question, or None if malformed."""
    offset = HEADER.size
    parts: list[str] = []
    while offset < len(query):
        length = query[offset]
        offset += 1
        if length == 0:
            if offset + 4 > len(query):
                return None
            qtype, qclass = struct.unpack_from("!HH", query, offset)
            return ".".join(parts).lower(), qtype, qclass, offset + 4
        if length > 63 or offset + length > len(query):
            return None
        parts.append(query[offset : offset + length].decode("ascii", "replace"))
        offset += length
    return None


def answer(query: bytes, records: dict[str, list[Srv]]) -> bytes | None:
    """The response to one query (None for one too short to answer at all)."""
    if len(query) < HEADER.size:
        return None
    ident, flags, *_ = HEADER.unpack_from(query)
    found = _question(query)
    reply_flags = FLAG_RESPONSE | FLAG_AUTHORITATIVE | (flags & FLAG_RECURSION_DESIRED)
    if found is None:
        return HEADER.pack(ident, reply_flags | RCODE_FORMERR, 0, 0, 0, 0)
    name, qtype, qclass, end = found
    question = query[HEADER.size : end]
    wanted = records.get(name, []) if (qtype, qclass) == (TYPE_SRV, CLASS_IN) else []
    if not wanted:
        return HEADER.pack(ident, reply_flags | RCODE_NXDOMAIN, 1, 0, 0, 0) + question
    answers = b""
    for srv in wanted:
        rdata = struct.pack("!HHH", srv.priority, srv.weight, srv.port) + _labels(srv.target)
        answers += struct.pack(
            "!HHHIH", NAME_POINTER_TO_QUESTION, TYPE_SRV, CLASS_IN, 0, len(rdata)
        )
        answers += rdata
    return HEADER.pack(ident, reply_flags, 1, len(wanted), 0, 0) + question + answers


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, records: dict[str, list[Srv]]) -> None:
        self.records = records
        self.transport: asyncio.DatagramTransport | None = None
        self.queries = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.DatagramTransport", transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, int]) -> None:
        self.queries += 1
        reply = answer(data, self.records)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


@dataclass
class SrvResponder:
    """The server on host:53 (UDP) of the running event loop, for `async with`."""

    host: str
    records: dict[str, list[Srv]] = field(default_factory=dict)
    _protocol: _Protocol | None = None

    @property
    def queries(self) -> int:
        """Queries received so far."""
        return self._protocol.queries if self._protocol is not None else 0

    async def __aenter__(self) -> Self:
        _, self._protocol = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _Protocol(self.records), local_addr=(self.host, DNS_PORT)
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
            await asyncio.sleep(0)
