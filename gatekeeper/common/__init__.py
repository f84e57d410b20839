"""Small helpers shared by every package: clock, errors, untrusted text, files, logs."""

from __future__ import annotations

from gatekeeper.common.backoff import ceiling as backoff_ceiling
from gatekeeper.common.backoff import jittered as jittered_backoff
from gatekeeper.common.clock import BRUSSELS, now, today
from gatekeeper.common.data_dir import HasDataDir
from gatekeeper.common.errors import (
    ActsUnavailableError,
    AgiProtocolError,
    AmiError,
    AuditError,
    ConfigError,
    GatekeeperError,
    IndexUnavailableError,
    ListFormatError,
    ListRefusedError,
    RecordRejectedError,
    ScrubInputError,
    ScrubUsageError,
    StoreError,
    SyncError,
)
from gatekeeper.common.logs import CallLogger, configure_logging
from gatekeeper.common.officer_files import create_output, refuse_inside, share
from gatekeeper.common.private_files import (
    PRIVATE_FILE_MODE,
    create_private,
    fsync_directory,
    fsync_file,
    make_private_dir,
    write_private,
)
from gatekeeper.common.pseudonyms import Pseudonyms, loggable, open_pseudonyms, pseudonyms_beside
from gatekeeper.common.run_as import refusal as run_as_refusal
from gatekeeper.common.run_as import writes_data
from gatekeeper.common.untrusted import CSV_QUOTE, FORMULA_STARTS, csv_cell, json_text, shown

__all__ = [
    "BRUSSELS",
    "CSV_QUOTE",
    "FORMULA_STARTS",
    "PRIVATE_FILE_MODE",
    "ActsUnavailableError",
    "AgiProtocolError",
    "AmiError",
    "AuditError",
    "CallLogger",
    "ConfigError",
    "GatekeeperError",
    "HasDataDir",
    "IndexUnavailableError",
    "ListFormatError",
    "ListRefusedError",
    "Pseudonyms",
    "RecordRejectedError",
    "ScrubInputError",
    "ScrubUsageError",
    "StoreError",
    "SyncError",
    "backoff_ceiling",
    "configure_logging",
    "create_output",
    "create_private",
    "csv_cell",
    "fsync_directory",
    "fsync_file",
    "jittered_backoff",
    "json_text",
    "loggable",
    "make_private_dir",
    "now",
    "open_pseudonyms",
    "pseudonyms_beside",
    "refuse_inside",
    "run_as_refusal",
    "share",
    "shown",
    "today",
    "write_private",
    "writes_data",
]
