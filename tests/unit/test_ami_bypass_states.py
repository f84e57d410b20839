"""The bypass detector's state table, row by row, through events fed and bypasses found.

The channel under test is the second half `T2` of a Local channel born in the trunk; its first
half is `T1`. Each case puts `T2` in a state, feeds what shows one `ChannelEvent` about it, and
reads the bypasses found for `T2`; a probe then tells which state `T2` is in by what it does
next: the grace running out, then a DialBegin into the trunk for a number nobody allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

import pytest
from gatekeeper.ami.bypass import (
    PENDING_GRACE_S,
    TRANSITIONS,
    Bypass,
    BypassDetector,
    ChannelEvent,
    ChannelState,
    Finding,
    Transition,
)
from gatekeeper.ami.client import AmiEvent

TRUNK = "trunk"
NUMBER = "0470999999"
OTHER_NUMBER = "0470123456"
E164 = "+32470999999"
BASE = f"Local/0470@{TRUNK}-1"

UNDECIDED = ChannelState.UNDECIDED
WAITING = ChannelState.WAITING
DECIDED = ChannelState.DECIDED
HUNG_UP_WAITING = ChannelState.HUNG_UP_WAITING


class Bench:
    """A detector on a clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0
        self.detector = BypassDetector([TRUNK], clock=lambda: self.now)

    def feed(self, *events: AmiEvent) -> list[Bypass]:
        """Feed the events in order; the bypasses they show."""
        return [found for event in events for found in self.detector.feed(event)]


def _event(name: str, **fields: str) -> AmiEvent:
    return AmiEvent(name, MappingProxyType(fields))


def _newchannel(half: str, uniqueid: str) -> AmiEvent:
    return _event(
        "Newchannel",
        Channel=f"{BASE};{half}",
        Context=TRUNK,
        Exten=NUMBER,
        Uniqueid=uniqueid,
        Linkedid="A",
    )


def _t2_runs() -> AmiEvent:
    return _event(
        "Newexten",
        Channel=f"{BASE};2",
        Context=TRUNK,
        Exten=NUMBER,
        Uniqueid="T2",
        Linkedid="A",
        Application="Answer",
    )


def _dial_into_trunk(dest: str) -> AmiEvent:
    """An Originate straight into the trunk, for a number nobody allowed."""
    return _event(
        "DialBegin",
        DestChannel=f"PJSIP/trunk-{dest}",
        DestContext=TRUNK,
        DestExten=OTHER_NUMBER,
        DestUniqueid=dest,
        DestLinkedid="A",
    )


def _hangup(uniqueid: str) -> AmiEvent:
    return _event("Hangup", Uniqueid=uniqueid)


def _pair() -> AmiEvent:
    return _event("LocalBridge", LocalOneUniqueid="T1", LocalTwoUniqueid="T2")


def _undecided(bench: Bench) -> None:
    bench.feed(_newchannel("1", "T1"), _newchannel("2", "T2"))


def _waiting(bench: Bench) -> None:
    _undecided(bench)
    bench.feed(_t2_runs())


def _decided(bench: Bench) -> None:
    """T2 decided (reported) before it was paired, so its partner T1 is still undecided."""
    bench.feed(_newchannel("1", "T1"), _dial_into_trunk("T2"), _newchannel("2", "T2"))


def _hung_up_waiting(bench: Bench) -> None:
    _waiting(bench)
    bench.feed(_hangup("T2"))


SETUPS: dict[ChannelState, Callable[[Bench], None]] = {
    UNDECIDED: _undecided,
    WAITING: _waiting,
    DECIDED: _decided,
    HUNG_UP_WAITING: _hung_up_waiting,
}


def _covered(bench: Bench) -> list[Bypass]:
    bench.detector.allow("T2", "A", E164)
    return bench.feed(_t2_runs())


def _dialled(bench: Bench) -> list[Bypass]:
    return bench.feed(_dial_into_trunk("T2"))


def _ran(bench: Bench) -> list[Bypass]:
    """T2 runs dialplan once its partner is gone: no DialBegin is late."""
    return bench.feed(_hangup("T1"), _t2_runs())


def _ran_early(bench: Bench) -> list[Bypass]:
    return bench.feed(_pair(), _t2_runs())


def _partner_decided(bench: Bench) -> list[Bypass]:
    return bench.feed(_pair(), _dial_into_trunk("T1"))


def _grace_over(bench: Bench) -> list[Bypass]:
    bench.now += PENDING_GRACE_S
    return bench.detector.expire()


def _hung_up(bench: Bench) -> list[Bypass]:
    return bench.feed(_hangup("T2"))


EVENTS: dict[ChannelEvent, Callable[[Bench], list[Bypass]]] = {
    ChannelEvent.COVERED: _covered,
    ChannelEvent.DIALLED: _dialled,
    ChannelEvent.RAN: _ran,
    ChannelEvent.RAN_EARLY: _ran_early,
    ChannelEvent.PARTNER_DECIDED: _partner_decided,
    ChannelEvent.GRACE_OVER: _grace_over,
    ChannelEvent.HANGUP: _hung_up,
}
TRIGGERS = {ChannelEvent.DIALLED: "DialBegin", ChannelEvent.RAN: "Newexten"}


