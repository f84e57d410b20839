"""The `ami` section of the configuration: how to reach the manager interface, what it guards."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

DEFAULT_AMI_PORT = 5038
DEFAULT_PROBE_INTERVAL_MS = 500
DEFAULT_PROBE_TIMEOUT_MS = 500
DEFAULT_FAIL_AFTER = 2
DEFAULT_RECOVER_AFTER = 2
PEER_HEALTH_PATH = "/healthz"


class BypassAction(enum.StrEnum):
    """What the watchdog does with a call that reached a gated context without an ALLOW."""

    HANGUP = "hangup"
    ALERT = "alert"


@dataclass(frozen=True, slots=True)
class PeerHealth:
    """The peer node's `/healthz`, over plain HTTP."""

    host: str
    port: int
    path: str = PEER_HEALTH_PATH

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"


@dataclass(frozen=True, slots=True)
class StandbySettings:
    """`ami.standby_for` and `ami.standby_probe`: whose watch this node stands in for, and how."""

    peer: PeerHealth
    interval_ms: int = DEFAULT_PROBE_INTERVAL_MS
    timeout_ms: int = DEFAULT_PROBE_TIMEOUT_MS
    fail_after: int = DEFAULT_FAIL_AFTER
    recover_after: int = DEFAULT_RECOVER_AFTER


@dataclass(frozen=True, slots=True)
class AmiSettings:
    """How to reach the Asterisk manager interface, and which contexts it guards."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_AMI_PORT
    username: str = "gatekeeper"
    secret_file: Path | None = None
    gated_contexts: tuple[str, ...] = ()
    on_bypass: BypassAction = BypassAction.HANGUP
    standby: StandbySettings | None = None
