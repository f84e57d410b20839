"""Cost of finding the owner of a loopback peer's socket: netlink sock_diag against /proc/net/tcp.

The FastAGI server looks the owner up once per accepted connection. This opens `--sockets`
extra loopback connections (so the kernel's tables hold what a busy host holds), then times
each lookup of one connected peer, many times, on one core. Run:

    .venv/bin/python bench/agi_peer_uid.py [--sockets 0 1000 5000] [--lookups 2000]
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import socket
import sys
import time
from collections.abc import Iterator

from gatekeeper.agi.peer_uid import PeerUidLookup, ProcNetTcp, SockDiag

Address = tuple[str, int]


@contextlib.contextmanager
def connections(count: int) -> Iterator[tuple[Address, Address]]:
    """`count` open loopback connections plus one more; yield that one's (peer, ours)."""
    with contextlib.ExitStack() as stack:
        listener = stack.enter_context(socket.socket())
        listener.bind(("127.0.0.1", 0))
        listener.listen(1024)
        target = listener.getsockname()
        for _ in range(count + 1):
            client = stack.enter_context(socket.create_connection(target))
            accepted, _ = listener.accept()
            stack.enter_context(accepted)
        yield client.getsockname(), accepted.getsockname()


def per_lookup(lookup: PeerUidLookup, peer: Address, ours: Address, lookups: int) -> float:
    """Seconds per lookup (CPU time), after checking the lookup finds the socket."""
    if lookup.uid(peer, ours) is None:
        raise RuntimeError(f"{type(lookup).__name__} did not find the socket")
    started = time.process_time()
    for _ in range(lookups):
        lookup.uid(peer, ours)
    return (time.process_time() - started) / lookups


def main(argv: list[str]) -> int:
    """Print the cost per lookup of each method for each socket count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sockets", type=int, nargs="+", default=[0, 1000, 5000])
    parser.add_argument("--lookups", type=int, default=2000, help="sock_diag lookups per count")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * max(args.sockets) + 64
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    print(f"{'open connections':>17} {'sock_diag':>10} {'/proc/net/tcp':>14}")
    for count in args.sockets:
        with connections(count) as (peer, ours):
            diag = SockDiag()
            try:
                netlink = per_lookup(diag, peer, ours, args.lookups)
            finally:
                diag.close()
            proc = per_lookup(ProcNetTcp(), peer, ours, max(20, args.lookups // 50))
        print(f"{count:>17,} {netlink * 1e6:>8.1f} µs {proc * 1e6:>11,.0f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
