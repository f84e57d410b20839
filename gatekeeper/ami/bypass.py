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

Each channel (by uniqueid) is in one `ChannelState`, moved by `TRANSITIONS`: the handler of an
AMI event reads what the event shows about a channel (a `ChannelEvent`), and the table gives
the channel's next state and what to report. A channel is decided at the first event that
shows it dialling out: `DialBegin` with it as destination (which names the dialling channel,
if any: an Originate straight into the trunk names none), or `Newexten` running dialplan in
the gated context (a redirect or transfer into it; the `AppDial`/`AppDial2` placeholders
Asterisk shows on a channel being dialled, before its DialBegin, are not dialplan).
`Newchannel` comes first of all but cannot yet say who dials; it decides only when the
channel's own grant already covers it (COVERED). Asterisk publishes the events of different
channels from different threads, so the second half (`;2`) of a Local channel born in the
gated context may run its first dialplan step just before the DialBegin of its first half
arrives (RAN_EARLY): it waits up to `PENDING_GRACE_S` for its partner's verdict, and is a
bypass if none comes. A half that jumped there (a `Goto()` from a route), or whose partner is
gone, has no DialBegin to wait for, and is a bypass at once (RAN).

    UNDECIDED  --COVERED, PARTNER_DECIDED-->  DECIDED
    UNDECIDED  --DIALLED, RAN-->              DECIDED, the bypass reported
    UNDECIDED  --RAN_EARLY-->                 WAITING, the bypass held
    WAITING    --COVERED, PARTNER_DECIDED-->  DECIDED, the held bypass dropped
    WAITING    --DIALLED, RAN-->              DECIDED, this bypass reported, the held dropped
    WAITING    --RAN_EARLY-->                 WAITING, the first held bypass kept
    WAITING    --GRACE_OVER-->                DECIDED, the held bypass reported
    WAITING    --HANGUP-->                    HUNG_UP_WAITING
    HUNG_UP_WAITING  --GRACE_OVER-->          UNDECIDED (forgotten), the held bypass reported
    DECIDED    --HANGUP-->                    UNDECIDED (forgotten)

Every channel starts UNDECIDED (nothing is held for it); a pair not in the table changes
nothing: a decided channel stays decided until its Hangup, whatever it does. Entering DECIDED
tells the channel's Local partner (PARTNER_DECIDED), so both halves share one verdict and a
bypass is reported once; a half that runs dialplan after its partner was decided takes that
verdict too.

