"""Record ids: short, sortable, unique. Crockford base32 of the millisecond time and sequence."""

from __future__ import annotations

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TIME_CHARS = 9
_SEQ_CHARS = 4


def _base32(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


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
