"""The bypass rules, event by event, with the event shapes Asterisk 22 sends."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from gatekeeper.ami.bypass import (
    MAX_GRANTS,
    MAX_PROVIDER_DIALS,
    PENDING_GRACE_S,
    PRUNE_EVERY_EVENTS,
    REPORT_WAIT_S,
    STATE_TTL_S,
    Bypass,
    BypassDetector,
)
from gatekeeper.ami.client import AmiEvent

TRUNK = "trunk"
ROUTE = "route"
NUMBER = "0470999999"
E164 = "+32470999999"


def _event(name: str, **fields: str) -> AmiEvent:
    return AmiEvent(name, MappingProxyType(fields))


def _local_pair(base: str, context: str, one: str, two: str, linkedid: str) -> list[AmiEvent]:
    """Newchannel of both halves, the AppDial placeholder on ;1, and LocalBridge."""
    return [
        _event(
            "Newchannel",
            Channel=f"{base};1",
            Context=context,
            Exten=NUMBER,
            Uniqueid=one,
            Linkedid=linkedid,
        ),
        _event(
            "Newchannel",
            Channel=f"{base};2",
            Context=context,
            Exten=NUMBER,
            Uniqueid=two,
            Linkedid=linkedid,
        ),
        _event(
            "Newexten",
            Channel=f"{base};1",
            Context=context,
            Exten=NUMBER,
            Uniqueid=one,
            Linkedid=linkedid,
            Application="AppDial",
        ),
        _event("LocalBridge", LocalOneUniqueid=one, LocalTwoUniqueid=two),
    ]


def _dial(caller: str, dest: str, context: str, linkedid: str) -> AmiEvent:
    fields = {
        "DestChannel": f"Local/{NUMBER}@{context}-1;1",
        "DestContext": context,
        "DestExten": NUMBER,
        "DestUniqueid": dest,
        "DestLinkedid": linkedid,
    }
    if caller:
        fields |= {"Channel": f"Local/0470@{ROUTE}-0;2", "Uniqueid": caller, "Linkedid": linkedid}
    return AmiEvent("DialBegin", MappingProxyType(fields))


def _runs(uniqueid: str, context: str, linkedid: str, app: str = "Answer") -> AmiEvent:
    return _event(
        "Newexten",
        Channel=f"X/{uniqueid}",
        Context=context,
        Exten=NUMBER,
        Uniqueid=uniqueid,
        Linkedid=linkedid,
        Application=app,
    )


def _feed(detector: BypassDetector, events: list[AmiEvent]) -> list[Bypass]:
    return [found for event in events for found in detector.feed(event)]


def _allowed_route_call(detector: BypassDetector) -> list[Bypass]:
    """The checked route: A/A2 in the route, A2 allowed, A2 dials T1/T2 in the trunk."""
    events = _local_pair(f"Local/0470@{ROUTE}-0", ROUTE, "A", "A2", "A")
    found = _feed(detector, events)
    detector.allow("A2", "A", E164)
    events = [
        _runs("A2", ROUTE, "A", "Dial"),
        *_local_pair(f"Local/0470@{TRUNK}-1", TRUNK, "T1", "T2", "A"),
        _dial("A2", "T1", TRUNK, "A"),
        _runs("T2", TRUNK, "A"),
    ]
    return found + _feed(detector, events)


def test_originate_straight_into_trunk_is_a_bypass() -> None:
    """A DialBegin into a gated context that names no dialling channel is a bypass."""
    detector = BypassDetector([TRUNK])
    events = [
        *_local_pair(f"Local/0470@{TRUNK}-1", TRUNK, "T1", "T2", "T1"),
        _dial("", "T1", TRUNK, "T1"),
        _runs("T2", TRUNK, "T1"),
    ]
    [found] = _feed(detector, events)
    assert (found.uniqueid, found.trigger, found.context, found.exten, found.dialled_by) == (
        "T1",
        "DialBegin",
        TRUNK,
        NUMBER,
        "",
    )


def test_bypass_names_the_other_half_of_the_local_channel() -> None:
    """The report names both halves, so an operator can find the whole leg."""
    detector = BypassDetector([TRUNK])
    events = [
        *_local_pair(f"Local/0470@{TRUNK}-1", TRUNK, "T1", "T2", "T1"),
        _dial("", "T1", TRUNK, "T1"),
    ]
    [found] = _feed(detector, events)
    assert found.partner_channel == f"Local/0470@{TRUNK}-1;2"


def test_dial_from_the_allowed_channel_is_no_bypass() -> None:
    """The channel that ran the check may dial the trunk; the trunk's dialplan then runs."""
    assert _allowed_route_call(BypassDetector([TRUNK])) == []


def test_dial_from_the_other_half_of_the_allowed_local_channel_is_no_bypass() -> None:
    """A grant covers both halves of the Local channel that ran the check."""
    detector = BypassDetector([TRUNK])
    _feed(detector, _local_pair(f"Local/0470@{ROUTE}-0", ROUTE, "A", "A2", "A"))
    detector.allow("A2", "A", E164)
    events = [
        *_local_pair(f"Local/0470@{TRUNK}-1", TRUNK, "T1", "T2", "A"),
        _dial("A", "T1", TRUNK, "A"),
    ]
    assert _feed(detector, events) == []


