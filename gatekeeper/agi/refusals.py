"""Refused FastAGI connections: counted by reason, logged at a bounded rate, saturation noted.

Theory of operation
-------------------
A flood of refused connections must not become a flood of log lines. Per reason, the first
refusal after a quiet interval is logged in full (its own event, the peer and details); the
ones that follow within `interval_s` are only counted, and when the interval ends one
``agi_refusals_suppressed`` line gives the counts. A reason still being refused keeps its
window open, so a steady flood writes one line per reason and interval. Every refusal is also
counted without bound in `totals` and handed to `on_refusal` (the Prometheus counter), and a
refusal at a connection cap stamps `last_saturated` (monotonic seconds) for the health check.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Final

import structlog

from gatekeeper.agi.peers import CAP_REFUSALS, Refusal

REFUSAL_LOG_INTERVAL_S: Final = 10.0

log = structlog.get_logger()


def _ignore(_reason: Refusal) -> None:
    """Count nowhere else."""


class Refusals:
    """The server's refusals: totals, a bounded log and the time the caps were last hit."""

    def __init__(
        self,
        *,
        interval_s: float = REFUSAL_LOG_INTERVAL_S,
        on_refusal: Callable[[Refusal], None] = _ignore,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval_s = interval_s
        self._on_refusal = on_refusal
        self._clock = clock
        self._totals: Counter[Refusal] = Counter()
        self._window: dict[Refusal, int] = {}
        self._flush_handle: asyncio.TimerHandle | None = None
        self.last_saturated: float | None = None

    @property
    def totals(self) -> Mapping[Refusal, int]:
        """Refusals since start, by reason."""
        return dict(self._totals)

    def refuse(self, reason: Refusal, event: str, **fields: object) -> None:
        """Count one refusal; log it as `event` unless its reason was logged this interval."""
        self._totals[reason] += 1
        self._on_refusal(reason)
        if reason in CAP_REFUSALS:
            self.last_saturated = self._clock()
        if reason in self._window:
            self._window[reason] += 1
            return
        self._window[reason] = 0
        log.warning(event, reason=reason.value, **fields)
        if self._flush_handle is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(self._interval_s, self._flush)

    def _log_suppressed(self) -> None:
        suppressed = {reason.value: count for reason, count in self._window.items() if count}
        if suppressed:
            log.warning("agi_refusals_suppressed", counts=suppressed, interval_s=self._interval_s)

    def _flush(self) -> None:
        self._flush_handle = None
        self._log_suppressed()
        self._window = {reason: 0 for reason, count in self._window.items() if count}
        if self._window:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(self._interval_s, self._flush)

    def close(self) -> None:
        """Log what is still only counted and stop the timer."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
            self._log_suppressed()
        self._window = {}
