"""Counts the checks of each call, so a trunk failover's second check is attempt 2 of one call.

A call is its linked id: every channel of it shares one. A route that re-runs the check before
each trunk (FreePBX's predial hook on failover) asks again with the same linked id. The count is
held in memory for the calls of the last `TTL_S`, at most `MAX_CALLS` of them (the oldest is
forgotten first); a restart of the service starts counting again from 1.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

MAX_CALLS = 50_000
TTL_S = 6 * 3600.0


class CallAttempts:
    """`next(linkedid)` is 1 for a call's first check, 2 for its second, and so on."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_calls: int = MAX_CALLS,
        ttl_s: float = TTL_S,
    ) -> None:
        self._clock = clock
        self._max_calls = max_calls
        self._ttl_s = ttl_s
        self._seen: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def next(self, linkedid: str) -> int:
        """The attempt number of this check of the call `linkedid`; 0 when it has no id."""
        if not linkedid:
            return 0
        now = self._clock()
        count, at = self._seen.pop(linkedid, (0, now))
        if now - at > self._ttl_s:
            count = 0
        self._seen[linkedid] = (count + 1, now)
        while len(self._seen) > self._max_calls:
            self._seen.popitem(last=False)
        return count + 1

    def __len__(self) -> int:
        """Calls remembered."""
        return len(self._seen)
