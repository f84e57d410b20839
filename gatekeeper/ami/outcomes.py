"""What became of each decided call, learnt from AMI events: a pure state machine.

Theory of operation: the checker names the channel that asked (its uniqueid) when it decides.
From then on that channel's `DialBegin` events start dial attempts (the destination's uniqueid
is remembered), its `DialEnd` gives each attempt's DialStatus (ANSWER, BUSY, NOANSWER,
CONGESTION, CHANUNAVAIL, CANCEL...), and the destination's `Hangup` gives the Q.850 cause and
the end of the talk time. The call is finished once the asking channel has hung up and every
destination too; an attempt whose destination never reports (events lost) is closed by
`expire()` after `SETTLE_S`. A channel that asks again (a failover trunk re-runs the check)
finishes its previous decision, whose dial attempts are over or end on their own destination's
events: each decision gets the outcome of its own attempts, and names its decision's id.
The checker reports a decision before Asterisk has it, but the AMI events of the dial that came
before it on the same channel may still be on their way (the event stream lags the FastAGI path
under load). So a second decision on a channel waits for its marker in the event stream, the
`VarSet` of `GK_DECISION_ID` to its id, which Asterisk emits after every event of the earlier
dial: dials seen before the marker stay with the earlier decision. A link that has shown no
marker yet (a manager user without that event filter) switches at once, as a hangup of the
channel or `SETTLE_S` without a marker does. A call
the bypass detector finds dialling another number than the one allowed is *diverted*: from then
on its dial attempts are not the decision's, and its outcome says `bypassed` rather than describe
a call to a number nobody allowed.
Times are the events' arrival times on the monotonic clock (not when they were processed), so
the figures are as exact as the AMI link's latency.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gatekeeper.ami.client import AmiEvent

SETTLE_S = 5.0
DECISION_MARKER = "GK_DECISION_ID"
"""The channel variable whose `VarSet` event places a decision in the AMI event stream."""
FORGET_AFTER_S = 6 * 3600.0
MAX_CALLS = 50_000
"""Calls followed at once; beyond it the oldest is closed early (flagged), so memory stays
bounded even when AMI is down for long at full call rate."""

DIAL_STATUS_OUTCOMES: Mapping[str, str] = {
    "ANSWER": "answered",
    "BUSY": "busy",
    "NOANSWER": "no_answer",
    "CONGESTION": "congestion",
    "CHANUNAVAIL": "unavailable",
    "CANCEL": "cancelled",
}


@dataclass(slots=True)
class _Attempt:
    dest_uniqueid: str
    began_at: float
    status: str = ""
    answered_at: float | None = None
    ended_at: float | None = None
    cause: int | None = None
    cause_text: str = ""


@dataclass(slots=True)
class _Call:
    uniqueid: str
    linkedid: str
    verdict: str
    decided_at: float
    decision_id: str = ""
    attempts: list[_Attempt] = field(default_factory=list)
    hung_up_at: float | None = None
    cause: int | None = None
    cause_text: str = ""
    link_gap: bool = False
    diverted: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one decided call, ready for the decision log."""

    uniqueid: str
    fields: Mapping[str, object]


def _cause(event: AmiEvent) -> int | None:
    raw = event.get("Cause")
    return int(raw) if raw.isdigit() else None


def _seconds(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max(0.0, end - start), 3)


