"""Call outcomes from AMI events: dial status, hangup cause and talk time per decided call."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

import pytest
from gatekeeper.ami.client import AmiEvent
from gatekeeper.ami.outcomes import (
    FORGET_AFTER_S,
    SETTLE_S,
    Outcome,
    OutcomeTracker,
)


class Clock:
    """A hand-driven monotonic clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        """The current reading."""
        return self.now


def _event(name: str, **fields: str) -> AmiEvent:
    return AmiEvent(name, MappingProxyType(fields))


def _dial_begin(caller: str, dest: str) -> AmiEvent:
    return _event("DialBegin", Uniqueid=caller, DestUniqueid=dest, DestChannel=f"X/{dest}")


def _dial_end(caller: str, dest: str, status: str) -> AmiEvent:
    return _event("DialEnd", Uniqueid=caller, DestUniqueid=dest, DialStatus=status)


def _hangup(uniqueid: str, cause: str = "16", text: str = "Normal Clearing") -> AmiEvent:
    return _event("Hangup", Uniqueid=uniqueid, Cause=cause, **{"Cause-txt": text})


def _feed(
    tracker: OutcomeTracker, clock: Clock, steps: list[tuple[float, AmiEvent]]
) -> list[Outcome]:
    done: list[Outcome] = []
    for delay, event in steps:
        clock.now += delay
        done += tracker.feed(event)
    return done


def test_answered_call_reports_ring_and_talk_time() -> None:
    """An answered call: result answered, ANSWER, the trunk's cause, ring and talk seconds."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow")
    steps = [
        (0.0, _dial_begin("A2", "T1")),
        (3.0, _dial_end("A2", "T1", "ANSWER")),
        (42.5, _hangup("T1")),
        (0.01, _hangup("A2")),
    ]
    [outcome] = _feed(tracker, clock, steps)
    assert (outcome.uniqueid, dict(outcome.fields)) == (
        "A2",
        {
            "linkedid": "A",
            "verdict": "allow",
            "attempts": 1,
            "reached_network": True,
            "result": "answered",
            "dial_status": "ANSWER",
            "hangup_cause": 16,
            "hangup_cause_text": "Normal Clearing",
            "ring_seconds": 3.0,
            "talk_seconds": 42.5,
        },
    )


@pytest.mark.parametrize(
    ("status", "cause", "result"),
    [
        ("BUSY", "17", "busy"),
        ("NOANSWER", "19", "no_answer"),
        ("CONGESTION", "34", "congestion"),
        ("CHANUNAVAIL", "20", "unavailable"),
        ("CANCEL", "16", "cancelled"),
    ],
)
def test_unanswered_dial_statuses(status: str, cause: str, result: str) -> None:
    """Each DialStatus maps to its result, with the trunk's cause and no talk time."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow")
    steps = [
        (0.0, _dial_begin("A2", "T1")),
        (5.0, _dial_end("A2", "T1", status)),
        (0.0, _hangup("T1", cause)),
        (0.1, _hangup("A2")),
    ]
    [outcome] = _feed(tracker, clock, steps)
    fields = outcome.fields
    assert (
        fields["result"],
        fields["hangup_cause"],
        fields["ring_seconds"],
        fields["talk_seconds"],
    ) == (result, int(cause), 5.0, None)


def test_blocked_call_never_reaches_the_network() -> None:
    """A call hung up without any dial attempt is reported not dialled, with its own cause."""
    tracker = OutcomeTracker(Clock())
    tracker.watch("B2", "B", "block")
    [outcome] = tracker.feed(_hangup("B2", "21", "Call Rejected"))
    fields = outcome.fields
    assert (
        fields["verdict"],
        fields["result"],
        fields["reached_network"],
        fields["hangup_cause"],
    ) == ("block", "not_dialled", False, 21)


