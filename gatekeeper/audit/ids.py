"""Record ids: short, sortable, unique. Crockford base32 of the millisecond time and sequence."""

from __future__ import annotations

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TIME_CHARS = 9
_SEQ_CHARS = 4


_PAIRS = tuple(high + low for high in _ALPHABET for low in _ALPHABET)
"""Every two-character group, indexed by the 10 bits it stands for."""


def _base32(value: int, width: int) -> str:
    """`value` (below 32**width) as `width` characters, most significant first."""
    text = _ALPHABET[(value >> (5 * (width - 1))) & 31] if width % 2 else ""
    for shift in range(5 * (width - 2 - width % 2), -1, -10):
        text += _PAIRS[(value >> shift) & 1023]
    return text


def record_id(millis: int, seq: int) -> str:
    """A 13-character id: 9 characters of time (ms, until year 3000+) and 4 of sequence.

    Ids sort in chain order because the writer never lets the time go backwards and, within a
    millisecond, the sequence grows; the sequence part wraps only after a million records,
    far more than a millisecond can hold.
    """
    return _base32(millis, _TIME_CHARS) + _base32(seq, _SEQ_CHARS)


def millis_of(record_id_text: str) -> int:
    """The millisecond time encoded in an id."""
    value = 0
    for char in record_id_text[:_TIME_CHARS]:
        value = value * 32 + _ALPHABET.index(char)
    return value
