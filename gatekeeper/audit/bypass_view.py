"""Bypass records as a compliance officer reads them: one sentence each, found by number.

A bypass record is written by the AMI watchdog (see docs/operations.md): the number a channel
dialled into a gated trunk (`exten`, a dialled string, shown quoted like every dialled string
that is not known to be a number), the ALLOW it carried if any (`allowed_number`), what was
done, and whether the provider leg began (`provider_reached`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from datetime import datetime

from gatekeeper.audit.period import local_text
from gatekeeper.audit.records import EventKind
from gatekeeper.audit.store import EventRow, iter_events
from gatekeeper.rules import InvalidNumber, normalise

BYPASS_KIND = EventKind.BYPASS
MAX_SHOWN_DIALLED = 40
MAX_SHOWN_TEXT = 120

_REASONS = {
    "no_allow": "without any ALLOW",
    "number_mismatch": "while its ALLOW was for {allowed}",
}


def _shown(text: str, limit: int = MAX_SHOWN_DIALLED) -> str:
    """Quoted, control characters escaped, and cut: never more than `limit` characters."""
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _text(details: Mapping[str, object], key: str) -> str:
    value = details.get(key)
    return value if isinstance(value, str) else ""


def _action(details: Mapping[str, object]) -> str:
    if details.get("action") == "alert":
        return "reported only, not hung up (on_bypass: alert)"
    if details.get("hung_up") is True:
        return "hung up by the watchdog"
    if details.get("already_gone") is True:
        return "already ended (by the trunk guard or the dialplan) when the watchdog hung up"
    error = _text(details, "error")
    if not error:
        return "not hung up"
    return f"the watchdog's hangup failed ({_shown(error, MAX_SHOWN_TEXT)})"


def _provider(details: Mapping[str, object]) -> str:
    reached = details.get("provider_reached")
    if reached is True:
        channel = _text(details, "provider_channel")
        return f"the provider leg was reached ({_shown(channel, MAX_SHOWN_TEXT)})"
    if reached is False:
        return "the provider leg was not reached"
    return "whether the provider leg was reached is not known"


def is_told(kind: str, details: Mapping[str, object]) -> bool:
    """Whether a record is a watchdog bypass record, which readers tell as a sentence."""
    return kind == BYPASS_KIND and "exten" in details and "context" in details


def bypass_sentence(details: Mapping[str, object]) -> str:
    """One bypass record as a sentence (without its time)."""
    allowed = _text(details, "allowed_number") or "another number"
    why = _REASONS.get(_text(details, "reason"), _REASONS["no_allow"]).format(allowed=allowed)
    return (
        f"a call dialled {_shown(_text(details, 'exten'))} into trunk context "
        f"{_shown(_text(details, 'context'))} {why}: {_action(details)}; {_provider(details)}."
    )


def bypass_line(event: EventRow) -> str:
    """A bypass record as a dated sentence, with its record id."""
    return f"{local_text(event.at)}  {event.id}  bypass: {bypass_sentence(event.details)}"


def names_number(details: Mapping[str, object], e164: str) -> bool:
    """Whether the bypass dialled `e164` or carried an ALLOW for it."""
    if _text(details, "allowed_number") == e164:
        return True
    dialled = normalise(_text(details, "exten"))
    return not isinstance(dialled, InvalidNumber) and dialled.e164 == e164


def bypasses(
    conn: sqlite3.Connection,
    *,
    e164: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[EventRow]:
    """Bypass records in chain order, optionally only those naming one number."""
    for event in iter_events(conn, (BYPASS_KIND,), since, until):
        if e164 is None or names_number(event.details, e164):
            yield event