def test_outcome_waits_for_the_destination_to_hang_up() -> None:
    """When the asking channel hangs up first, the outcome comes with the trunk's hangup."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow")
    early = _feed(
        tracker,
        clock,
        [
            (0.0, _dial_begin("A2", "T1")),
            (1.0, _dial_end("A2", "T1", "ANSWER")),
            (1.0, _hangup("A2")),
        ],
    )
    late = _feed(tracker, clock, [(0.1, _hangup("T1"))])
    assert (early, [o.uniqueid for o in late]) == ([], ["A2"])


def test_the_last_attempt_speaks_for_a_call_with_failover() -> None:
    """Two attempts (failover): the count is 2 and the second attempt gives the result."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow")
    steps = [
        (0.0, _dial_begin("A2", "T1")),
        (1.0, _dial_end("A2", "T1", "CONGESTION")),
        (0.0, _hangup("T1", "34")),
        (0.0, _dial_begin("A2", "U1")),
        (2.0, _dial_end("A2", "U1", "ANSWER")),
        (7.0, _hangup("U1")),
        (0.0, _hangup("A2")),
    ]
    [outcome] = _feed(tracker, clock, steps)
    assert (
        outcome.fields["attempts"],
        outcome.fields["result"],
        outcome.fields["talk_seconds"],
    ) == (2, "answered", 7.0)


def test_missing_destination_hangup_is_settled_by_expiry() -> None:
    """A destination that never reports is closed after SETTLE_S and flagged as a gap."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow")
    _feed(tracker, clock, [(0.0, _dial_begin("A2", "T1")), (1.0, _hangup("A2"))])
    clock.now += SETTLE_S
    [outcome] = tracker.expire()
    assert (outcome.fields["ami_link_gap"], tracker.pending) == (True, 0)


def test_link_loss_flags_calls_in_flight() -> None:
    """A call in flight when the AMI link dropped carries ami_link_gap in its outcome."""
    tracker = OutcomeTracker(Clock())
    tracker.watch("A2", "A", "allow")
    tracker.link_lost()
    [outcome] = tracker.feed(_hangup("A2"))
    assert outcome.fields["ami_link_gap"] is True


def test_calls_nobody_decided_are_ignored() -> None:
    """Events of channels the checker never decided produce nothing."""
    tracker = OutcomeTracker(Clock())
    events = [
        _dial_begin("Z2", "Z1"),
        _dial_end("Z2", "Z1", "ANSWER"),
        _hangup("Z1"),
        _hangup("Z2"),
    ]
    assert [tracker.feed(e) for e in events] == [[], [], [], []]


def test_times_come_from_arrival_not_from_processing() -> None:
    """Talk time is measured between the events' arrivals, however late they are processed."""
    tracker = OutcomeTracker(Clock())
    tracker.watch("A2", "A", "allow")
    stamped = [
        AmiEvent("DialBegin", MappingProxyType({"Uniqueid": "A2", "DestUniqueid": "T1"}), 10.0),
        AmiEvent(
            "DialEnd",
            MappingProxyType({"Uniqueid": "A2", "DestUniqueid": "T1", "DialStatus": "ANSWER"}),
            12.0,
        ),
        AmiEvent("Hangup", MappingProxyType({"Uniqueid": "T1", "Cause": "16"}), 20.25),
        AmiEvent("Hangup", MappingProxyType({"Uniqueid": "A2", "Cause": "16"}), 20.5),
    ]
    [outcome] = [o for event in stamped for o in tracker.feed(event)]
    assert (outcome.fields["ring_seconds"], outcome.fields["talk_seconds"]) == (2.0, 8.25)


def test_followed_calls_are_bounded() -> None:
    """Past max_calls the oldest call is closed early, flagged as a gap, and reported."""
    tracker = OutcomeTracker(Clock(), max_calls=3)
    for n in range(4):
        tracker.watch(f"U{n}", "", "allow")
    [evicted] = tracker.expire()
    assert (evicted.uniqueid, evicted.fields["ami_link_gap"], tracker.pending) == ("U0", True, 3)


