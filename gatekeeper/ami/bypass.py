"""Which channels reach a gated context without an ALLOW: a pure state machine fed AMI events.

Theory of operation: a *gated* channel is one whose context is in `ami.gated_contexts` (the
stand-in for "the network": a trunk context). Every gated channel must descend from a call the
checker allowed, for the number it dials. The checker grants by the uniqueid of the channel that
ran the check (`allow`), for one number (E.164) and the campaign's outside-line prefix; that
channel, or the other half of its Local channel, may then dial gated channels for that number,
as often as its own dialplan says (trunk failover is the admin's business). The number a
channel dials into a gated context is the extension it enters there: the `N` of a Local
channel's name `Local/N@context-…` when a DialBegin dials one (its `DestExten` is the dialling
channel's own extension, copied by Dial: `s` when Dial runs in a subroutine), else `DestExten`,
and `Exten` of its Newchannel and of its Newexten. It is normalised like at
decision time; a different number is a bypass (`number_mismatch`), as is a channel with no
grant at all (`no_allow`). A linked id alone is not a permit: a transfer or a second Dial from
another channel of the same call inherits it, and that is exactly the unchecked call this
module exists to catch. A grant without a uniqueid falls back to the linked id.

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
Only a half that was born in the gated context waits: one that jumped there (a `Goto()` from a
route) has no DialBegin to wait for, and is a bypass at once.

Each bypass opens a *report*: it follows the bypassing channel, its Local partner and whatever
they dial, to tell whether a provider leg (a Dial to a channel that is not Local) began, before
or after the bypass was seen. `reports()` hands a report back once all those channels have hung
up, or `REPORT_WAIT_S` after the bypass (alert mode leaves the call up).
State is dropped at `Hangup`; grants and channels that never see one (events lost during an
AMI outage) expire after `STATE_TTL_S`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar

from gatekeeper.ami.client import AmiEvent
from gatekeeper.rules import InvalidNumber, normalise

STATE_TTL_S = 6 * 3600.0
MAX_GRANTS = 50_000
"""Grants held at once; beyond it the oldest goes (a late Dial on it is then a bypass)."""
PENDING_GRACE_S = 0.5
REPORT_WAIT_S = 5.0
"""How long a bypass report waits for its channels to hang up before it is handed back."""
MAX_REPORTS = 10_000
MAX_PROVIDER_DIALS = 50_000
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
    reason: str = "no_allow"
    allowed_number: str = ""
    partner_uniqueid: str = ""
    dialled_by_uniqueid: str = ""


@dataclass(frozen=True, slots=True)
class BypassReport:
    """What became of a bypass: whether a provider leg began (its channel name), once over."""

    bypass: Bypass
    provider_channel: str

    @property
    def provider_reached(self) -> bool:
        """A Dial to a channel that is not Local began on the bypassing leg."""
        return bool(self.provider_channel)


@dataclass(frozen=True, slots=True)
class _Grant:
    at: float
    number: str
    strip_prefix: str


@dataclass(slots=True)
class _Channel:
    name: str
    context: str
    exten: str
    linkedid: str
    seen_at: float
    born_in: str = ""


@dataclass(slots=True)
class _Report:
    bypass: Bypass
    opened_at: float
    members: set[str]
    provider_channel: str = ""


def _is_local(channel: str) -> bool:
    return channel.startswith("Local/")


def same_number(dialled: str, number: str, strip_prefix: str = "") -> bool:
    """Whether a dialled string names `number` (E.164), read like at decision time."""
    if not number:
        return False
    readings = [normalise(dialled)]
    if strip_prefix:
        readings.append(normalise(dialled, strip_prefix=strip_prefix))
    return any(not isinstance(r, InvalidNumber) and r.e164 == number for r in readings)


def _local_exten(name: str) -> str | None:
    """The extension a Local channel runs in its context (`Local/N@ctx-0001;1` gives N)."""
    base = _local_base(name)
    if base is None:
        return None
    target = base.removeprefix("Local/").rpartition("-")[0]
    exten, sep, _ = target.rpartition("@")
    return exten if sep else None


def _local_base(name: str) -> str | None:
    """`Local/x@ctx-0001` for either half `;1`/`;2` of a Local channel, else None."""
    if not name.startswith("Local/"):
        return None
    base, sep, half = name.rpartition(";")
    return base if sep and half in {"1", "2"} else None


class BypassDetector:
    """Feed it every AMI event in order; it names each gated channel that has no ALLOW."""

    def __init__(
        self,
        gated_contexts: Iterable[str],
        clock: Callable[[], float] = time.monotonic,
        *,
        max_reports: int = MAX_REPORTS,
    ) -> None:
        self.gated_contexts = frozenset(gated_contexts)
        self._clock = clock
        self._max_reports = max_reports
        self._grants: dict[str, _Grant] = {}
        self._linked_grants: dict[str, _Grant] = {}
        self._channels: dict[str, _Channel] = {}
        self._partner: dict[str, str] = {}
        self._local_halves: dict[str, str] = {}
        self._verdicts: dict[str, bool] = {}
        self._pending: dict[str, tuple[float, Bypass]] = {}
        self._provider_dials: dict[str, str] = {}
        self._reports: dict[str, _Report] = {}
        self._open: dict[int, _Report] = {}
        self._finished: list[BypassReport] = []
        self._events = 0

    def allow(self, uniqueid: str, linkedid: str, number: str, strip_prefix: str = "") -> None:
        """The checker allowed `number` (E.164) on `uniqueid` (of the call `linkedid`).

        `strip_prefix` is the campaign's outside-line prefix: a gated extension that still
        carries it names the same number.
        """
        now = self._clock()
        grants, key = (self._grants, uniqueid) if uniqueid else (self._linked_grants, linkedid)
        if not key:
            return
        if len(grants) >= MAX_GRANTS:
            del grants[next(iter(grants))]
        grants[key] = _Grant(now, number, strip_prefix)

    def feed(self, event: AmiEvent) -> list[Bypass]:
        """Update the state; return the bypasses this event shows (or lets expire)."""
        self._events += 1
        if self._events % PRUNE_EVERY_EVENTS == 0:
            self._prune()
        handler = self._handlers.get(event.name)
        found = handler(self, event) if handler is not None else None
        expired = self.expire() if self._pending else []
        if found is None:
            return expired
        self._open_report(found)
        return [found, *expired]

    def expire(self) -> list[Bypass]:
        """Bypasses whose grace for a late DialBegin ran out (call this now and then)."""
        horizon = self._clock() - PENDING_GRACE_S
        late = [(u, found) for u, (at, found) in self._pending.items() if at <= horizon]
        for uniqueid, found in late:
            self._settle(uniqueid, permitted=False)
            self._open_report(found)
        return [found for _, found in late]

    def reports(self) -> list[BypassReport]:
        """Reports of bypasses whose channels all hung up, or whose wait ran out."""
        horizon = self._clock() - REPORT_WAIT_S
        for report in list(self._open.values()):
            if report.opened_at > horizon:
                break
            self._close_report(report)
        done, self._finished = self._finished, []
        return done

    @property
    def tracked(self) -> int:
        """How many channels, grants, verdicts and reports are held (for tests and metrics)."""
        return (
            len(self._channels)
            + len(self._grants)
            + len(self._verdicts)
            + len(self._pending)
            + len(self._provider_dials)
            + len(self._open)
        )

    def _on_newchannel(self, event: AmiEvent) -> None:
        uniqueid = event.get("Uniqueid")
        name = event.get("Channel")
        self._channels[uniqueid] = _Channel(
            name=name,
            context=event.get("Context"),
            exten=event.get("Exten"),
            linkedid=event.get("Linkedid"),
            seen_at=self._clock(),
            born_in=event.get("Context"),
        )
        base = _local_base(name)
        if base is not None:
            other = self._local_halves.pop(base, None)
            if other is None:
                self._local_halves[base] = uniqueid
            else:
                self._pair(uniqueid, other)
        if event.get("Context") in self.gated_contexts and self._permits(
            self._grant_for(uniqueid), event.get("Exten")
        ):
            self._settle(uniqueid, permitted=True)

    def _on_local_bridge(self, event: AmiEvent) -> None:
        self._pair(event.get("LocalOneUniqueid"), event.get("LocalTwoUniqueid"))

    def _on_dial_begin(self, event: AmiEvent) -> Bypass | None:
        self._note_dial(event)
        dest = event.get("DestUniqueid")
        if event.get("DestContext") not in self.gated_contexts or dest in self._verdicts:
            return None
        caller = event.get("Uniqueid")
        exten = _local_exten(event.get("DestChannel")) or event.get("DestExten")
        grant = self._grant_for(dest) or (self._grant_for(caller) if caller else None)
        permitted = self._permits(grant, exten)
        self._settle(dest, permitted=permitted)
        if permitted:
            return None
        return self._bypass(
            dest,
            channel=event.get("DestChannel"),
            context=event.get("DestContext"),
            exten=exten,
            linkedid=event.get("DestLinkedid"),
            trigger="DialBegin",
            dialled_by=event.get("Channel"),
            dialled_by_uniqueid=caller,
            grant=grant,
        )

    def _note_dial(self, event: AmiEvent) -> None:
        """Remember provider legs begun from gated channels and from bypassing legs."""
        caller = event.get("Uniqueid")
        report = self._reports.get(caller)
        dest, dest_channel = event.get("DestUniqueid"), event.get("DestChannel")
        if report is not None:
            if not _is_local(dest_channel):
                report.provider_channel = report.provider_channel or dest_channel
            elif dest:
                for member in (dest, self._partner.get(dest)):
                    if member:
                        report.members.add(member)
                        self._reports[member] = report
        elif event.get("Context") in self.gated_contexts and not _is_local(dest_channel):
            if len(self._provider_dials) >= MAX_PROVIDER_DIALS:
                del self._provider_dials[next(iter(self._provider_dials))]
            self._provider_dials.setdefault(caller, dest_channel)

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
        exten = event.get("Exten")
        grant = self._grant_for(uniqueid)
        if self._permits(grant, exten):
            self._settle(uniqueid, permitted=True)
            return None
        found = self._bypass(
            uniqueid,
            channel=event.get("Channel"),
            context=context,
            exten=exten,
            linkedid=event.get("Linkedid"),
            trigger="Newexten",
            dialled_by="",
            grant=grant,
        )
        born_gated = known is None or known.born_in in self.gated_contexts
        if partner is not None and born_gated and found.channel.endswith(";2"):
            self._pending.setdefault(uniqueid, (self._clock(), found))
            return None
        self._settle(uniqueid, permitted=False)
        return found

    def _on_hangup(self, event: AmiEvent) -> None:
        uniqueid = event.get("Uniqueid")
        self._provider_dials.pop(uniqueid, None)
        report = self._reports.pop(uniqueid, None)
        if report is not None:
            report.members.discard(uniqueid)
            if not report.members:
                self._close_report(report)
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

    def _grant_for(self, uniqueid: str) -> _Grant | None:
        grant = self._grants.get(uniqueid)
        if grant is not None:
            return grant
        partner = self._partner.get(uniqueid)
        if partner is not None and partner in self._grants:
            return self._grants[partner]
        channel = self._channels.get(uniqueid)
        return self._linked_grants.get(channel.linkedid) if channel is not None else None

    @staticmethod
    def _permits(grant: _Grant | None, exten: str) -> bool:
        return grant is not None and same_number(exten, grant.number, grant.strip_prefix)

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
        grant: _Grant | None,
        dialled_by_uniqueid: str = "",
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
            reason="no_allow" if grant is None else "number_mismatch",
            allowed_number=grant.number if grant is not None else "",
            partner_uniqueid=partner or "",
            dialled_by_uniqueid=dialled_by_uniqueid,
        )

    def _open_report(self, found: Bypass) -> None:
        members = {m for m in (found.uniqueid, found.partner_uniqueid) if m}
        provider = next((self._provider_dials[m] for m in members if m in self._provider_dials), "")
        if len(self._open) >= self._max_reports:
            self._close_report(next(iter(self._open.values())))
        report = _Report(found, self._clock(), members, provider)
        self._open[id(report)] = report
        for member in members:
            self._reports[member] = report

    def _close_report(self, report: _Report) -> None:
        for member in report.members:
            self._reports.pop(member, None)
        report.members.clear()
        self._open.pop(id(report), None)
        self._finished.append(BypassReport(report.bypass, report.provider_channel))

    def _prune(self) -> None:
        horizon = self._clock() - STATE_TTL_S
        for grants in (self._grants, self._linked_grants):
            for key in [k for k, grant in grants.items() if grant.at < horizon]:
                del grants[key]
        for uniqueid in [u for u, c in self._channels.items() if c.seen_at < horizon]:
            self._on_hangup(AmiEvent("Hangup", {"Uniqueid": uniqueid}))