class OutcomeTracker:
    """Feed it every AMI event in order; it hands back each call's outcome once it is over."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, *, max_calls: int = MAX_CALLS
    ) -> None:
        self._clock = clock
        self._max_calls = max_calls
        self._calls: dict[str, _Call] = {}
        self._by_dest: dict[str, _Call] = {}
        self._evicted: list[Outcome] = []
        self._superseded: list[_Call] = []
        self._waiting: dict[str, list[_Call]] = {}
        self._markers_seen = False
        self._now = clock()

    def watch(self, uniqueid: str, linkedid: str, verdict: str, decision_id: str = "") -> None:
        """Follow the call running on `uniqueid`, decided with `verdict` (allow or block)."""
        if not uniqueid:
            return
        if self.pending >= self._max_calls:
            self._evict_oldest()
        call = _Call(uniqueid, linkedid, verdict, self._clock(), decision_id)
        if uniqueid in self._calls and decision_id and self._markers_seen:
            self._waiting.setdefault(uniqueid, []).append(call)
        else:
            self._activate(call, self._clock())

    def _evict_oldest(self) -> None:
        """Close the oldest active decision early (flagged).

        One is always there: a decision waits only behind an active one on its channel, and
        only after this eviction, so fewer than `max_calls` ever wait.
        """
        oldest = next(iter(self._calls.values()))
        oldest.link_gap = True
        self._evicted.append(self._finish(oldest))

    def _activate(self, call: _Call, at: float) -> None:
        """`call` is now the decision whose dials the channel's events describe."""
        previous = self._calls.pop(call.uniqueid, None)
        if previous is not None:
            self._supersede(previous, at)
        self._calls[call.uniqueid] = call

    def _unwait(self, call: _Call) -> None:
        calls = self._waiting[call.uniqueid]
        calls.remove(call)
        if not calls:
            del self._waiting[call.uniqueid]

    def _marker(self, event: AmiEvent) -> None:
        decision_id = event.get("Value")
        if event.get("Variable") != DECISION_MARKER or not decision_id:
            return
        self._markers_seen = True
        calls = self._waiting.get(event.get("Uniqueid"), [])
        for position, call in enumerate(calls):
            if call.decision_id == decision_id:
                for earlier in calls[: position + 1]:
                    self._unwait(earlier)
                    self._activate(earlier, self._now)
                return

    def _release_waiting(self, uniqueid: str, at: float) -> None:
        for call in self._waiting.pop(uniqueid, []):
            self._activate(call, at)

    def _supersede(self, previous: _Call, at: float) -> None:
        """The channel asked again: its previous decision's attempts are all it will have."""
        previous.hung_up_at = at
        if all(a.ended_at is not None for a in previous.attempts):
            self._evicted.append(self._finish(previous))
        else:
            self._superseded.append(previous)

    @property
    def pending(self) -> int:
        """Calls followed and not yet finished."""
        return len(self._calls) + sum(len(calls) for calls in self._waiting.values())

    def diverted(self, uniqueid: str) -> None:
        """The call on `uniqueid` dialled another number than allowed: stop counting its dials."""
        call = self._calls.get(uniqueid)
        if call is not None:
            call.diverted = True

    def link_lost(self) -> None:
        """The AMI link dropped: outcomes of calls in flight may miss events."""
        self._markers_seen = False
        for call in self._calls.values():
            call.link_gap = True
        for uniqueid in list(self._waiting):
            self._release_waiting(uniqueid, self._clock())

    def feed(self, event: AmiEvent) -> list[Outcome]:
        """Update the state; return the outcomes this event completes."""
        self._now = event.received_at or self._clock()
        name = event.name
        if name == "DialBegin":
            self._dial_begin(event)
        elif name == "DialEnd":
            self._dial_end(event)
        elif name == "VarSet":
            self._marker(event)
        elif name == "Hangup":
            return self._hangup(event)
        return []

    def expire(self) -> list[Outcome]:
        """Close calls whose destinations never reported, and forget very old ones."""
        now = self._clock()
        unmarked = [
            uniqueid
            for uniqueid, calls in self._waiting.items()
            if now - calls[0].decided_at >= SETTLE_S
        ]
        for uniqueid in unmarked:
            self._release_waiting(uniqueid, now)
        done, self._evicted = self._evicted, []
        for call in [*self._superseded, *self._calls.values()]:
            settled = call.hung_up_at is not None and now - call.hung_up_at >= SETTLE_S
            if settled or now - call.decided_at >= FORGET_AFTER_S:
                for attempt in call.attempts:
                    if attempt.ended_at is None:
                        call.link_gap = True
                done.append(self._finish(call))
        return done

    def _dial_begin(self, event: AmiEvent) -> None:
        call = self._calls.get(event.get("Uniqueid"))
        if call is None or call.diverted:
            return
        attempt = _Attempt(event.get("DestUniqueid"), self._now)
        call.attempts.append(attempt)
        self._by_dest[attempt.dest_uniqueid] = call

    def _dial_end(self, event: AmiEvent) -> None:
        call = self._by_dest.get(event.get("DestUniqueid"))
        attempt = self._attempt(call, event.get("DestUniqueid"))
        if attempt is None:
            return
        attempt.status = event.get("DialStatus")
        if attempt.status == "ANSWER":
            attempt.answered_at = self._now

    def _hangup(self, event: AmiEvent) -> list[Outcome]:
        uniqueid = event.get("Uniqueid")
        dest_call = self._by_dest.pop(uniqueid, None)
        attempt = self._attempt(dest_call, uniqueid)
        if attempt is not None:
            attempt.ended_at = self._now
            attempt.cause = _cause(event)
            attempt.cause_text = event.get("Cause-txt")
        self._release_waiting(uniqueid, self._now)
        call = self._calls.get(uniqueid)
        if call is not None:
            call.hung_up_at = self._now
            call.cause = _cause(event)
            call.cause_text = event.get("Cause-txt")
        finished = call or dest_call
        if finished is None or finished.hung_up_at is None:
            return []
        if any(a.ended_at is None for a in finished.attempts):
            return []
        return [self._finish(finished)]

    @staticmethod
    def _attempt(call: _Call | None, dest_uniqueid: str) -> _Attempt | None:
        if call is None:
            return None
        for attempt in reversed(call.attempts):
            if attempt.dest_uniqueid == dest_uniqueid:
                return attempt
        return None

    def _finish(self, call: _Call) -> Outcome:
        if self._calls.get(call.uniqueid) is call:
            del self._calls[call.uniqueid]
        if call in self._superseded:
            self._superseded.remove(call)
        for attempt in call.attempts:
            if self._by_dest.get(attempt.dest_uniqueid) is call:
                del self._by_dest[attempt.dest_uniqueid]
        return Outcome(call.uniqueid, describe(call))


def describe(call: _Call) -> dict[str, object]:
    """The outcome fields of a finished call: its last attempt speaks for it."""
    fields: dict[str, object] = {
        "linkedid": call.linkedid,
        "verdict": call.verdict,
        "attempts": len(call.attempts),
        "reached_network": bool(call.attempts),
    }
    if not call.attempts:
        fields |= {
            "result": "bypassed" if call.diverted else "not_dialled",
            "dial_status": None,
            "hangup_cause": call.cause,
            "hangup_cause_text": call.cause_text,
            "ring_seconds": None,
            "talk_seconds": None,
        }
    else:
        last = call.attempts[-1]
        ring_end = last.answered_at if last.answered_at is not None else last.ended_at
        fields |= {
            "result": DIAL_STATUS_OUTCOMES.get(last.status, last.status.lower() or "unknown"),
            "dial_status": last.status or None,
            "hangup_cause": last.cause if last.cause is not None else call.cause,
            "hangup_cause_text": last.cause_text or call.cause_text,
            "ring_seconds": _seconds(last.began_at, ring_end),
            "talk_seconds": _seconds(last.answered_at, last.ended_at),
        }
    if call.diverted:
        fields["bypass"] = True
    if call.link_gap:
        fields["ami_link_gap"] = True
    if call.decision_id:
        fields["decision_id"] = call.decision_id
    return fields
