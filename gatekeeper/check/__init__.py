"""One call, one recorded answer: the checker and how its answer is written."""

from __future__ import annotations

from gatekeeper.check.answers import agi_variables, human_answer, json_answer
from gatekeeper.check.attempts import MAX_CALLS as ATTEMPTS_MAX_CALLS
from gatekeeper.check.attempts import TTL_S as ATTEMPTS_TTL_S
from gatekeeper.check.attempts import CallAttempts
from gatekeeper.check.batch import BLOCK_ROWS, BatchDecider
from gatekeeper.check.campaign_ids import resolve
from gatekeeper.check.checker import (
    CHECK_DEADLINE_S,
    FACTS_DEADLINE_S,
    RECORD_DEADLINE_S,
    CallRequest,
    Checker,
    CheckResult,
)

__all__ = [
    "ATTEMPTS_MAX_CALLS",
    "ATTEMPTS_TTL_S",
    "BLOCK_ROWS",
    "CHECK_DEADLINE_S",
    "FACTS_DEADLINE_S",
    "RECORD_DEADLINE_S",
    "BatchDecider",
    "CallAttempts",
    "CallRequest",
    "CheckResult",
    "Checker",
    "agi_variables",
    "human_answer",
    "json_answer",
    "resolve",
]