def test_diverted_call_is_not_described_as_the_allowed_call() -> None:
    """A call that dialled another number than allowed: its dials are not the decision's."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow")
    tracker.diverted("A2")
    steps = [
        (0.0, _dial_begin("A2", "T1")),
        (1.0, _dial_end("A2", "T1", "ANSWER")),
        (5.0, _hangup("T1")),
        (0.01, _hangup("A2")),
    ]
    [outcome] = _feed(tracker, clock, steps)
    fields = outcome.fields
    assert (
        fields["result"],
        fields["attempts"],
        fields["reached_network"],
        fields["bypass"],
    ) == ("bypassed", 0, False, True)


def test_failover_check_gives_each_decision_its_own_attempt() -> None:
    """A channel checked again for a second trunk: the first decision keeps its failed dial."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow", "D1")
    done = _feed(
        tracker,
        clock,
        [(0.0, _dial_begin("A2", "T1")), (1.0, _dial_end("A2", "T1", "CONGESTION"))],
    )
    tracker.watch("A2", "A", "allow", "D2")
    done += _feed(
        tracker,
        clock,
        [
            (0.01, _hangup("T1", "34", "Circuit/channel congestion")),
            (0.0, _dial_begin("A2", "T2")),
            (2.0, _dial_end("A2", "T2", "ANSWER")),
            (5.0, _hangup("T2")),
            (0.01, _hangup("A2")),
        ],
    )
    done += tracker.expire()
    assert sorted(
        (o.fields["decision_id"], o.fields["result"], o.fields["attempts"]) for o in done
    ) == [
        ("D1", "congestion", 1),
        ("D2", "answered", 1),
    ]


def _marker(uniqueid: str, decision_id: str) -> AmiEvent:
    return _event("VarSet", Uniqueid=uniqueid, Variable="GK_DECISION_ID", Value=decision_id)


def _failover_steps_with_late_events() -> list[tuple[float, AmiEvent]]:
    """Trunk 1's dial, then D2's marker, then trunk 2: the stream as Asterisk emitted it."""
    return [
        (0.0, _dial_begin("A2", "T1")),
        (1.0, _dial_end("A2", "T1", "CONGESTION")),
        (0.01, _hangup("T1", "34", "Circuit/channel congestion")),
        (0.0, _marker("A2", "D2")),
        (0.0, _dial_begin("A2", "T2")),
        (2.0, _dial_end("A2", "T2", "ANSWER")),
        (5.0, _hangup("T2")),
        (0.01, _hangup("A2")),
    ]


def _results(done: list[Outcome]) -> list[tuple[object, object, object]]:
    return sorted((o.fields["decision_id"], o.fields["result"], o.fields["attempts"]) for o in done)


def test_second_decision_waits_for_its_marker_when_the_first_dial_is_late() -> None:
    """Trunk 1's events arriving after D2 was taken still count for D1, once markers are seen."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow", "D1")
    done = tracker.feed(_marker("A2", "D1"))
    tracker.watch("A2", "A", "allow", "D2")
    done += _feed(tracker, clock, _failover_steps_with_late_events())
    done += tracker.expire()
    assert _results(done) == [("D1", "congestion", 1), ("D2", "answered", 1)]


def test_without_markers_the_second_decision_takes_over_at_once() -> None:
    """A link that never showed a marker (no VarSet filter) switches when D2 is taken."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow", "D1")
    tracker.watch("A2", "A", "allow", "D2")
    steps = [step for step in _failover_steps_with_late_events() if step[1].name != "VarSet"]
    done = _feed(tracker, clock, steps)
    done += tracker.expire()
    assert _results(done) == [("D1", "not_dialled", 0), ("D2", "answered", 2)]


def test_decision_whose_marker_never_comes_is_closed_by_the_channel_hangup() -> None:
    """A waiting decision on a channel that hangs up without its marker is still reported."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow", "D1")
    tracker.feed(_marker("A2", "D1"))
    tracker.watch("A2", "A", "block", "D2")
    done = _feed(tracker, clock, [(0.5, _hangup("A2", "21", "Call Rejected"))])
    clock.now += SETTLE_S
    done += tracker.expire()
    assert _results(done) == [("D1", "not_dialled", 0), ("D2", "not_dialled", 0)]


def test_waiting_decision_takes_over_after_the_settle_time() -> None:
    """A marker lost on the way: after SETTLE_S the new decision follows the channel anyway."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow", "D1")
    tracker.feed(_marker("A2", "D1"))
    tracker.watch("A2", "A", "allow", "D2")
    clock.now += SETTLE_S
    done = tracker.expire()
    done += _feed(
        tracker,
        clock,
        [
            (0.0, _dial_begin("A2", "T2")),
            (1.0, _dial_end("A2", "T2", "BUSY")),
            (0.1, _hangup("T2")),
        ],
    )
    done += _feed(tracker, clock, [(0.1, _hangup("A2"))])
    assert _results(done) == [("D1", "not_dialled", 0), ("D2", "busy", 1)]


