"""The one exception tree: every error the gatekeeper raises on purpose derives from here."""


class GatekeeperError(Exception):
    """Base of all errors the gatekeeper raises on purpose."""


class ConfigError(GatekeeperError):
    """The configuration is missing, unreadable or invalid; the message names the key and line."""


class ListFormatError(GatekeeperError):
    """A DNCM list file cannot be read unambiguously; the message names file and line."""


class ListRefusedError(GatekeeperError):
    """A readable DNCM file failed validation (rejects, truncation, trailer count)."""


class IndexUnavailableError(GatekeeperError):
    """The local DNCM index cannot be opened or read."""


class StoreError(GatekeeperError):
    """The consent and objection store cannot be read or written."""


class ActsUnavailableError(StoreError):
    """The shared acts cannot be known to within their bound (docs/scaling.md)."""


class RecordRejectedError(GatekeeperError):
    """A consent or objection record (or CSV row) is invalid; the message names the place."""


class AuditError(GatekeeperError):
    """The decision log cannot be written or read."""


class SyncError(GatekeeperError):
    """A DNCM sync could not fetch or import the list."""


class AgiProtocolError(GatekeeperError):
    """An AGI peer broke the protocol (oversize header, garbage, early EOF)."""


class AmiError(GatekeeperError):
    """The Asterisk manager connection failed or refused us."""


class ScrubInputError(GatekeeperError):
    """A calling list cannot be scrubbed as given; the message names file and line."""


class ScrubUsageError(ScrubInputError):
    """A scrub was asked wrongly (unknown campaign, no number column): a usage error."""