def test_second_dial_from_another_channel_of_the_allowed_call_is_a_bypass() -> None:
    """A transfer inherits the linked id, but not the permit: its dial-out is a bypass."""
    detector = BypassDetector([TRUNK])
    _allowed_route_call(detector)
    events = [
        *_local_pair(f"Local/0471@{TRUNK}-2", TRUNK, "U1", "U2", "A"),
        _dial("AGENT", "U1", TRUNK, "A"),
    ]
    [found] = _feed(detector, events)
    assert (found.uniqueid, found.dialled_by) == ("U1", f"Local/0470@{ROUTE}-0;2")


def test_channel_redirected_into_the_trunk_is_a_bypass() -> None:
    """Dialplan running in a gated context on a channel nobody dialled there is a bypass."""
    detector = BypassDetector([TRUNK])
    [found] = _feed(detector, [_runs("R", TRUNK, "R")])
    assert (found.uniqueid, found.trigger) == ("R", "Newexten")


@pytest.mark.parametrize("placeholder", ["AppDial", "AppDial2"])
def test_dial_placeholder_is_not_dialplan(placeholder: str) -> None:
    """The placeholder Asterisk shows on a channel being dialled decides nothing by itself."""
    detector = BypassDetector([TRUNK])
    assert _feed(detector, [_runs("T1", TRUNK, "T1", placeholder)]) == []


def test_a_bypassed_leg_is_reported_once() -> None:
    """Both halves of the bypassing Local channel share one verdict: one report."""
    detector = BypassDetector([TRUNK])
    events = [
        *_local_pair(f"Local/0470@{TRUNK}-1", TRUNK, "T1", "T2", "T1"),
        _dial("", "T1", TRUNK, "T1"),
        _runs("T2", TRUNK, "T1"),
        _runs("T2", TRUNK, "T1", "UserEvent"),
    ]
    assert len(_feed(detector, events)) == 1


def test_linked_id_grant_applies_only_without_a_uniqueid() -> None:
    """A grant that names only a linked id covers the gated channels of that call."""
    detector = BypassDetector([TRUNK])
    detector.allow("", "L", E164)
    events = [
        *_local_pair(f"Local/0470@{TRUNK}-1", TRUNK, "T1", "T2", "L"),
        _dial("", "T1", TRUNK, "L"),
    ]
    assert _feed(detector, events) == []


def test_ungated_contexts_are_ignored() -> None:
    """Calls that never enter a gated context are none of the watchdog's business."""
    detector = BypassDetector([TRUNK])
    events = [
        *_local_pair(f"Local/0470@{ROUTE}-0", ROUTE, "A", "A2", "A"),
        _dial("", "A", ROUTE, "A"),
        _runs("A2", ROUTE, "A"),
    ]
    assert _feed(detector, events) == []


def test_hangups_drop_all_state() -> None:
    """After every channel hung up, nothing of the call is held."""
    detector = BypassDetector([TRUNK])
    _allowed_route_call(detector)
    _feed(detector, [_event("Hangup", Uniqueid=u) for u in ("T2", "T1", "A2", "A")])
    assert detector.tracked == 0


def test_grants_without_events_expire() -> None:
    """A grant whose call never showed up (events lost) is forgotten after the TTL."""
    now = [0.0]
    detector = BypassDetector([TRUNK], clock=lambda: now[0])
    detector.allow("A2", "A", E164)
    now[0] = STATE_TTL_S + 1
    _feed(detector, [_event("VarSet")] * PRUNE_EVERY_EVENTS)
    assert detector.tracked == 0


def _second_half_runs_first(detector: BypassDetector, caller: str) -> list[Bypass]:
    """The trunk's second half runs dialplan before the DialBegin of its first half arrives."""
    events = [
        *_local_pair(f"Local/0470@{TRUNK}-1", TRUNK, "T1", "T2", "A"),
        _event(
            "Newexten",
            Channel=f"Local/0470@{TRUNK}-1;2",
            Context=TRUNK,
            Exten=NUMBER,
            Uniqueid="T2",
            Linkedid="A",
            Application="Answer",
        ),
        _dial(caller, "T1", TRUNK, "A"),
    ]
    return _feed(detector, events)


def test_second_half_running_before_an_allowed_dial_begin_is_no_bypass() -> None:
    """Events of two channels may arrive out of order: the late DialBegin still permits."""
    detector = BypassDetector([TRUNK])
    detector.allow("A2", "A", E164)
    assert (_second_half_runs_first(detector, "A2"), detector.expire()) == ([], [])


def test_second_half_running_before_an_unchecked_dial_begin_is_one_bypass() -> None:
    """Out of order, an unchecked dial is still reported, once, by its DialBegin."""
    detector = BypassDetector([TRUNK])
    found = _second_half_runs_first(detector, "")
    assert ([b.trigger for b in found], detector.expire()) == (["DialBegin"], [])


