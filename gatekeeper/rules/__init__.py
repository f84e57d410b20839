"""Pure rules: number normalisation, the metadata's ranges, the decision policy. No I/O."""

from __future__ import annotations

from gatekeeper.rules.numbers import (
    BelgianNumber,
    ForeignNumber,
    InvalidNumber,
    Normalised,
    NumberClass,
    Refusal,
    normalise,
    plain_key,
    recorded_dialled,
)
from gatekeeper.rules.policy import (
    LIST_DATE_TOLERANCE_DAYS,
    Act,
    ActKind,
    Campaign,
    Decision,
    Facts,
    ForeignPolicy,
    Purpose,
    Reason,
    SnapshotInfo,
    Verdict,
    decide,
)

__all__ = [
    "LIST_DATE_TOLERANCE_DAYS",
    "Act",
    "ActKind",
    "BelgianNumber",
    "Campaign",
    "Decision",
    "Facts",
    "ForeignNumber",
    "ForeignPolicy",
    "InvalidNumber",
    "Normalised",
    "NumberClass",
    "Purpose",
    "Reason",
    "Refusal",
    "SnapshotInfo",
    "Verdict",
    "decide",
    "normalise",
    "plain_key",
    "recorded_dialled",
]
