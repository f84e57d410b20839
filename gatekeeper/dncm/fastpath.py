"""A fast reader for the plain digit numbers of the list file, exactly as `normalise` reads them.

Theory of operation: a 2-million-line file cannot afford `phonenumbers.parse` on every line
(about 20 µs each). Nearly every line holds plain digits in one of four forms (`0…`, `32…`,
`+32…`, `0032…`), so this module strips the form to the national significant number and checks
it against the same Belgian metadata `is_valid_number` uses (the general pattern, then any
number type accepting that length). It only ever *accepts*: anything it is unsure about returns
None, and the caller asks `normalise`, which stays the one authority. Callers also compare a
sample of accepted lines with `normalise`, and tests compare the two on generated numbers.
"""

from __future__ import annotations

import re

import phonenumbers

_COUNTRY = b"32"
_TYPES = (
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)


def _patterns_by_length() -> dict[int, re.Pattern[bytes]]:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("BE")
    assert metadata is not None
    general = metadata.general_desc
    assert general is not None
    assert general.national_number_pattern is not None
    by_length: dict[int, list[str]] = {}
    for name in _TYPES:
        desc = getattr(metadata, name)
        if desc is None or desc.national_number_pattern is None:
            continue
        lengths = desc.possible_length or general.possible_length
        for length in lengths:
            if length in general.possible_length:
                by_length.setdefault(length, []).append(desc.national_number_pattern)
    compiled = {}
    for length, patterns in by_length.items():
        union = "|".join(f"(?:{p})" for p in patterns)
        text = f"(?=(?:{general.national_number_pattern})$)(?:{union})"
        compiled[length] = re.compile(text.encode("ascii"))
    return compiled


_VALID = _patterns_by_length()
_INTERNATIONAL_LENGTHS = frozenset(len(_COUNTRY) + n for n in _VALID)


def fast_key(number: bytes) -> int | None:
    """The index key of a plain Belgian number, or None when `normalise` must decide."""
    if number.isdigit():
        if number.startswith(b"0032"):
            national = number[4:]
        elif number.startswith(b"00"):
            return None
        elif number.startswith(b"0"):
            national = number[1:]
        elif number.startswith(_COUNTRY) and len(number) in _INTERNATIONAL_LENGTHS:
            national = number[2:]
        else:
            return None
    elif number.startswith(b"+32") and number[3:].isdigit():
        national = number[3:]
    else:
        return None
    pattern = _VALID.get(len(national))
    if pattern is None or pattern.fullmatch(national) is None:
        return None
    return int(_COUNTRY + national)