def test_second_half_whose_dial_begin_never_comes_is_a_bypass_after_grace() -> None:
    """If the partner's DialBegin never arrives, the waiting half is reported after the grace."""
    now = [0.0]
    detector = BypassDetector([TRUNK], clock=lambda: now[0])
    events = [
        *_local_pair(f"Local/0470@{TRUNK}-1", TRUNK, "T1", "T2", "A"),
        _event(
            "Newexten",
            Channel=f"Local/0470@{TRUNK}-1;2",
            Context=TRUNK,
            Exten=NUMBER,
            Uniqueid="T2",
            Linkedid="A",
            Application="Answer",
        ),
    ]
    early = _feed(detector, events)
    now[0] = PENDING_GRACE_S
    assert (early, [b.uniqueid for b in detector.expire()]) == ([], ["T2"])


def test_grants_are_bounded_and_the_oldest_goes_first() -> None:
    """Past MAX_GRANTS the oldest grant is dropped: a late dial on it is a bypass (closed)."""
    detector = BypassDetector([TRUNK])
    for n in range(MAX_GRANTS + 1):
        detector.allow(f"G{n}", "", E164)
    oldest = _feed(detector, [_dial("G0", "T1", TRUNK, "L0")])
    newest = _feed(detector, [_dial(f"G{MAX_GRANTS}", "T2", TRUNK, "L1")])
    assert ([b.uniqueid for b in oldest], newest) == (["T1"], [])


def _route_dials(detector: BypassDetector, dialled: str, caller_exten: str = "") -> list[Bypass]:
    """The route channel A2, allowed for E164, dials `dialled` into the trunk (T1/T2).

    `caller_exten` is the extension A2 runs when it dials (`s` in a subroutine), which Dial
    copies into the DialBegin's `DestExten`; by default the dialled number itself.
    """
    _feed(detector, _local_pair(f"Local/0470@{ROUTE}-0", ROUTE, "A", "A2", "A"))
    detector.allow("A2", "A", E164, "9")
    trunk = [
        _event("Newchannel", Channel=f"Local/{dialled}@{TRUNK}-1;1", Context=TRUNK,
               Exten=dialled, Uniqueid="T1", Linkedid="A"),
        _event("Newchannel", Channel=f"Local/{dialled}@{TRUNK}-1;2", Context=TRUNK,
               Exten=dialled, Uniqueid="T2", Linkedid="A"),
        _event("LocalBridge", LocalOneUniqueid="T1", LocalTwoUniqueid="T2"),
        AmiEvent("DialBegin", MappingProxyType({
            "Channel": f"Local/0470@{ROUTE}-0;2", "Uniqueid": "A2", "Linkedid": "A",
            "DestChannel": f"Local/{dialled}@{TRUNK}-1;1", "DestContext": TRUNK,
            "DestExten": caller_exten or dialled, "DestUniqueid": "T1", "DestLinkedid": "A",
        })),
    ]  # fmt: skip
    return _feed(detector, trunk)


def test_allowed_channel_dialling_another_number_is_a_bypass() -> None:
    """A route that checked one number and dials another into the trunk is a bypass."""
    [found] = _route_dials(BypassDetector([TRUNK]), "0470123456")
    assert (found.uniqueid, found.reason, found.allowed_number, found.exten) == (
        "T1",
        "number_mismatch",
        E164,
        "0470123456",
    )


def test_number_dialled_from_a_subroutine_is_read_from_the_local_channel() -> None:
    """Dial in a subroutine (DestExten `s`): the allowed number in the Local name passes."""
    assert _route_dials(BypassDetector([TRUNK]), NUMBER, caller_exten="s") == []


def test_other_number_dialled_from_a_subroutine_is_a_bypass() -> None:
    """Dial in a subroutine: another number in the Local name is a bypass, named as dialled."""
    [found] = _route_dials(BypassDetector([TRUNK]), "0470123456", caller_exten=NUMBER)
    assert (found.reason, found.exten) == ("number_mismatch", "0470123456")


@pytest.mark.parametrize("dialled", ["0470999999", "+32470999999", "0032470999999", "90470999999"])
def test_allowed_number_in_any_form_is_no_bypass(dialled: str) -> None:
    """The allowed number, written in another form or with the campaign's prefix, may pass."""
    assert _route_dials(BypassDetector([TRUNK]), dialled) == []


def test_allowed_channel_jumping_into_the_trunk_with_another_number_is_cut_at_once() -> None:
    """A checked route half that Goto()s the trunk for another number needs no grace."""
    detector = BypassDetector([TRUNK])
    _feed(detector, _local_pair(f"Local/0470@{ROUTE}-0", ROUTE, "A", "A2", "A"))
    detector.allow("A2", "A", E164)
    jump = _event(
        "Newexten",
        Channel=f"Local/0470@{ROUTE}-0;2",
        Context=TRUNK,
        Exten="0470123456",
        Uniqueid="A2",
        Linkedid="A",
        Application="Dial",
    )
    [found] = _feed(detector, [jump])
    assert (found.uniqueid, found.trigger, found.reason) == ("A2", "Newexten", "number_mismatch")