def test_waiting_decisions_count_towards_the_bound() -> None:
    """Decisions waiting for their marker are followed calls: the bound covers them."""
    clock = Clock()
    tracker = OutcomeTracker(clock, max_calls=2)
    tracker.watch("A2", "A", "allow", "D1")
    tracker.feed(_marker("A2", "D1"))
    tracker.watch("A2", "A", "allow", "D2")
    tracker.watch("B2", "B", "allow", "D3")
    assert tracker.pending == 2


def test_link_loss_releases_waiting_decisions_and_forgets_markers() -> None:
    """After a reconnect the manager user may have changed: decisions switch at once again."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow", "D1")
    tracker.feed(_marker("A2", "D1"))
    tracker.watch("A2", "A", "allow", "D2")
    tracker.link_lost()
    tracker.watch("A2", "A", "allow", "D3")
    done = _feed(
        tracker,
        clock,
        [
            (0.0, _dial_begin("A2", "T3")),
            (1.0, _dial_end("A2", "T3", "BUSY")),
            (0.1, _hangup("T3")),
        ],
    )
    done += _feed(tracker, clock, [(0.1, _hangup("A2"))])
    clock.now += SETTLE_S
    done += tracker.expire()
    assert _results(done) == [("D1", "not_dialled", 0), ("D2", "not_dialled", 0), ("D3", "busy", 1)]


def test_hangup_cause_text_is_the_destinations() -> None:
    """The trunk's own Cause-txt describes the attempt, not the asking channel's."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow")
    steps = [
        (0.0, _dial_begin("A2", "T1")),
        (4.0, _dial_end("A2", "T1", "BUSY")),
        (0.0, _hangup("T1", "17", "User busy")),
        (0.1, _hangup("A2", "16", "Normal Clearing")),
    ]
    [outcome] = _feed(tracker, clock, steps)
    assert (outcome.fields["hangup_cause"], outcome.fields["hangup_cause_text"]) == (
        17,
        "User busy",
    )


def test_not_dialled_call_reports_every_field() -> None:
    """A call that never dialled has every outcome field, the unknown ones null."""
    tracker = OutcomeTracker(Clock())
    tracker.watch("B2", "B", "block", "D1")
    [outcome] = tracker.feed(_hangup("B2", "21", "Call Rejected"))
    assert dict(outcome.fields) == {
        "linkedid": "B",
        "verdict": "block",
        "attempts": 0,
        "reached_network": False,
        "result": "not_dialled",
        "dial_status": None,
        "hangup_cause": 21,
        "hangup_cause_text": "Call Rejected",
        "ring_seconds": None,
        "talk_seconds": None,
        "decision_id": "D1",
    }


