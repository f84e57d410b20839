"""The `ami` section of the configuration: how to reach the manager interface, what it guards."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

DEFAULT_AMI_PORT = 5038


class BypassAction(enum.StrEnum):
    """What the watchdog does with a call that reached a gated context without an ALLOW."""

    HANGUP = "hangup"
    ALERT = "alert"


@dataclass(frozen=True, slots=True)
class AmiSettings:
    """How to reach the Asterisk manager interface, and which contexts it guards."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_AMI_PORT
    username: str = "gatekeeper"
    secret_file: Path | None = None
    gated_contexts: tuple[str, ...] = ()
    on_bypass: BypassAction = BypassAction.HANGUP