def test_unchecked_half_jumping_into_the_trunk_is_cut_without_grace() -> None:
    """A Local half born in a route, not in the trunk, has no DialBegin to wait for."""
    detector = BypassDetector([TRUNK])
    _feed(detector, _local_pair(f"Local/0470@{ROUTE}-0", ROUTE, "A", "A2", "A"))
    jump = _event(
        "Newexten",
        Channel=f"Local/0470@{ROUTE}-0;2",
        Context=TRUNK,
        Exten=NUMBER,
        Uniqueid="A2",
        Linkedid="A",
        Application="Dial",
    )
    [found] = _feed(detector, [jump])
    assert (found.uniqueid, found.reason) == ("A2", "no_allow")


def _provider_dial(caller: str, context: str) -> AmiEvent:
    return AmiEvent(
        "DialBegin",
        MappingProxyType(
            {
                "Channel": f"Local/{NUMBER}@{context}-1;2",
                "Context": context,
                "Uniqueid": caller,
                "DestChannel": "IAX2/provider-0001",
                "DestContext": "",
                "DestExten": NUMBER,
                "DestUniqueid": "P1",
            }
        ),
    )


@pytest.mark.parametrize("provider_first", [False, True])
def test_report_says_whether_the_provider_leg_began(provider_first: bool) -> None:
    """A bypass report names the provider leg its Local partner dialled, before or after."""
    detector = BypassDetector([TRUNK])
    pair = _local_pair(f"Local/0470@{TRUNK}-1", TRUNK, "T1", "T2", "T1")
    dial = [_provider_dial("T2", TRUNK)]
    bypass = [_dial("", "T1", TRUNK, "T1")]
    _feed(detector, pair + (dial + bypass if provider_first else bypass + dial))
    early = detector.reports()
    _feed(detector, [_event("Hangup", Uniqueid=u) for u in ("P1", "T2", "T1")])
    [report] = detector.reports()
    assert (early, report.bypass.uniqueid, report.provider_channel) == (
        [],
        "T1",
        "IAX2/provider-0001",
    )


def test_report_without_provider_leg_comes_at_hangup() -> None:
    """A bypass cut before any provider dial is reported, not reached, once its leg is gone."""
    detector = BypassDetector([TRUNK])
    pair = _local_pair(f"Local/0470@{TRUNK}-1", TRUNK, "T1", "T2", "T1")
    _feed(detector, [*pair, _dial("", "T1", TRUNK, "T1")])
    _feed(detector, [_event("Hangup", Uniqueid=u) for u in ("T2", "T1")])
    [report] = detector.reports()
    assert (report.provider_reached, detector.tracked) == (False, 0)


def test_report_of_a_leg_left_up_comes_after_the_wait() -> None:
    """In alert mode the leg stays up: its report is handed back after REPORT_WAIT_S."""
    now = [0.0]
    detector = BypassDetector([TRUNK], clock=lambda: now[0])
    pair = _local_pair(f"Local/0470@{TRUNK}-1", TRUNK, "T1", "T2", "T1")
    _feed(detector, [*pair, _dial("", "T1", TRUNK, "T1")])
    early = detector.reports()
    now[0] = REPORT_WAIT_S
    assert (early, [r.bypass.uniqueid for r in detector.reports()]) == ([], ["T1"])


def test_open_reports_are_bounded_and_the_oldest_is_handed_back_early() -> None:
    """Past max_reports open reports, the oldest is handed back with what is known so far."""
    detector = BypassDetector([TRUNK], max_reports=2)
    for n in range(3):
        _feed(detector, [_dial("", f"T{n}", TRUNK, f"T{n}")])
    assert ([r.bypass.uniqueid for r in detector.reports()], detector.tracked) == (["T0"], 5)


def _clocked() -> tuple[list[float], BypassDetector]:
    now = [0.0]
    return now, BypassDetector([TRUNK], clock=lambda: now[0])


def _half_runs(base: str, uniqueid: str, exten: str = NUMBER) -> AmiEvent:
    return _event(
        "Newexten",
        Channel=base,
        Context=TRUNK,
        Exten=exten,
        Uniqueid=uniqueid,
        Linkedid="A",
        Application="Answer",
    )


def _newchannel(name: str, uniqueid: str, context: str = TRUNK, exten: str = NUMBER) -> AmiEvent:
    return _event(
        "Newchannel", Channel=name, Context=context, Exten=exten, Uniqueid=uniqueid, Linkedid="A"
    )


def test_dial_begin_bypass_names_every_channel_involved() -> None:
    """A DialBegin bypass names the dialled channel, its call, its partner and who dialled."""
    detector = BypassDetector([TRUNK])
    _feed(detector, _local_pair(f"Local/0470@{TRUNK}-1", TRUNK, "T1", "T2", "L"))
    dial = AmiEvent("DialBegin", MappingProxyType({
        "Channel": "PJSIP/agent-1", "Uniqueid": "P", "Linkedid": "A",
        "DestChannel": f"Local/{NUMBER}@{TRUNK}-1;1", "DestContext": TRUNK,
        "DestExten": NUMBER, "DestUniqueid": "T1", "DestLinkedid": "L",
    }))  # fmt: skip
    assert detector.feed(dial) == [
        Bypass(
            channel=f"Local/{NUMBER}@{TRUNK}-1;1",
            uniqueid="T1",
            linkedid="L",
            context=TRUNK,
            exten=NUMBER,
            trigger="DialBegin",
            dialled_by="PJSIP/agent-1",
            partner_channel=f"Local/0470@{TRUNK}-1;2",
            partner_uniqueid="T2",
            dialled_by_uniqueid="P",
        )
    ]


