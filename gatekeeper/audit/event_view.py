"""Events, checkpoints and call outcomes of the chain, as a compliance officer reads them.

Each kind the gatekeeper writes has the few details that say what was in force (which list,
which rules, which scrub); the table shows those, and any other kind shows all its details. The
JSON form keeps every detail. Every cell of the table goes through `shown`: details come from
outside (a campaign, a file name, an error text) and reach a terminal only as printable text.
"""

from __future__ import annotations

import re
from typing import Any

from gatekeeper.audit.bypass_view import bypass_sentence, is_told
from gatekeeper.audit.period import local_text
from gatekeeper.audit.records import EventKind
from gatekeeper.audit.store import EventRow
from gatekeeper.common import shown

SUMMARY_KEYS: dict[str, tuple[str, ...]] = {
    EventKind.LIST_SYNC: (
        "status",
        "list_date",
        "rows",
        "added",
        "removed",
        "snapshot_id",
        "sha256",
        "source",
        "error",
    ),
    EventKind.SERVICE_START: (
        "licensee",
        "licence_valid_until",
        "max_age_days",
        "campaigns",
        "config_sha256",
    ),
    EventKind.CONFIG_RELOAD: (
        "status",
        "error",
        "restart_required",
        "licence_valid_until",
        "max_age_days",
        "campaigns",
        "config_sha256",
    ),
    EventKind.SCRUB: (
        "scrub_id",
        "campaign",
        "input.name",
        "rows",
        "verdicts.allow",
        "verdicts.block",
        "snapshot.list_date",
        "snapshot.sha256",
        "output.sha256",
    ),
    EventKind.OUTCOME: ("uniqueid", "decision_id", "outcome"),
    EventKind.PURGE: ("purged_through_seq", "purged_before", "counts"),
}
EVENT_COLUMNS = ("time (Brussels)", "record id", "kind", "details")
SHORT_HASH = 12

_HASH = re.compile(r"[0-9a-f]{40,}")
_MISSING = object()


def _text(value: object) -> str:
    if isinstance(value, dict):
        parts = []
        for key, inner in value.items():
            if isinstance(inner, dict):
                parts.append(f"{key}({_text(inner)})")
            else:
                parts.append(f"{key}:{_text(inner)}")
        return ",".join(parts)
    if isinstance(value, list):
        return ",".join(_text(item) for item in value)
    if value is None:
        return "-"
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if _HASH.fullmatch(text):
        return text[:SHORT_HASH] + "…"
    return text


def _lookup(details: dict[str, Any], dotted: str) -> object:
    value: object = details
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _leaves(details: dict[str, Any], prefix: str = "") -> list[tuple[str, object]]:
    leaves: list[tuple[str, object]] = []
    for key, value in details.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            leaves.extend(_leaves(value, f"{name}."))
        else:
            leaves.append((name, value))
    return leaves


def summary(event: EventRow) -> str:
    """The details that matter for this kind, as `key=value` pairs (a bypass as a sentence)."""
    if is_told(event.kind, event.details):
        return bypass_sentence(event.details)
    keys = SUMMARY_KEYS.get(event.kind, ())
    picked = [(key, _lookup(event.details, key)) for key in keys]
    if event.kind == EventKind.OUTCOME:
        picked = [
            (key, outcome_text(value) if key == "outcome" and isinstance(value, dict) else value)
            for key, value in picked
        ]
    pairs = [(key, value) for key, value in picked if value is not _MISSING]
    if not pairs:
        pairs = _leaves(event.details)
    return " ".join(f"{key}={_text(value)}" for key, value in pairs)


def event_json(event: EventRow) -> dict[str, object]:
    """One record as a JSON object, every detail kept."""
    return {
        "id": event.id,
        "seq": event.seq,
        "at": event.at,
        "at_brussels": local_text(event.at),
        "type": event.type,
        "kind": event.kind,
        "details": event.details,
    }


def format_events(events: list[EventRow]) -> str:
    """Records as an aligned text table with a count line."""
    cells = [
        EVENT_COLUMNS,
        *(tuple(map(shown, (local_text(e.at), e.id, e.kind, summary(e)))) for e in events),
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(EVENT_COLUMNS))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"{len(events)} record(s)")
    return "\n".join(lines)


def outcome_text(outcome: dict[str, object] | None) -> str:
    """A call's outcome as a person reads it: `answered, talked 12.5 s`, `-` when none."""
    if not outcome:
        return "-"
    result = str(outcome.get("result") or "unknown").replace("_", " ")
    parts = [result]
    talk = outcome.get("talk_seconds")
    if isinstance(talk, int | float) and talk:
        parts.append(f"talked {talk:.1f} s")
    cause = outcome.get("hangup_cause_text")
    if cause and result != "answered":
        parts.append(str(cause))
    if result == "bypassed":
        return "bypassed: the call went on to dial a number it had no ALLOW for (see bypasses)"
    if outcome.get("reached_network") is False:
        parts.append("never reached the network")
    return ", ".join(parts)
