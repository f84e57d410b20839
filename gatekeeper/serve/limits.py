"""Every deadline and bound `serve` sets, in one frozen object built at start-up and passed in.

Each default is the named constant of the module it bounds, so a reader finds the figure beside
the code it limits; the service builds one `Limits()` when it starts and hands each part its
fields. Tests build their own (`Limits(health_check_deadline_s=0.05)`, or the part's keyword)
instead of patching a module's constant.
"""

from __future__ import annotations

from dataclasses import dataclass

from gatekeeper.ami import MAX_FOLLOWED_CALLS, MAX_OPEN_REPORTS, SUBSCRIPTION_LIMIT
from gatekeeper.check import ATTEMPTS_MAX_CALLS, ATTEMPTS_TTL_S, FACTS_DEADLINE_S, RECORD_DEADLINE_S
from gatekeeper.serve.health import CHECK_DEADLINE_S as HEALTH_CHECK_DEADLINE_S

HANDLER_MARGIN_S = 1.0
"""How much longer than the checker's own deadline the AGI server waits for a handler."""
METRICS_REFRESH_S = 10.0
LICENCE_CHECK_INTERVAL_S = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class Limits:
    """Deadlines (seconds) and bounds of the running service."""

    check_facts_deadline_s: float = FACTS_DEADLINE_S
    check_record_deadline_s: float = RECORD_DEADLINE_S
    agi_handler_margin_s: float = HANDLER_MARGIN_S
    health_check_deadline_s: float = HEALTH_CHECK_DEADLINE_S
    attempts_max_calls: int = ATTEMPTS_MAX_CALLS
    attempts_ttl_s: float = ATTEMPTS_TTL_S
    bypass_max_open_reports: int = MAX_OPEN_REPORTS
    outcomes_max_followed_calls: int = MAX_FOLLOWED_CALLS
    ami_subscription_limit: int = SUBSCRIPTION_LIMIT
    metrics_refresh_s: float = METRICS_REFRESH_S
    licence_check_interval_s: float = LICENCE_CHECK_INTERVAL_S

    @property
    def check_deadline_s(self) -> float:
        """The longest a check takes: its facts' deadline, then its record's."""
        return self.check_facts_deadline_s + self.check_record_deadline_s

    @property
    def agi_handler_timeout_s(self) -> float:
        """The AGI server's deadline for the check handler."""
        return self.check_deadline_s + self.agi_handler_margin_s