def test_newexten_bypass_names_the_channel_and_no_dialler() -> None:
    """A channel redirected into the trunk is named with its call; nobody dialled it."""
    detector = BypassDetector([TRUNK])
    assert _feed(detector, [_runs("R", TRUNK, "L")]) == [
        Bypass(
            channel="X/R",
            uniqueid="R",
            linkedid="L",
            context=TRUNK,
            exten=NUMBER,
            trigger="Newexten",
            dialled_by="",
            partner_channel="",
        )
    ]


def test_channel_redirected_into_the_trunk_is_reported_once() -> None:
    """Each further dialplan step of a channel already reported is no new bypass."""
    detector = BypassDetector([TRUNK])
    assert len(_feed(detector, [_runs("R", TRUNK, "R"), _runs("R", TRUNK, "R", "Dial")])) == 1


def test_allowed_channel_jumping_into_the_trunk_with_its_number_is_no_bypass() -> None:
    """A checked route half that Goto()s the trunk for the allowed number may dial out."""
    detector = BypassDetector([TRUNK])
    _feed(detector, _local_pair(f"Local/0470@{ROUTE}-0", ROUTE, "A", "A2", "A"))
    detector.allow("A2", "A", E164)
    jump = _half_runs(f"Local/0470@{ROUTE}-0;2", "A2")
    hangups = [_event("Hangup", Uniqueid=u) for u in ("A2", "A")]
    assert (_feed(detector, [jump, jump]), _feed(detector, hangups), detector.tracked) == (
        [],
        [],
        0,
    )


def test_plain_channels_are_not_paired() -> None:
    """Only Local halves share a grant: one agent's ALLOW does not cover another's dial."""
    detector = BypassDetector([TRUNK])
    _feed(
        detector,
        [_newchannel("PJSIP/a-1", "P1", "agents"), _newchannel("PJSIP/b-2", "P2", "agents")],
    )
    detector.allow("P1", "A", E164)
    dial = AmiEvent("DialBegin", MappingProxyType({
        "Channel": "PJSIP/b-2", "Uniqueid": "P2", "DestChannel": f"Local/{NUMBER}@{TRUNK}-1;1",
        "DestContext": TRUNK, "DestExten": NUMBER, "DestUniqueid": "T1",
    }))  # fmt: skip
    assert [b.dialled_by_uniqueid for b in _feed(detector, [dial])] == ["P2"]


def test_only_the_two_halves_of_a_local_channel_pair_by_name() -> None:
    """A Local name without a `;1`/`;2` half pairs with nothing, even under the same base."""
    detector = BypassDetector([TRUNK])
    _feed(
        detector,
        [_newchannel(f"Local/x@{TRUNK}-1;3", "U3"), _newchannel(f"Local/x@{TRUNK}-1;4", "U4")],
    )
    [found] = _feed(detector, [_half_runs(f"Local/x@{TRUNK}-1;4", "U4")])
    assert found.partner_uniqueid == ""


def _allowed_half_dials_through_its_partner(pairing: list[AmiEvent]) -> list[Bypass]:
    """A2 is allowed; its partner A dials the trunk, A/A2 paired by `pairing` alone."""
    detector = BypassDetector([TRUNK])
    _feed(detector, pairing)
    detector.allow("A2", "A", E164)
    dial = AmiEvent("DialBegin", MappingProxyType({
        "Channel": f"Local/0470@{ROUTE}-0;1", "Uniqueid": "A", "DestChannel": "PJSIP/trunk-9",
        "DestContext": TRUNK, "DestExten": NUMBER, "DestUniqueid": "T1",
    }))  # fmt: skip
    return _feed(detector, [dial])


def test_local_halves_pair_by_their_channel_names_alone() -> None:
    """Two Newchannels `…;1` and `…;2` of one Local channel pair without a LocalBridge."""
    pairing = [
        _newchannel(f"Local/0470@{ROUTE}-0;1", "A", ROUTE),
        _newchannel(f"Local/0470@{ROUTE}-0;2", "A2", ROUTE),
    ]
    assert _allowed_half_dials_through_its_partner(pairing) == []


def test_local_halves_pair_by_local_bridge_alone() -> None:
    """A LocalBridge pairs two halves whose Newchannels were not seen."""
    pairing = [_event("LocalBridge", LocalOneUniqueid="A", LocalTwoUniqueid="A2")]
    assert _allowed_half_dials_through_its_partner(pairing) == []


def test_dial_to_a_plain_channel_in_the_trunk_reads_dest_exten() -> None:
    """A dialled channel that is not Local enters the trunk at DestExten, read for the number."""
    detector = BypassDetector([TRUNK])
    detector.allow("A2", "A", E164)
    dial = AmiEvent("DialBegin", MappingProxyType({
        "Channel": "PJSIP/a-1", "Uniqueid": "A2", "DestChannel": "PJSIP/trunk-9",
        "DestContext": TRUNK, "DestExten": NUMBER, "DestUniqueid": "T1",
    }))  # fmt: skip
    assert _feed(detector, [dial]) == []


