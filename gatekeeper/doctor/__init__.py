"""`gatekeeper doctor`: the live dialplan, read over AMI, checked for unguarded routes."""

from __future__ import annotations

from gatekeeper.doctor.dialplan import (
    Dialplan,
    Problem,
    checking_contexts,
    examine,
    fetch,
    freepbx_hook,
    parse,
    unguarded,
    unknown_campaigns,
)

__all__ = [
    "Dialplan",
    "Problem",
    "checking_contexts",
    "examine",
    "fetch",
    "freepbx_hook",
    "parse",
    "unguarded",
    "unknown_campaigns",
]
