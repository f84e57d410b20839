"""The local DNCM index: list file parsing, snapshot build and swap, lookups, sync sources."""

from __future__ import annotations

from gatekeeper.dncm.chain import IN_FORCE_STATUSES, record_live_list
from gatekeeper.dncm.dates import DateFormat, day_of
from gatekeeper.dncm.index import ListAnswer, ListIndex
from gatekeeper.dncm.layout import Encoding, FieldOrder, LayoutPin, Separator
from gatekeeper.dncm.settings import (
    DEFAULT_MAX_AGE_DAYS,
    DEFAULT_MAX_SHRINK_PERCENT,
    MAX_AGE_DAYS_LIMIT,
    DncmSettings,
    SftpSource,
)
from gatekeeper.dncm.snapshot import open_current
from gatekeeper.dncm.storage import IndexPaths, NotRegularFileError, open_regular
from gatekeeper.dncm.sync import sync_forever

__all__ = [
    "DEFAULT_MAX_AGE_DAYS",
    "DEFAULT_MAX_SHRINK_PERCENT",
    "IN_FORCE_STATUSES",
    "MAX_AGE_DAYS_LIMIT",
    "DateFormat",
    "DncmSettings",
    "Encoding",
    "FieldOrder",
    "IndexPaths",
    "LayoutPin",
    "ListAnswer",
    "ListIndex",
    "NotRegularFileError",
    "Separator",
    "SftpSource",
    "day_of",
    "open_current",
    "open_regular",
    "record_live_list",
    "sync_forever",
]