def test_dashes_in_the_local_name_are_part_of_the_number() -> None:
    """Only the last `-` of a Local name starts its counter: `0470-999-999` is read whole."""
    detector = BypassDetector([TRUNK])
    detector.allow("A2", "A", E164)
    dial = AmiEvent("DialBegin", MappingProxyType({
        "Channel": "PJSIP/a-1", "Uniqueid": "A2", "DestChannel": f"Local/0470-999-999@{TRUNK}-1;1",
        "DestContext": TRUNK, "DestExten": "s", "DestUniqueid": "T1",
    }))  # fmt: skip
    assert _feed(detector, [dial]) == []


def test_grant_without_a_number_permits_nothing() -> None:
    """An ALLOW recorded without a number covers no dialled number (closed)."""
    detector = BypassDetector([TRUNK])
    detector.allow("A2", "A", "")
    [found] = _feed(detector, [_dial("A2", "T1", TRUNK, "A")])
    assert found.reason == "number_mismatch"


def test_two_halves_waiting_at_once_are_both_reported_after_grace() -> None:
    """Two unchecked trunk halves waiting for their DialBegin are each reported, once."""
    now, detector = _clocked()
    for n in ("1", "2"):
        base = f"Local/0470@{TRUNK}-{n}"
        _feed(
            detector,
            [*_local_pair(base, TRUNK, f"T{n}", f"U{n}", "A"), _half_runs(f"{base};2", f"U{n}")],
        )
    now[0] = PENDING_GRACE_S
    assert ([b.uniqueid for b in detector.expire()], detector.expire()) == (["U1", "U2"], [])


def test_feeding_any_event_hands_back_an_expired_wait() -> None:
    """The grace of a waiting half runs out on the next event fed, not only on expire()."""
    now, detector = _clocked()
    base = f"Local/0470@{TRUNK}-1"
    _feed(detector, [*_local_pair(base, TRUNK, "T1", "T2", "A"), _half_runs(f"{base};2", "T2")])
    now[0] = PENDING_GRACE_S
    assert [b.uniqueid for b in detector.feed(_event("VarSet"))] == ["T2"]


def test_allowed_late_dial_begin_ends_the_wait_for_good() -> None:
    """A waiting half whose partner's DialBegin was allowed is not reported after the grace."""
    now, detector = _clocked()
    detector.allow("A2", "A", E164)
    _second_half_runs_first(detector, "A2")
    now[0] = PENDING_GRACE_S
    assert detector.expire() == []


def test_second_half_of_a_bypassed_leg_is_not_reported_after_grace() -> None:
    """A half running after its partner was reported shares that verdict, even later."""
    now, detector = _clocked()
    base = f"Local/0470@{TRUNK}-1"
    events = [*_local_pair(base, TRUNK, "T1", "T2", "A"), _dial("", "T1", TRUNK, "A")]
    found = _feed(detector, [*events, _half_runs(f"{base};2", "T2")])
    now[0] = PENDING_GRACE_S
    assert (len(found), detector.expire()) == (1, [])


def test_half_whose_partner_hung_up_is_reported_at_once() -> None:
    """After its partner's Hangup a Local half is alone: it waits for no DialBegin."""
    detector = BypassDetector([TRUNK])
    base = f"Local/0470@{TRUNK}-1"
    _feed(detector, [*_local_pair(base, TRUNK, "T1", "T2", "A"), _event("Hangup", Uniqueid="T1")])
    [found] = _feed(detector, [_half_runs(f"{base};2", "T2")])
    assert found.partner_uniqueid == ""


def test_half_hung_up_before_its_partner_appeared_is_forgotten() -> None:
    """A later half of the same Local name is not paired with a half already gone."""
    detector = BypassDetector([TRUNK])
    base = f"Local/0470@{TRUNK}-1"
    _feed(detector, [_newchannel(f"{base};1", "T1"), _event("Hangup", Uniqueid="T1")])
    _feed(detector, [_newchannel(f"{base};2", "T2")])
    [found] = _feed(detector, [_half_runs(f"{base};2", "T2")])
    assert found.partner_uniqueid == ""


def test_hangup_of_an_unknown_channel_changes_nothing() -> None:
    """A Hangup for a channel never seen (events lost) is ignored."""
    detector = BypassDetector([TRUNK])
    detector.allow("A2", "A", E164)
    assert (_feed(detector, [_event("Hangup", Uniqueid="Z")]), detector.tracked) == ([], 1)


def test_channels_without_a_hangup_expire() -> None:
    """A channel whose Hangup was lost is forgotten after the TTL."""
    now, detector = _clocked()
    _feed(detector, [_newchannel(f"Local/0470@{TRUNK}-1;1", "T1")])
    now[0] = STATE_TTL_S + 1
    _feed(detector, [_event("VarSet")] * PRUNE_EVERY_EVENTS)
    assert detector.tracked == 0


def test_state_within_the_ttl_survives_a_prune() -> None:
    """A grant and a channel exactly STATE_TTL_S old are still held."""
    now, detector = _clocked()
    detector.allow("A2", "A", E164)
    _feed(detector, [_newchannel(f"Local/0470@{ROUTE}-0;1", "A", ROUTE)])
    now[0] = STATE_TTL_S
    _feed(detector, [_event("VarSet")] * PRUNE_EVERY_EVENTS)
    assert detector.tracked == 2