Each bypass opens a *report*: it follows the bypassing channel, its Local partner and whatever
they dial, to tell whether a provider leg (a Dial to a channel that is not Local) began, before
or after the bypass was seen. `reports()` hands a report back once all those channels have hung
up, or `REPORT_WAIT_S` after the bypass (alert mode leaves the call up).
State is dropped at `Hangup` (a waiting channel's bypass stays due until its grace runs out);
grants and channels that never see one (events lost during an AMI outage) expire after
`STATE_TTL_S`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum, auto
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


class ChannelState(Enum):
    """Where one channel stands at the gate."""

    UNDECIDED = auto()
    """No verdict yet: every channel starts here, and is forgotten back into it."""
    WAITING = auto()
    """A trunk-born Local `;2` half ran dialplan unpermitted; its partner's DialBegin may follow."""
    DECIDED = auto()
    """Allowed, or reported as a bypass: decided once, until its Hangup."""
    HUNG_UP_WAITING = auto()
    """Hung up while waiting: its bypass is still reported when the grace runs out."""


class ChannelEvent(Enum):
    """What an AMI event shows about one channel."""

    COVERED = auto()
    """Its grant covers the number it enters a gated context with (Newchannel, DialBegin into
    it, or its Newexten there)."""
    DIALLED = auto()
    """A DialBegin dials it into a gated context, and no grant covers the number."""
    RAN = auto()
    """It runs dialplan in a gated context, no grant covers the number, and nothing is late."""
    RAN_EARLY = auto()
    """The same on a Local `;2` half born in the gated context: its partner's DialBegin may come."""
    PARTNER_DECIDED = auto()
    """Its Local partner was decided (or, when it runs dialplan in a gated context, already is)."""
    GRACE_OVER = auto()
    """`PENDING_GRACE_S` passed since it began waiting."""
    HANGUP = auto()
    """It hung up (or its Newchannel is older than `STATE_TTL_S`)."""


class Finding(Enum):
    """What a transition reports."""

    NOTHING = auto()
    BYPASS = auto()
    """The bypass this event shows, now."""
    HOLD = auto()
    """The bypass this event shows is held, and reported if the grace runs out."""
    HELD = auto()
    """The bypass held since the channel began waiting, now."""


@dataclass(frozen=True, slots=True)
class Transition:
    """The state a channel moves to, and what that reports."""

    next: ChannelState
    finding: Finding = Finding.NOTHING


_U, _W, _D, _H = (
    ChannelState.UNDECIDED,
    ChannelState.WAITING,
    ChannelState.DECIDED,
    ChannelState.HUNG_UP_WAITING,
)
TRANSITIONS: dict[tuple[ChannelState, ChannelEvent], Transition] = {
    (_U, ChannelEvent.COVERED): Transition(_D),
    (_U, ChannelEvent.PARTNER_DECIDED): Transition(_D),
    (_U, ChannelEvent.DIALLED): Transition(_D, Finding.BYPASS),
    (_U, ChannelEvent.RAN): Transition(_D, Finding.BYPASS),
    (_U, ChannelEvent.RAN_EARLY): Transition(_W, Finding.HOLD),
    (_W, ChannelEvent.COVERED): Transition(_D),
    (_W, ChannelEvent.PARTNER_DECIDED): Transition(_D),
    (_W, ChannelEvent.DIALLED): Transition(_D, Finding.BYPASS),
    (_W, ChannelEvent.RAN): Transition(_D, Finding.BYPASS),
    (_W, ChannelEvent.RAN_EARLY): Transition(_W),
    (_W, ChannelEvent.GRACE_OVER): Transition(_D, Finding.HELD),
    (_W, ChannelEvent.HANGUP): Transition(_H),
    (_H, ChannelEvent.GRACE_OVER): Transition(_U, Finding.HELD),
    (_D, ChannelEvent.HANGUP): Transition(_U),
}
"""(state, event) to the next state and finding; a pair not listed changes nothing."""
HOLDING_STATES = frozenset({ChannelState.WAITING, ChannelState.HUNG_UP_WAITING})
"""The states that hold a bypass until the grace runs out."""


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


@dataclass(frozen=True, slots=True)
class _Channel:
    name: str
    linkedid: str
    born_in: str
    seen_at: float


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
        self._states: dict[str, ChannelState] = {}
        self._held: dict[str, tuple[float, Bypass]] = {}
        self._provider_dials: dict[str, str] = {}
        self._reports: dict[str, _Report] = {}
        self._open: dict[int, _Report] = {}
        self._finished: list[BypassReport] = []
        self._until_prune = PRUNE_EVERY_EVENTS

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
        self._until_prune -= 1
        if self._until_prune <= 0:
            self._until_prune = PRUNE_EVERY_EVENTS
            self._prune()
        handler = self._handlers.get(event.name)
        found = handler(self, event) if handler is not None else None
        expired = self.expire()
        if found is None:
            return expired
        self._open_report(found)
        return [found, *expired]

    def expire(self) -> list[Bypass]:
        """Bypasses whose grace for a late DialBegin ran out (call this now and then)."""
        horizon = self._clock() - PENDING_GRACE_S
        late = [uniqueid for uniqueid, (at, _) in self._held.items() if at <= horizon]
        found: list[Bypass] = []
        for uniqueid in late:
            bypass = self._step(uniqueid, ChannelEvent.GRACE_OVER)
            if bypass is not None:
                self._open_report(bypass)
                found.append(bypass)
        return found

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
        """How many channels, grants, channel states and reports are held (for tests, metrics)."""
        return (
            len(self._channels)
            + len(self._grants)
            + len(self._states)
            + len(self._provider_dials)
            + len(self._open)
        )

    def _step(
        self, uniqueid: str, event: ChannelEvent, shown: Bypass | None = None
    ) -> Bypass | None:
        """Move one channel by `TRANSITIONS`; return the bypass to report, if any."""
        move = TRANSITIONS.get((self._states.get(uniqueid, ChannelState.UNDECIDED), event))
        if move is None:
            return None
        if move.next is ChannelState.UNDECIDED:
            del self._states[uniqueid]
        else:
            self._states[uniqueid] = move.next
        if move.finding is Finding.HOLD and shown is not None:
            self._held[uniqueid] = (self._clock(), shown)
        held = None if move.next in HOLDING_STATES else self._held.pop(uniqueid, None)
        if move.next is ChannelState.DECIDED:
            partner = self._partner.get(uniqueid)
            if partner is not None:
                self._step(partner, ChannelEvent.PARTNER_DECIDED)
        if move.finding is Finding.BYPASS:
            return shown
        if move.finding is Finding.HELD and held is not None:
            return held[1]
        return None

    def _on_newchannel(self, event: AmiEvent) -> None:
        uniqueid = event.get("Uniqueid")
        name = event.get("Channel")
        context = event.get("Context")
        self._channels[uniqueid] = _Channel(
            name=name, linkedid=event.get("Linkedid"), born_in=context, seen_at=self._clock()
        )
        base = _local_base(name)
        if base is not None:
            other = self._local_halves.pop(base, None)
            if other is None:
                self._local_halves[base] = uniqueid
            else:
                self._pair(uniqueid, other)
        if context in self.gated_contexts and self._permits(
            self._grant_for(uniqueid), event.get("Exten")
        ):
            self._step(uniqueid, ChannelEvent.COVERED)

    def _on_local_bridge(self, event: AmiEvent) -> None:
        self._pair(event.get("LocalOneUniqueid"), event.get("LocalTwoUniqueid"))

    def _on_dial_begin(self, event: AmiEvent) -> Bypass | None:
        self._note_dial(event)
        if event.get("DestContext") not in self.gated_contexts:
            return None
        dest, caller = event.get("DestUniqueid"), event.get("Uniqueid")
        exten = _local_exten(event.get("DestChannel")) or event.get("DestExten")
        grant = self._grant_for(dest) or (self._grant_for(caller) if caller else None)
        if self._permits(grant, exten):
            return self._step(dest, ChannelEvent.COVERED)
        found = self._bypass(
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
        return self._step(dest, ChannelEvent.DIALLED, found)

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
        if context not in self.gated_contexts or event.get("Application") in DIALLED_PSEUDO_APPS:
            return None
        partner = self._partner.get(uniqueid)
        if partner is not None and self._states.get(partner) is ChannelState.DECIDED:
            return self._step(uniqueid, ChannelEvent.PARTNER_DECIDED)
        exten = event.get("Exten")
        grant = self._grant_for(uniqueid)
        if self._permits(grant, exten):
            return self._step(uniqueid, ChannelEvent.COVERED)
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
        known = self._channels.get(uniqueid)
        born_gated = known is None or known.born_in in self.gated_contexts
        early = partner is not None and born_gated and found.channel.endswith(";2")
        return self._step(uniqueid, ChannelEvent.RAN_EARLY if early else ChannelEvent.RAN, found)

    def _on_hangup(self, event: AmiEvent) -> None:
        self._forget(event.get("Uniqueid"))

    _handlers: ClassVar[dict[str, Callable[[BypassDetector, AmiEvent], Bypass | None]]] = {
        "Newchannel": _on_newchannel,
        "LocalBridge": _on_local_bridge,
        "DialBegin": _on_dial_begin,
        "Newexten": _on_newexten,
        "Hangup": _on_hangup,
    }

    def _forget(self, uniqueid: str) -> None:
        """Drop what is held for a channel that hung up (a waiting one's bypass stays due)."""
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
        self._step(uniqueid, ChannelEvent.HANGUP)
        partner = self._partner.pop(uniqueid, None)
        if partner is not None:
            self._partner.pop(partner, None)

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
            self._forget(uniqueid)