def _probe(bench: Bench) -> tuple[list[str], list[str]]:
    """Which of T2's bypasses the grace running out, then an unchecked DialBegin, show."""
    bench.now += PENDING_GRACE_S
    late = [b.uniqueid for b in bench.detector.expire() if b.uniqueid == "T2"]
    dialled = [b.uniqueid for b in bench.feed(_dial_into_trunk("T2")) if b.uniqueid == "T2"]
    return late, dialled


SIGNATURES = {
    UNDECIDED: ([], ["T2"]),
    WAITING: (["T2"], []),
    DECIDED: ([], []),
    HUNG_UP_WAITING: (["T2"], ["T2"]),
}
"""What the probe shows in each state."""


def _found(finding: Finding, event: ChannelEvent) -> list[tuple[str, str]]:
    if finding is Finding.BYPASS:
        return [("T2", TRIGGERS[event])]
    if finding is Finding.HELD:
        return [("T2", "Newexten")]
    return []


ROWS: list[tuple[str, ChannelState, ChannelEvent, ChannelState, Finding]] = [
    ("undecided, covered: decided",
     UNDECIDED, ChannelEvent.COVERED, DECIDED, Finding.NOTHING),
    ("undecided, partner decided: decided, sharing its verdict",
     UNDECIDED, ChannelEvent.PARTNER_DECIDED, DECIDED, Finding.NOTHING),
    ("undecided, dialled unchecked: a bypass",
     UNDECIDED, ChannelEvent.DIALLED, DECIDED, Finding.BYPASS),
    ("undecided, runs unchecked with nothing late: a bypass",
     UNDECIDED, ChannelEvent.RAN, DECIDED, Finding.BYPASS),
    ("undecided, runs before its partner's DialBegin: waits",
     UNDECIDED, ChannelEvent.RAN_EARLY, WAITING, Finding.HOLD),
    ("waiting, covered: decided, the held bypass dropped",
     WAITING, ChannelEvent.COVERED, DECIDED, Finding.NOTHING),
    ("waiting, partner decided: decided, the held bypass dropped",
     WAITING, ChannelEvent.PARTNER_DECIDED, DECIDED, Finding.NOTHING),
    ("waiting, dialled unchecked: this bypass",
     WAITING, ChannelEvent.DIALLED, DECIDED, Finding.BYPASS),
    ("waiting, runs again once its partner is gone: a bypass at once",
     WAITING, ChannelEvent.RAN, DECIDED, Finding.BYPASS),
    ("waiting, runs again: still waiting",
     WAITING, ChannelEvent.RAN_EARLY, WAITING, Finding.NOTHING),
    ("waiting, grace over: the held bypass",
     WAITING, ChannelEvent.GRACE_OVER, DECIDED, Finding.HELD),
    ("waiting, hangs up: its bypass still due",
     WAITING, ChannelEvent.HANGUP, HUNG_UP_WAITING, Finding.NOTHING),
    ("hung up waiting, grace over: the held bypass, then forgotten",
     HUNG_UP_WAITING, ChannelEvent.GRACE_OVER, UNDECIDED, Finding.HELD),
    ("decided, hangs up: forgotten",
     DECIDED, ChannelEvent.HANGUP, UNDECIDED, Finding.NOTHING),
]  # fmt: skip
"""Each transition of the table, with a one-line name."""


def test_the_table_is_exactly_the_rows_walked_here() -> None:
    """Every transition of the table is one case below, and no other is in the table."""
    rows = {(state, event): Transition(after, found) for _, state, event, after, found in ROWS}
    assert (TRANSITIONS, len(rows)) == (rows, len(ROWS))


def test_each_state_has_its_own_probe_signature() -> None:
    """The probe tells every state apart, from a channel put in it."""
    seen = {}
    for state, setup in SETUPS.items():
        bench = Bench()
        setup(bench)
        seen[state] = _probe(bench)
    assert seen == SIGNATURES


@pytest.mark.parametrize(
    ("state", "event", "after", "finding"), [pytest.param(*row[1:], id=row[0]) for row in ROWS]
)
def test_transition(
    state: ChannelState, event: ChannelEvent, after: ChannelState, finding: Finding
) -> None:
    """The event in that state reports what the row says, and leaves the row's next state."""
    bench = Bench()
    SETUPS[state](bench)
    found = [(b.uniqueid, b.trigger) for b in EVENTS[event](bench) if b.uniqueid == "T2"]
    assert (found, _probe(bench)) == (_found(finding, event), SIGNATURES[after])


IGNORED = [
    pytest.param(state, event, id=f"{state.name.lower()}, {event.name.lower()}: ignored")
    for state in ChannelState
    for event in ChannelEvent
    if (state, event) not in TRANSITIONS
]


@pytest.mark.parametrize(("state", "event"), IGNORED)
def test_event_not_in_the_table_changes_nothing(state: ChannelState, event: ChannelEvent) -> None:
    """A (state, event) pair the table does not list reports nothing and keeps the state."""
    bench = Bench()
    SETUPS[state](bench)
    found = [b.uniqueid for b in EVENTS[event](bench) if b.uniqueid == "T2"]
    assert (found, _probe(bench)) == ([], SIGNATURES[state])