def test_attempt_closed_by_expiry_takes_the_channels_cause() -> None:
    """A destination that never reported has no cause of its own: the channel's is given."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow")
    _feed(
        tracker,
        clock,
        [(0.0, _dial_begin("A2", "T1")), (1.0, _hangup("A2", "19", "No answer"))],
    )
    clock.now += SETTLE_S
    [outcome] = tracker.expire()
    assert (outcome.fields["hangup_cause"], outcome.fields["hangup_cause_text"]) == (
        19,
        "No answer",
    )


def test_hangup_without_a_numeric_cause_has_no_cause() -> None:
    """A Hangup whose Cause is missing or not a number gives a null cause, not an error."""
    tracker = OutcomeTracker(Clock())
    tracker.watch("B2", "B", "block")
    [outcome] = tracker.feed(_event("Hangup", Uniqueid="B2"))
    assert outcome.fields["hangup_cause"] is None


def test_seconds_are_kept_to_the_millisecond() -> None:
    """Ring and talk times under a second are kept, rounded to milliseconds."""
    tracker = OutcomeTracker(Clock())
    tracker.watch("A2", "A", "allow")
    stamped = [
        AmiEvent("DialBegin", MappingProxyType({"Uniqueid": "A2", "DestUniqueid": "T1"}), 10.0),
        AmiEvent(
            "DialEnd",
            MappingProxyType({"Uniqueid": "A2", "DestUniqueid": "T1", "DialStatus": "ANSWER"}),
            10.2346,
        ),
        AmiEvent("Hangup", MappingProxyType({"Uniqueid": "T1", "Cause": "16"}), 10.5),
        AmiEvent("Hangup", MappingProxyType({"Uniqueid": "A2", "Cause": "16"}), 10.5),
    ]
    [outcome] = [o for event in stamped for o in tracker.feed(event)]
    assert (outcome.fields["ring_seconds"], outcome.fields["talk_seconds"]) == (0.235, 0.265)


def test_unlisted_dial_status_is_reported_in_lower_case() -> None:
    """A DialStatus outside the map (DONTCALL) is the result as Asterisk named it, lower case."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow")
    steps = [
        (0.0, _dial_begin("A2", "T1")),
        (1.0, _dial_end("A2", "T1", "DONTCALL")),
        (0.0, _hangup("T1")),
        (0.1, _hangup("A2")),
    ]
    [outcome] = _feed(tracker, clock, steps)
    assert (outcome.fields["result"], outcome.fields["dial_status"]) == ("dontcall", "DONTCALL")


def test_attempt_without_a_dial_end_is_unknown() -> None:
    """An attempt whose DialEnd never came has an unknown result and no DialStatus."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow")
    steps = [(0.0, _dial_begin("A2", "T1")), (1.0, _hangup("T1")), (0.1, _hangup("A2"))]
    [outcome] = _feed(tracker, clock, steps)
    assert (outcome.fields["result"], outcome.fields["dial_status"]) == ("unknown", None)


def test_destination_reporting_after_expiry_gives_no_second_outcome() -> None:
    """A trunk's Hangup arriving after its call was closed by expire() is not reported again."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow")
    _feed(tracker, clock, [(0.0, _dial_begin("A2", "T1")), (1.0, _hangup("A2"))])
    clock.now += SETTLE_S
    closed = tracker.expire()
    assert (len(closed), tracker.feed(_hangup("T1"))) == (1, [])


def test_call_with_a_destination_up_is_not_closed_before_the_settle_time() -> None:
    """The asking channel hung up, the trunk not yet: expire() waits SETTLE_S for the trunk."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow")
    _feed(tracker, clock, [(0.0, _dial_begin("A2", "T1")), (1.0, _hangup("A2"))])
    clock.now += SETTLE_S - 0.5
    early = tracker.expire()
    late = _feed(tracker, clock, [(0.0, _hangup("T1"))])
    assert (early, [o.fields.get("ami_link_gap") for o in late]) == ([], [None])


def test_call_is_forgotten_at_forget_after_s_and_not_before() -> None:
    """A call with no hangup at all is closed FORGET_AFTER_S after its decision, not earlier."""
    clock = Clock()
    clock.now = 30 * 86400.0
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow")
    tracker.feed(_dial_begin("A2", "T1"))
    clock.now += FORGET_AFTER_S - 1.0
    before = tracker.expire()
    clock.now += 1.0
    at = tracker.expire()
    assert (before, [o.fields["ami_link_gap"] for o in at]) == ([], [True])


def test_waiting_decision_is_not_released_before_the_settle_time() -> None:
    """expire() within SETTLE_S of a second decision leaves the earlier dial with the first."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow", "D1")
    done = tracker.feed(_marker("A2", "D1"))
    tracker.watch("A2", "A", "allow", "D2")
    clock.now += SETTLE_S - 0.5
    done += tracker.expire()
    done += _feed(tracker, clock, _failover_steps_with_late_events())
    done += tracker.expire()
    assert _results(done) == [("D1", "congestion", 1), ("D2", "answered", 1)]