def test_prune_runs_on_every_prune_every_events_th_event() -> None:
    """Expired state is dropped at the PRUNE_EVERY_EVENTS-th event, not before."""
    now, detector = _clocked()
    detector.allow("A2", "A", E164)
    now[0] = STATE_TTL_S + 1
    _feed(detector, [_event("VarSet")] * (PRUNE_EVERY_EVENTS - 1))
    before = detector.tracked
    _feed(detector, [_event("VarSet")])
    assert (before, detector.tracked) == (1, 0)


def test_channel_covered_when_it_appears_is_decided_then() -> None:
    """A trunk channel its call's grant covered at Newchannel stays allowed after the grant."""
    now, detector = _clocked()
    detector.allow("", "A", E164)
    now[0] = STATE_TTL_S - 1
    _feed(detector, [_newchannel(f"Local/{NUMBER}@{TRUNK}-1;1", "T1")])
    now[0] = STATE_TTL_S + 1
    _feed(detector, [_event("VarSet")] * PRUNE_EVERY_EVENTS)
    assert _feed(detector, [_dial("", "T1", TRUNK, "A")]) == []


def test_provider_dial_of_an_allowed_leg_is_forgotten_at_its_hangup() -> None:
    """The provider leg a gated channel began is held only until that channel hangs up."""
    detector = BypassDetector([TRUNK])
    _feed(detector, [_provider_dial("T2", TRUNK), _event("Hangup", Uniqueid="T2")])
    assert detector.tracked == 0


def test_provider_dial_outside_the_gated_contexts_is_not_held() -> None:
    """A provider dial from a context the watchdog does not gate is none of its business."""
    detector = BypassDetector([TRUNK])
    _feed(detector, [_provider_dial("R2", ROUTE)])
    assert detector.tracked == 0


def test_provider_dials_are_bounded() -> None:
    """Past MAX_PROVIDER_DIALS remembered provider legs, the oldest is dropped."""
    detector = BypassDetector([TRUNK])
    _feed(detector, [_provider_dial(f"T{n}", TRUNK) for n in range(MAX_PROVIDER_DIALS + 1)])
    assert detector.tracked == MAX_PROVIDER_DIALS


def test_provider_leg_through_a_further_local_channel_is_in_the_report() -> None:
    """A bypassing leg that dials another Local channel is followed to the provider leg."""
    detector = BypassDetector([TRUNK])
    _feed(
        detector,
        [
            *_local_pair(f"Local/0470@{TRUNK}-1", TRUNK, "T1", "T2", "T1"),
            _dial("", "T1", TRUNK, "T1"),
        ],
    )
    onward = AmiEvent("DialBegin", MappingProxyType({
        "Channel": f"Local/0470@{TRUNK}-1;2", "Context": TRUNK, "Uniqueid": "T2",
        "DestChannel": "Local/0470@out-2;1", "DestContext": "out", "DestUniqueid": "O1",
    }))  # fmt: skip
    pair = _local_pair("Local/0470@out-2", "out", "O1", "O2", "T1")
    _feed(detector, [*pair, onward, _provider_dial("O2", "out")])
    _feed(detector, [_event("Hangup", Uniqueid=u) for u in ("P1", "O2", "O1", "T2", "T1")])
    assert [r.provider_channel for r in detector.reports()] == ["IAX2/provider-0001"]


def test_report_waits_for_every_channel_of_the_leg() -> None:
    """A report is not handed back while one of its channels is still up."""
    detector = BypassDetector([TRUNK])
    pair = _local_pair(f"Local/0470@{TRUNK}-1", TRUNK, "T1", "T2", "T1")
    _feed(detector, [*pair, _dial("", "T1", TRUNK, "T1"), _event("Hangup", Uniqueid="T2")])
    early = detector.reports()
    _feed(detector, [_event("Hangup", Uniqueid="T1")])
    assert (early, [r.bypass.uniqueid for r in detector.reports()]) == ([], ["T1"])


def test_report_handed_back_after_the_wait_is_not_handed_back_again() -> None:
    """A report handed back on time, with no provider leg, is not repeated at the hangups."""
    now, detector = _clocked()
    pair = _local_pair(f"Local/0470@{TRUNK}-1", TRUNK, "T1", "T2", "T1")
    _feed(detector, [*pair, _dial("", "T1", TRUNK, "T1")])
    now[0] = REPORT_WAIT_S
    first = [(r.bypass.uniqueid, r.provider_channel) for r in detector.reports()]
    _feed(detector, [_event("Hangup", Uniqueid=u) for u in ("T2", "T1")])
    assert (first, detector.reports()) == ([("T1", "")], [])


def test_half_paired_after_its_partner_was_reported_shares_that_verdict() -> None:
    """A half that appears only after its partner's bypass takes that verdict, even later."""
    now, detector = _clocked()
    base = f"Local/0470@{TRUNK}-1"
    first = _feed(detector, [_newchannel(f"{base};1", "T1"), _dial("", "T1", TRUNK, "A")])
    later = _feed(detector, [_newchannel(f"{base};2", "T2"), _half_runs(f"{base};2", "T2")])
    now[0] = PENDING_GRACE_S
    assert ([b.uniqueid for b in first], later, detector.expire()) == (["T1"], [], [])


