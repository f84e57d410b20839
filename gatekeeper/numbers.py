"""Normalise dialled strings to Belgian E.164 numbers, or refuse them with a precise reason.

Theory of operation: one pure function, `normalise`, serves every path that meets a number (the
list import, consent and objection records, live checks and scrubs), so the same subscriber always
meets the same key. A route's outside-line prefix is stripped only when the caller passes it:
it is never guessed, because a stray `0` in front of a national number turns it international.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

BELGIUM_COUNTRY_CODE = 32


class NumberClass(enum.StrEnum):
    """What kind of Belgian line a number belongs to."""

    MOBILE = "mobile"
    GEOGRAPHIC = "geographic"
    FREEPHONE = "freephone"
    PREMIUM = "premium"
    SHARED_COST = "shared_cost"
    OTHER = "other"


class Refusal(enum.StrEnum):
    """Why a dialled string is not a callable Belgian number."""

    NOT_A_NUMBER = "not_a_number"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    UNALLOCATED = "unallocated"


@dataclass(frozen=True, slots=True)
class BelgianNumber:
    """A Belgian number in canonical form."""

    e164: str
    number_class: NumberClass

    @property
    def key(self) -> int:
        """The integer form of the E.164 digits, used as the index key."""
        return int(self.e164[1:])


@dataclass(frozen=True, slots=True)
class ForeignNumber:
    """A valid-looking number outside Belgium: never on the list; the campaign decides."""

    e164: str
    country_code: int


@dataclass(frozen=True, slots=True)
class InvalidNumber:
    """A dialled string that is not a callable number, with the reason."""

    refusal: Refusal
    detail: str


Normalised = BelgianNumber | ForeignNumber | InvalidNumber

_CLASS_OF_TYPE = {
    PhoneNumberType.MOBILE: NumberClass.MOBILE,
    PhoneNumberType.FIXED_LINE: NumberClass.GEOGRAPHIC,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: NumberClass.GEOGRAPHIC,
    PhoneNumberType.TOLL_FREE: NumberClass.FREEPHONE,
    PhoneNumberType.PREMIUM_RATE: NumberClass.PREMIUM,
    PhoneNumberType.SHARED_COST: NumberClass.SHARED_COST,
}

_URI_SCHEMES = ("tel:", "sip:", "sips:")
_MAX_INPUT = 64


def _strip_uri(text: str) -> str:
    lowered = text.lower()
    for scheme in _URI_SCHEMES:
        if lowered.startswith(scheme):
            text = text[len(scheme) :]
            text = text.split("@", 1)[0].split(";", 1)[0]
            break
    return text


def normalise(raw: str, *, strip_prefix: str = "") -> Normalised:
    """Return the canonical form of a dialled string, or why it has none.

    `strip_prefix` is the route's outside-line prefix (e.g. "9"); it is removed only when present.
    """
    text = _strip_uri(raw.strip())
    if len(text) > _MAX_INPUT:
        return InvalidNumber(Refusal.TOO_LONG, "longer than any phone number")
    if strip_prefix and text.startswith(strip_prefix):
        text = text[len(strip_prefix) :]
    text = text.replace("(0)", "")
    if not any(ch.isdigit() for ch in text):
        return InvalidNumber(Refusal.NOT_A_NUMBER, "no digits")
    try:
        parsed = phonenumbers.parse(text, "BE")
    except phonenumbers.NumberParseException as err:
        return _refusal_of_parse_error(err)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    country_code = parsed.country_code or 0
    if country_code != BELGIUM_COUNTRY_CODE:
        if phonenumbers.is_possible_number(parsed):
            return ForeignNumber(e164, country_code)
        return InvalidNumber(Refusal.UNALLOCATED, f"not a possible number for +{country_code}")
    length = phonenumbers.is_possible_number_with_reason(parsed)
    if length == phonenumbers.ValidationResult.TOO_SHORT:
        return InvalidNumber(Refusal.TOO_SHORT, "too short for a Belgian number")
    if length in (
        phonenumbers.ValidationResult.TOO_LONG,
        phonenumbers.ValidationResult.INVALID_LENGTH,
    ):
        return InvalidNumber(Refusal.TOO_LONG, "too long for a Belgian number")
    if not phonenumbers.is_valid_number(parsed):
        return InvalidNumber(Refusal.UNALLOCATED, "not an allocated Belgian range")
    number_type = phonenumbers.number_type(parsed)
    return BelgianNumber(e164, _CLASS_OF_TYPE.get(number_type, NumberClass.OTHER))


def _refusal_of_parse_error(err: phonenumbers.NumberParseException) -> InvalidNumber:
    if err.error_type in (
        phonenumbers.NumberParseException.TOO_SHORT_NSN,
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD,
    ):
        return InvalidNumber(Refusal.TOO_SHORT, str(err))
    if err.error_type == phonenumbers.NumberParseException.TOO_LONG:
        return InvalidNumber(Refusal.TOO_LONG, str(err))
    return InvalidNumber(Refusal.NOT_A_NUMBER, str(err))
