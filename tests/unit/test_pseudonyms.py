"""Pseudonyms of numbers and of the channel names that embed them, for the journal."""

from __future__ import annotations

from gatekeeper.common.pseudonyms import KEY_BYTES, PSEUDONYM_HEX, Pseudonyms, loggable

PSEUDONYMS = Pseudonyms(bytes(range(KEY_BYTES)))
BYPASS = {
    "channel": "Local/0470999999@gatekeeper-example-trunk-00000001;1",
    "exten": "0470999999",
    "dialled_by": "PJSIP/agent-00000002",
    "context": "gatekeeper-example-trunk",
}


def test_pseudonym_depends_on_the_key() -> None:
    """One number has one pseudonym per key, of PSEUDONYM_HEX hex digits, and another elsewhere."""
    other = Pseudonyms(bytes(KEY_BYTES))
    mine = PSEUDONYMS.of("+32470123456")
    assert (len(mine), mine == PSEUDONYMS.of("+32470123456"), mine == other.of("+32470123456")) == (
        PSEUDONYM_HEX,
        True,
        False,
    )


def test_loggable_pseudonymises_numbers_and_local_channels() -> None:
    """A bypass's exten and Local channel show the pseudonym; a trunk channel stays as it is."""
    shown = loggable(BYPASS, PSEUDONYMS)
    code = PSEUDONYMS.of("0470999999")
    assert shown == {
        "channel": f"Local/{code}@gatekeeper-example-trunk-00000001;1",
        "exten": code,
        "dialled_by": "PJSIP/agent-00000002",
        "context": "gatekeeper-example-trunk",
    }


def test_loggable_without_key_withholds_numbers() -> None:
    """Without pseudonyms, the number is withheld and a Local channel name blanked."""
    shown = loggable(BYPASS, None)
    assert (shown["exten"], shown["channel"], shown["dialled_by"]) == (
        None,
        "",
        "PJSIP/agent-00000002",
    )