def test_dial_into_a_channel_its_call_was_allowed_for_is_no_bypass() -> None:
    """A dialled trunk channel not decided at Newchannel is covered by its own call's grant."""
    detector = BypassDetector([TRUNK])
    detector.allow("", "A", E164)
    dial = AmiEvent("DialBegin", MappingProxyType({
        "DestChannel": "PJSIP/trunk-9", "DestContext": TRUNK, "DestExten": NUMBER,
        "DestUniqueid": "T1",
    }))  # fmt: skip
    assert _feed(detector, [_newchannel("PJSIP/trunk-9", "T1", TRUNK, "s"), dial]) == []


def test_local_bridge_naming_one_half_pairs_nothing() -> None:
    """A LocalBridge missing a uniqueid leaves the half it names alone: it waits for nothing."""
    detector = BypassDetector([TRUNK])
    _feed(detector, [_event("LocalBridge", LocalOneUniqueid="", LocalTwoUniqueid="T2")])
    [found] = _feed(detector, [_half_runs(f"Local/0470@{TRUNK}-1;2", "T2")])
    assert found.uniqueid == "T2"


def test_half_hung_up_while_waiting_is_reported_then_forgotten() -> None:
    """A waiting half that hangs up is still reported after the grace; then nothing is held."""
    now, detector = _clocked()
    base = f"Local/0470@{TRUNK}-1"
    events = [*_local_pair(base, TRUNK, "T1", "T2", "A"), _half_runs(f"{base};2", "T2")]
    _feed(detector, [*events, _event("Hangup", Uniqueid="T2"), _event("Hangup", Uniqueid="T1")])
    now[0] = PENDING_GRACE_S
    late = [b.uniqueid for b in detector.expire()]
    now[0] += REPORT_WAIT_S
    reported = [r.bypass.uniqueid for r in detector.reports()]
    assert (late, reported, detector.tracked) == (["T2"], ["T2"], 0)


def test_further_dialplan_steps_of_a_waiting_half_do_not_extend_its_grace() -> None:
    """The grace of a waiting half runs from its first dialplan step in the trunk."""
    now, detector = _clocked()
    base = f"Local/0470@{TRUNK}-1"
    _feed(detector, [*_local_pair(base, TRUNK, "T1", "T2", "A"), _half_runs(f"{base};2", "T2")])
    now[0] = PENDING_GRACE_S / 2
    _feed(detector, [_half_runs(f"{base};2", "T2")])
    now[0] = PENDING_GRACE_S
    assert [b.uniqueid for b in detector.expire()] == ["T2"]


def test_half_that_took_its_partners_verdict_keeps_it_after_the_partner_hangs_up() -> None:
    """A half decided by its partner's verdict is not reported when it runs on alone."""
    detector = BypassDetector([TRUNK])
    base = f"Local/0470@{TRUNK}-1"
    _feed(detector, [_newchannel(f"{base};1", "T1"), _dial("", "T1", TRUNK, "A")])
    _feed(detector, [_newchannel(f"{base};2", "T2"), _half_runs(f"{base};2", "T2")])
    _feed(detector, [_event("Hangup", Uniqueid="T1")])
    assert _feed(detector, [_half_runs(f"{base};2", "T2")]) == []


def test_bypassing_leg_dialling_another_unchecked_trunk_channel_gives_two_reports() -> None:
    """A bypass dialled by a bypassing leg has its own report; both are handed back."""
    now, detector = _clocked()
    _feed(
        detector,
        [
            *_local_pair(f"Local/0470@{TRUNK}-1", TRUNK, "T1", "T2", "T1"),
            _dial("", "T1", TRUNK, "T1"),
        ],
    )
    onward = AmiEvent("DialBegin", MappingProxyType({
        "Channel": f"Local/0470@{TRUNK}-1;2", "Context": TRUNK, "Uniqueid": "T2",
        "DestChannel": f"Local/{NUMBER}@{TRUNK}-2;1", "DestContext": TRUNK, "DestUniqueid": "U1",
    }))  # fmt: skip
    [found] = _feed(detector, [onward])
    now[0] = REPORT_WAIT_S
    reported = [r.bypass.uniqueid for r in detector.reports()]
    assert (found.dialled_by_uniqueid, reported, detector.reports()) == ("T2", ["T1", "U1"], [])


def test_halves_paired_again_hang_up_in_any_order() -> None:
    """A LocalBridge that pairs a half a second time leaves no state behind, nor an error."""
    detector = BypassDetector([TRUNK])
    bridges = [
        _event("LocalBridge", LocalOneUniqueid="A", LocalTwoUniqueid="B"),
        _event("LocalBridge", LocalOneUniqueid="A", LocalTwoUniqueid="C"),
    ]
    hangups = [_event("Hangup", Uniqueid=u) for u in ("B", "C", "A")]
    assert (_feed(detector, [*bridges, *hangups]), detector.tracked) == ([], 0)