def test_superseded_decision_with_its_dial_over_is_reported_at_once() -> None:
    """When a channel asks again after its dial ended, the earlier outcome needs no settle time."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow", "D1")
    _feed(
        tracker,
        clock,
        [
            (0.0, _dial_begin("A2", "T1")),
            (1.0, _dial_end("A2", "T1", "CONGESTION")),
            (0.0, _hangup("T1", "34")),
        ],
    )
    tracker.watch("A2", "A", "allow", "D2")
    assert _results(tracker.expire()) == [("D1", "congestion", 1)]


def _release_by_marker(tracker: OutcomeTracker, clock: Clock) -> list[Outcome]:
    return tracker.feed(_marker("A2", "D2"))


def _release_by_channel_hangup(tracker: OutcomeTracker, clock: Clock) -> list[Outcome]:
    return tracker.feed(_hangup("A2"))


def _release_by_settle_time(tracker: OutcomeTracker, clock: Clock) -> list[Outcome]:
    clock.now += SETTLE_S
    return tracker.expire()


def _release_by_link_loss(tracker: OutcomeTracker, clock: Clock) -> list[Outcome]:
    tracker.link_lost()
    return []


@pytest.mark.parametrize(
    "release",
    [
        _release_by_marker,
        _release_by_channel_hangup,
        _release_by_settle_time,
        _release_by_link_loss,
    ],
)
def test_superseded_decision_with_a_dial_still_up_settles_after_settle_s(
    release: Callable[[OutcomeTracker, Clock], list[Outcome]],
) -> None:
    """However the next decision takes over, the earlier one's silent dial closes SETTLE_S later."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow", "D1")
    tracker.feed(_marker("A2", "D1"))
    tracker.feed(_dial_begin("A2", "T1"))
    tracker.watch("A2", "A", "allow", "D2")
    done = release(tracker, clock)
    clock.now += SETTLE_S
    done += tracker.expire()
    assert [o.fields["ami_link_gap"] for o in done if o.fields["decision_id"] == "D1"] == [True]


def test_a_marker_releases_the_decisions_up_to_its_own() -> None:
    """Three decisions on a channel: D2's marker hands the channel to D2; D3 still waits for its."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow", "D1")
    tracker.feed(_marker("A2", "D1"))
    tracker.watch("A2", "A", "allow", "D2")
    tracker.watch("A2", "A", "allow", "D3")
    done = _feed(
        tracker,
        clock,
        [
            (0.0, _marker("A2", "D2")),
            (0.0, _dial_begin("A2", "T2")),
            (1.0, _dial_end("A2", "T2", "BUSY")),
            (0.1, _hangup("T2", "17")),
            (0.0, _marker("A2", "D3")),
            (0.0, _dial_begin("A2", "T3")),
            (1.0, _dial_end("A2", "T3", "ANSWER")),
            (5.0, _hangup("T3")),
            (0.1, _hangup("A2")),
        ],
    )
    done += tracker.expire()
    assert _results(done) == [
        ("D1", "not_dialled", 0),
        ("D2", "busy", 1),
        ("D3", "answered", 1),
    ]


def test_another_variable_set_is_not_a_marker() -> None:
    """A VarSet of another variable does not make later decisions wait for markers."""
    clock = Clock()
    tracker = OutcomeTracker(clock)
    tracker.watch("A2", "A", "allow", "D1")
    tracker.feed(_event("VarSet", Uniqueid="A2", Variable="CALLERID(num)", Value="D1"))
    tracker.watch("A2", "A", "allow", "D2")
    done = _feed(
        tracker,
        clock,
        [
            (0.0, _dial_begin("A2", "T2")),
            (1.0, _dial_end("A2", "T2", "BUSY")),
            (0.1, _hangup("T2", "17")),
            (0.1, _hangup("A2")),
        ],
    )
    done += tracker.expire()
    assert _results(done) == [("D1", "not_dialled", 0), ("D2", "busy", 1)]
