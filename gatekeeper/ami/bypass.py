"""Which channels reach a gated context without an ALLOW: a pure state machine fed AMI events.

Theory of operation: a *gated* channel is one whose context is in `ami.gated_contexts` (the
stand-in for "the network": a trunk context). Every gated channel must descend from a call the
checker allowed. The checker grants by the uniqueid of the channel that ran the check (`allow`);
that channel, or the other half of its Local channel, may then dial gated channels, as often as
its own dialplan says (trunk failover is the admin's business). A linked id alone is not a
permit: a transfer or a second Dial from another channel of the same call inherits it, and
that is exactly the unchecked call this module exists to catch. A grant without a uniqueid
falls back to the linked id.

The decision for a gated channel is made at the first event that shows it dialling out:
`DialBegin` with it as destination (which names the dialling channel, if any: an Originate
straight into the trunk names none), or `Newexten` running dialplan in the gated context (a
redirect or transfer into it; the `AppDial`/`AppDial2` placeholders Asterisk shows on a channel
being dialled, before its DialBegin, are not dialplan). `Newchannel` comes first of all but
cannot yet say who dials; it decides only when the channel's own grant already covers it. Both
halves of a Local channel share one verdict, so a bypass is reported once. Asterisk publishes
the events of different channels from different threads, so the second half of a Local channel
may run its first dialplan step just before the DialBegin of its first half arrives: such a
half waits up to `PENDING_GRACE_S` for its partner's verdict, and is a bypass if none comes.
State is dropped at `Hangup`; grants and channels that never see one (events lost during an
AMI outage) expire after `STATE_TTL_S`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar

from gatekeeper.ami.client import AmiEvent

STATE_TTL_S = 6 * 3600.0
MAX_GRANTS = 50_000
"""Grants held at once; beyond it the oldest goes (a late Dial on it is then a bypass)."""
PENDING_GRACE_S = 0.5
PRUNE_EVERY_EVENTS = 5_000
DIALLED_PSEUDO_APPS = frozenset({"AppDial", "AppDial2"})
"""What Newexten shows on a channel being dialled (by Dial, by Originate): not dialplan."""


@dataclass(frozen=True, slots=True)
class Bypass:
    """A gated channel found dialling out without an ALLOW."""

    channel: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    trigger: str
    dialled_by: str
    partner_channel: str


@dataclass(slots=True)
class _Channel:
    name: str
    context: str
    exten: str
    linkedid: str
    seen_at: float


def _local_base(name: str) -> str | None:
    """`Local/x@ctx-0001` for either half `;1`/`;2` of a Local channel, else None."""
    if not name.startswith("Local/"):
        return None
    base, sep, half = name.rpartition(";")
    return base if sep and half in {"1", "2"} else None


class BypassDetector:
    """Feed it every AMI event in order; it names each gated channel that has no ALLOW."""

    def __init__(
        self, gated_contexts: Iterable[str], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.gated_contexts = frozenset(gated_contexts)
        self._clock = clock
        self._grants: dict[str, float] = {}
        self._linked_grants: dict[str, float] = {}
        self._channels: dict[str, _Channel] = {}
        self._partner: dict[str, str] = {}
        self._local_halves: dict[str, str] = {}
        self._verdicts: dict[str, bool] = {}
        self._pending: dict[str, tuple[float, Bypass]] = {}
        self._events = 0

    def allow(self, uniqueid: str, linkedid: str = "") -> None:
        """The checker allowed the call running on `uniqueid` (of the call `linkedid`)."""
        now = self._clock()
        grants, key = (self._grants, uniqueid) if uniqueid else (self._linked_grants, linkedid)
        if not key:
            return
        if len(grants) >= MAX_GRANTS:
            del grants[next(iter(grants))]
        grants[key] = now

    def feed(self, event: AmiEvent) -> list[Bypass]:
        """Update the state; return the bypasses this event shows (or lets expire)."""
        self._events += 1
        if self._events % PRUNE_EVERY_EVENTS == 0:
            self._prune()
        handler = self._handlers.get(event.name)
        found = handler(self, event) if handler is not None else None
        expired = self.expire() if self._pending else []
        return [found, *expired] if found is not None else expired

    def expire(self) -> list[Bypass]:
        """Bypasses whose grace for a late DialBegin ran out (call this now and then)."""
        horizon = self._clock() - PENDING_GRACE_S
        late = [(u, found) for u, (at, found) in self._pending.items() if at <= horizon]
        for uniqueid, _ in late:
            self._settle(uniqueid, permitted=False)
        return [found for _, found in late]

    @property
    def tracked(self) -> int:
        """How many channels, grants and verdicts are held (for tests and metrics)."""
        return len(self._channels) + len(self._grants) + len(self._verdicts) + len(self._pending)

    def _on_newchannel(self, event: AmiEvent) -> None:
        uniqueid = event.get("Uniqueid")
        name = event.get("Channel")
        self._channels[uniqueid] = _Channel(
            name=name,
            context=event.get("Context"),
            exten=event.get("Exten"),
            linkedid=event.get("Linkedid"),
            seen_at=self._clock(),
        )
        base = _local_base(name)
        if base is not None:
            other = self._local_halves.pop(base, None)
            if other is None:
                self._local_halves[base] = uniqueid
            else:
                self._pair(uniqueid, other)
        if event.get("Context") in self.gated_contexts and self._granted(uniqueid):
            self._settle(uniqueid, permitted=True)

    def _on_local_bridge(self, event: AmiEvent) -> None:
        self._pair(event.get("LocalOneUniqueid"), event.get("LocalTwoUniqueid"))

    def _on_dial_begin(self, event: AmiEvent) -> Bypass | None:
        dest = event.get("DestUniqueid")
        if event.get("DestContext") not in self.gated_contexts or dest in self._verdicts:
            return None
        caller = event.get("Uniqueid")
        permitted = self._granted(dest) or (bool(caller) and self._granted(caller))
        self._settle(dest, permitted=permitted)
        if permitted:
            return None
        return self._bypass(
            dest,
            channel=event.get("DestChannel"),
            context=event.get("DestContext"),
            exten=event.get("DestExten"),
            linkedid=event.get("DestLinkedid"),
            trigger="DialBegin",
            dialled_by=event.get("Channel"),
        )

    def _on_newexten(self, event: AmiEvent) -> Bypass | None:
        uniqueid = event.get("Uniqueid")
        context = event.get("Context")
        known = self._channels.get(uniqueid)
        if known is not None:
            known.context = context
        if (
            context not in self.gated_contexts
            or event.get("Application") in DIALLED_PSEUDO_APPS
            or uniqueid in self._verdicts
        ):
            return None
        partner = self._partner.get(uniqueid)
        if partner is not None and partner in self._verdicts:
            self._verdicts[uniqueid] = self._verdicts[partner]
            return None
        if self._granted(uniqueid):
            self._settle(uniqueid, permitted=True)
            return None
        found = self._bypass(
            uniqueid,
            channel=event.get("Channel"),
            context=context,
            exten=event.get("Exten"),
            linkedid=event.get("Linkedid"),
            trigger="Newexten",
            dialled_by="",
        )
        if partner is not None and found.channel.endswith(";2"):
            self._pending.setdefault(uniqueid, (self._clock(), found))
            return None
        self._settle(uniqueid, permitted=False)
        return found

    def _on_hangup(self, event: AmiEvent) -> None:
        uniqueid = event.get("Uniqueid")
        channel = self._channels.pop(uniqueid, None)
        if channel is not None:
            base = _local_base(channel.name)
            if base is not None and self._local_halves.get(base) == uniqueid:
                del self._local_halves[base]
        self._grants.pop(uniqueid, None)
        self._verdicts.pop(uniqueid, None)
        partner = self._partner.pop(uniqueid, None)
        if partner is not None:
            self._partner.pop(partner, None)

    _handlers: ClassVar[dict[str, Callable[[BypassDetector, AmiEvent], Bypass | None]]] = {
        "Newchannel": _on_newchannel,
        "LocalBridge": _on_local_bridge,
        "DialBegin": _on_dial_begin,
        "Newexten": _on_newexten,
        "Hangup": _on_hangup,
    }

    def _pair(self, one: str, two: str) -> None:
        if one and two:
            self._partner[one] = two
            self._partner[two] = one

    def _granted(self, uniqueid: str) -> bool:
        if uniqueid in self._grants:
            return True
        partner = self._partner.get(uniqueid)
        if partner is not None and partner in self._grants:
            return True
        channel = self._channels.get(uniqueid)
        return channel is not None and channel.linkedid in self._linked_grants

    def _settle(self, uniqueid: str, *, permitted: bool) -> None:
        self._verdicts[uniqueid] = permitted
        self._pending.pop(uniqueid, None)
        partner = self._partner.get(uniqueid)
        if partner is not None:
            self._verdicts[partner] = permitted
            self._pending.pop(partner, None)

    def _bypass(  # noqa: PLR0913 - one field per Bypass attribute
        self,
        uniqueid: str,
        *,
        channel: str,
        context: str,
        exten: str,
        linkedid: str,
        trigger: str,
        dialled_by: str,
    ) -> Bypass:
        partner = self._partner.get(uniqueid)
        known = self._channels.get(partner) if partner is not None else None
        return Bypass(
            channel=channel,
            uniqueid=uniqueid,
            linkedid=linkedid,
            context=context,
            exten=exten,
            trigger=trigger,
            dialled_by=dialled_by,
            partner_channel=known.name if known is not None else "",
        )

    def _prune(self) -> None:
        horizon = self._clock() - STATE_TTL_S
        for grants in (self._grants, self._linked_grants):
            for key in [k for k, at in grants.items() if at < horizon]:
                del grants[key]
        for uniqueid in [u for u, c in self._channels.items() if c.seen_at < horizon]:
            self._on_hangup(AmiEvent("Hangup", {"Uniqueid": uniqueid}))
