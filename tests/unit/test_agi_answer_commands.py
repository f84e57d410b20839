"""How the AGI server turns an answer's variables into commands."""

from __future__ import annotations

import pytest
from gatekeeper.agi.server import FAIL_CLOSED, answer_commands

ANSWER = {
    "GK_REASON": "not_listed",
    "GK_DECISION_ID": "1M84TWYNA0004",
    "GK_NUMBER": "+32470999999",
    "GK_DECISION": "ALLOW",
}


def test_plain_answer_is_one_mset_in_order() -> None:
    """Plain names and values go out as one EXEC MSet, keeping their order."""
    [command] = answer_commands(ANSWER)
    assert command.line == (
        b'EXEC "MSet" "GK_REASON=not_listed,GK_DECISION_ID=1M84TWYNA0004,'
        b'GK_NUMBER=+32470999999,GK_DECISION=ALLOW"\n'
    )


def test_mset_success_is_result_zero() -> None:
    """An application run by EXEC reports success as result=0."""
    [command] = answer_commands(ANSWER)
    assert command.success == "0"


def test_empty_value_stays_plain() -> None:
    """An empty id (a block that could not be recorded) is still set, as empty, by MSet."""
    [command] = answer_commands({"GK_DECISION_ID": "", "GK_DECISION": "BLOCK"})
    assert command.line == b'EXEC "MSet" "GK_DECISION_ID=,GK_DECISION=BLOCK"\n'


@pytest.mark.parametrize("value", ["a,b", "a b", 'say "hi"', "back\\slash", "é"])
def test_value_mset_cannot_carry_falls_back_to_set_variable(value: str) -> None:
    """A value with a comma, blank, quote, backslash or non-ASCII letter is set one by one."""
    commands = answer_commands({"GK_REASON": value, "GK_DECISION": "BLOCK"})
    assert [c.line.split(b" ", 2)[:2] for c in commands] == [[b"SET", b"VARIABLE"]] * 2


def test_batching_can_be_turned_off() -> None:
    """Without batching every variable gets its own SET VARIABLE, success result=1."""
    commands = answer_commands(ANSWER, batch=False)
    assert [(c.sets, c.success) for c in commands] == [(name, "1") for name in ANSWER]


def test_fail_closed_answer_sets_the_decision_last() -> None:
    """The server's own BLOCK internal_error, sent one variable at a time, ends with GK_DECISION."""
    commands = answer_commands(FAIL_CLOSED, batch=False)
    assert [command.sets for command in commands] == ["GK_REASON", "GK_DECISION"]
