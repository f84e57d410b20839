"""The doctor's dialplan analysis: which routes reach a gated context unchecked (pure)."""

from __future__ import annotations

from types import MappingProxyType

from gatekeeper.ami.client import AmiEvent
from gatekeeper.doctor import Dialplan, checking_contexts, freepbx_hook, parse, unguarded


def _plan(text: str) -> Dialplan:
    """`context|exten|priority|app|data` lines, or `context|include|name`, as ShowDialPlan says."""
    events = []
    for line in text.strip().splitlines():
        parts = line.split("|")
        if parts[1] == "include":
            fields = {"Context": parts[0], "IncludeContext": parts[2]}
        else:
            context, exten, priority, app, data = parts
            fields = {
                "Context": context,
                "Extension": exten,
                "Priority": priority,
                "Application": app,
                "AppData": data,
            }
        events.append(AmiEvent("ListDialplan", MappingProxyType(fields)))
    return parse(events)


def test_check_in_a_called_subroutine_guards_the_dial() -> None:
    """A Gosub into a context that runs gatekeeper-check counts as the check."""
    plan = _plan("""
outrt|_X.|1|Gosub|hook,s,1()
outrt|_X.|2|Dial|Local/${EXTEN}@trunk
hook|s|1|Gosub|gatekeeper-check,s,1(${EXTEN},promo)
hook|s|2|Return|
""")
    assert unguarded(plan, ["trunk"]) == []


def test_check_after_the_dial_does_not_guard_it() -> None:
    """Only a check before the priority that reaches the trunk counts."""
    plan = _plan("""
outrt|_X.|1|Dial|Local/${EXTEN}@trunk
outrt|_X.|2|Gosub|gatekeeper-check,s,1(${EXTEN},promo)
""")
    assert [p.detail.split(" ")[0] for p in unguarded(plan, ["trunk"])] == ["outrt,_X.,1"]


def test_goto_into_a_gated_context_is_a_route() -> None:
    """A GotoIf branch into a gated context reaches it like a Dial."""
    plan = _plan("outrt|_X.|1|GotoIf|$[1]?trunk,${EXTEN},1:other,s,1")
    assert len(unguarded(plan, ["trunk"])) == 1


def test_including_a_gated_context_is_reported() -> None:
    """An include of a gated context makes its extensions reachable unchecked."""
    plan = _plan("from-internal|include|trunk")
    assert "includes gated context 'trunk'" in unguarded(plan, ["trunk"])[0].detail


def test_macro_names_its_macro_context() -> None:
    """Macro(name) runs [macro-name]: a check there guards the caller."""
    plan = _plan("macro-hook|s|1|Gosub|gatekeeper-check,s,1(${X},y)\nroute|_X.|1|Macro|hook")
    assert "route" in checking_contexts(plan)


def test_freepbx_hook_without_check_is_reported() -> None:
    """FreePBX's trunk macro with a stock predial hook (Return only) is reported."""
    plan = _plan(
        "macro-dialout-trunk|s|1|Gosub|macro-dialout-trunk-predial-hook,s,1()\n"
        "macro-dialout-trunk-predial-hook|s|1|Return|"
    )
    assert len(freepbx_hook(plan)) == 1
