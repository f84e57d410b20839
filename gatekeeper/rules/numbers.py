"""Normalise dialled strings to Belgian E.164 numbers, or refuse them with a precise reason.

Theory of operation: one pure function, `normalise`, serves every path that meets a number (the
list import, consent and objection records, live checks and scrubs), so the same subscriber always
meets the same key. It works in three steps:

1. Scan: the raw text becomes a compact string, an optional leading `+` and ASCII digits. A quick
   scan handles the common forms (ASCII digits, `+`, spaces, `-`, `.`, `/`, parentheses); anything
   else takes the full scan: `tel:` and `sip:` URIs (with `phone-context`), Unicode decimal digits,
   Unicode spaces, dashes and invisible format characters. Any other character refuses the text.
2. Read the form: the route's outside-line prefix is removed only when the caller passes it and it
   is present, never guessed (a stray `0` in front of `025…` would make Brussels Ethiopian).
   Then `+` or `00` means international, `0` national, and `32` without `+` is the country code
   only when the digits are longer than any Belgian national number (10 or more). Shorter digit
   strings are a national number written without its trunk `0` (`32345678` is Antwerp
   03 234 56 78, not +32 345678), so the two readings can never collide. After the country
   code 32, one trunk `0` is dropped, which reads `+32 (0)470 …`.
3. Judge the national significant number (NSN) against libphonenumber's Belgian metadata. The
   regular expressions of that metadata are expanded once, at import, into exact tables of valid
   ranges keyed by the NSN's length and first digits, so valid numbers are judged by a dictionary
   look-up. `phonenumbers` itself judges foreign numbers, and Belgian numbers when the metadata
   uses a pattern the expansion does not understand (then the tables are not built at all).
   The reference path `normalise_reference` always asks `phonenumbers`; tests hold both to the
   same answers.

Before step 1, a shortcut takes the plain forms that make up nearly every list line and most
dialled strings: ASCII digits only, as `0…`, `0032…`, `32…` (10 digits or more), a bare NSN, or
`+32…`, without an outside-line prefix to weigh. It reads the form as step 2 would and answers
only when the range tables call the NSN valid; anything else, including every refusal, goes
through the three steps. It does not drop a trunk `0` after 32: no Belgian range starts with `0`,
so such a number takes the three steps too. `plain_key` is the same shortcut giving the index
key, for the list import.

A Belgian number that is not valid is refused as too short when a longer valid number starts with
it, too long when a valid number is a prefix of it, and unallocated otherwise. libphonenumber
classes most of `078` as UAN and only `07879` as shared cost: both are shared cost here, as the
Belgian regulator names them.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import unquote

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberType

from gatekeeper.rules.number_ranges import RangeTables, build_range_tables

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

    @property
    def nsn(self) -> str:
        """The national significant number: the digits after `+32`."""
        return self.e164[3:]


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
    PhoneNumberType.UAN: NumberClass.SHARED_COST,
}

_MAX_INPUT = 256
_PLUS_SIGNS = frozenset("+\uff0b\ufe62")
_PUNCTUATION_SEPARATORS = frozenset(".()/\uff0e\uff08\uff09\uff0f")
_SEPARATOR_CATEGORIES = frozenset({"Pd", "Cf", "Zs"})
_DIGITS = "0123456789"


def _belgian_metadata() -> PhoneMetadata:
    metadata = PhoneMetadata.metadata_for_region("BE")
    assert metadata is not None
    return metadata


def _possible_lengths(metadata: PhoneMetadata) -> frozenset[int]:
    general = metadata.general_desc
    assert general is not None
    return frozenset(general.possible_length)


_BE = _belgian_metadata()
_NSN_LENGTHS = _possible_lengths(_BE)
_MIN_NSN = min(_NSN_LENGTHS)
_MAX_NSN = max(_NSN_LENGTHS)
_COUNTRY_CODE_DIGITS = str(BELGIUM_COUNTRY_CODE)
_CC_FORM_MIN_DIGITS = _MAX_NSN + 1


# --- Step 1: scan --------------------------------------------------------------------------------


def _scan(raw: str) -> str | InvalidNumber:
    """The compact form (`+` and ASCII digits) of any supported text, or why there is none."""
    if len(raw) > _MAX_INPUT:
        return InvalidNumber(Refusal.TOO_LONG, f"longer than {_MAX_INPUT} characters")
    unwrapped = _unwrap_uri(raw.strip())
    if isinstance(unwrapped, InvalidNumber):
        return unwrapped
    quick = _without_common_separators(unwrapped)
    if _is_compact(quick):
        return quick
    compact: list[str] = []
    for position, char in enumerate(unwrapped):
        if char in _PLUS_SIGNS:
            if compact:
                return InvalidNumber(Refusal.NOT_A_NUMBER, f"'+' after digits at {position}")
            compact.append("+")
        elif char.isdecimal():
            compact.append(_DIGITS[unicodedata.decimal(char)])
        elif not _is_separator(char):
            return InvalidNumber(Refusal.NOT_A_NUMBER, f"unexpected {char!r} at {position}")
    if not compact:
        return InvalidNumber(Refusal.NOT_A_NUMBER, "no digits")
    return "".join(compact)


def _without_common_separators(text: str) -> str:
    return (
        text.replace(" ", "")
        .replace("-", "")
        .replace(".", "")
        .replace("/", "")
        .replace("(", "")
        .replace(")", "")
    )


def _is_compact(text: str) -> bool:
    """Whether the text is ASCII digits after at most one leading `+`."""
    digits = text[1:] if text[:1] == "+" else text
    return digits.isdigit() and digits.isascii()


def _is_separator(char: str) -> bool:
    return (
        char.isspace()
        or char in _PUNCTUATION_SEPARATORS
        or unicodedata.category(char) in _SEPARATOR_CATEGORIES
    )


def _unwrap_uri(text: str) -> str | InvalidNumber:
    """The dialled part of a `tel:`, `sip:` or `sips:` URI; other text unchanged."""
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    scheme, colon, rest = text.partition(":")
    if not colon:
        return text
    scheme = scheme.strip().lower()
    if scheme in {"sip", "sips"}:
        user, at, _host = rest.partition("@")
        if not at:
            return InvalidNumber(Refusal.NOT_A_NUMBER, "SIP URI without a user part")
        rest = unquote(user).partition(":")[0]
    elif scheme != "tel":
        return InvalidNumber(Refusal.NOT_A_NUMBER, f"unsupported URI scheme {scheme!r}")
    number, *parameters = rest.split(";")
    context = _phone_context(parameters)
    if context.startswith("+") and not number.strip().startswith("+"):
        return context + number
    return number


def _phone_context(parameters: Iterable[str]) -> str:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "phone-context":
            return value.strip()
    return ""


# --- Step 2: read the form -----------------------------------------------------------------------


def _read_form(compact: str, strip_prefix: str) -> str | ForeignNumber | InvalidNumber:
    """The Belgian NSN a compact string names, or its foreign or refused reading."""
    if compact[0] == "+":
        return _international(compact[1:])
    digits = compact
    if strip_prefix and digits.startswith(strip_prefix):
        digits = digits[len(strip_prefix) :]
        if not digits:
            return InvalidNumber(Refusal.TOO_SHORT, "nothing after the outside-line prefix")
    if digits[0] == "0":
        if digits[1:2] == "0":
            return _international(digits[2:])
        return digits[1:]
    if len(digits) >= _CC_FORM_MIN_DIGITS and digits.startswith(_COUNTRY_CODE_DIGITS):
        return _after_country_code(digits[2:])
    return digits


def _international(digits: str) -> str | ForeignNumber | InvalidNumber:
    if digits.startswith(_COUNTRY_CODE_DIGITS):
        return _after_country_code(digits[2:])
    return _foreign(digits)


def _after_country_code(digits: str) -> str:
    return digits[1:] if digits[:1] == "0" else digits


def _foreign(digits: str) -> ForeignNumber | InvalidNumber:
    if not digits:
        return InvalidNumber(Refusal.TOO_SHORT, "no digits after the international prefix")
    try:
        parsed = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException as err:
        return _refusal_of_parse_error(err, digits)
    country_code = parsed.country_code or 0
    possible = phonenumbers.is_possible_number_with_reason(parsed)
    if possible == phonenumbers.ValidationResult.IS_POSSIBLE:
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        return ForeignNumber(e164, country_code)
    if possible in {
        phonenumbers.ValidationResult.TOO_SHORT,
        phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    }:
        return InvalidNumber(Refusal.TOO_SHORT, f"too short for a +{country_code} number")
    if possible == phonenumbers.ValidationResult.TOO_LONG:
        return InvalidNumber(Refusal.TOO_LONG, f"too long for a +{country_code} number")
    return InvalidNumber(Refusal.UNALLOCATED, f"no +{country_code} number has this length")


def _refusal_of_parse_error(err: phonenumbers.NumberParseException, digits: str) -> InvalidNumber:
    if err.error_type == phonenumbers.NumberParseException.TOO_LONG:
        return InvalidNumber(Refusal.TOO_LONG, "longer than any international number")
    if err.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
        return InvalidNumber(Refusal.UNALLOCATED, f"no country calling code starts +{digits[:3]}")
    return InvalidNumber(Refusal.TOO_SHORT, "too short for an international number")


# --- Step 3: judge the Belgian NSN ---------------------------------------------------------------


def _refuse_belgian(nsn: str, is_valid: Callable[[str], bool]) -> InvalidNumber:
    """Why an NSN that is not a valid Belgian number is refused, as precisely as it can be said."""
    length = len(nsn)
    shown = f"0{nsn}"
    if length < _MIN_NSN:
        return InvalidNumber(Refusal.TOO_SHORT, f"{shown}: too short for a Belgian number")
    if length > _MAX_NSN:
        return InvalidNumber(Refusal.TOO_LONG, f"{shown}: too long for a Belgian number")
    if length + 1 in _NSN_LENGTHS and any(is_valid(nsn + digit) for digit in _DIGITS):
        return InvalidNumber(Refusal.TOO_SHORT, f"{shown}: a digit short of a Belgian number")
    if length - 1 in _NSN_LENGTHS and is_valid(nsn[:-1]):
        return InvalidNumber(Refusal.TOO_LONG, f"{shown}: a digit more than a Belgian number")
    return InvalidNumber(Refusal.UNALLOCATED, f"{shown}: not an allocated Belgian range")


def _phonenumber_of(nsn: str) -> PhoneNumber:
    national_number = int(nsn)
    leading_zeros = len(nsn) - len(str(national_number))
    return PhoneNumber(
        country_code=BELGIUM_COUNTRY_CODE,
        national_number=national_number,
        italian_leading_zero=leading_zeros > 0 or None,
        number_of_leading_zeros=leading_zeros or None,
    )


def _is_valid_by_phonenumbers(nsn: str) -> bool:
    return bool(nsn) and phonenumbers.is_valid_number(_phonenumber_of(nsn))


def _judge_by_phonenumbers(nsn: str) -> BelgianNumber | InvalidNumber:
    if not _is_valid_by_phonenumbers(nsn):
        return _refuse_belgian(nsn, _is_valid_by_phonenumbers)
    number = _phonenumber_of(nsn)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    number_class = _CLASS_OF_TYPE.get(phonenumbers.number_type(number), NumberClass.OTHER)
    return BelgianNumber(e164, number_class)


# --- The range tables (gatekeeper/rules/number_ranges.py) -----------------------------------------


def _classed_tables(
    metadata: PhoneMetadata,
) -> tuple[RangeTables, dict[int, dict[str, NumberClass]]] | None:
    tables = build_range_tables(metadata)
    if tables is None:
        return None
    classes = {
        length: {
            prefix: _CLASS_OF_TYPE.get(kind, NumberClass.OTHER) for prefix, kind in table.items()
        }
        for length, table in tables.by_length.items()
    }
    return tables, classes


_CLASSED = _classed_tables(_BE)
_TABLES = None if _CLASSED is None else _CLASSED[0]


def _judge_by_tables(nsn: str) -> BelgianNumber | InvalidNumber:
    table = _VALID_BY_LENGTH.get(len(nsn))
    if table is not None:
        number_class = table.get(nsn[:_KEY_DIGITS])
        if number_class is not None:
            return BelgianNumber("+32" + nsn, number_class)
    assert _TABLES is not None
    return _refuse_belgian(nsn, _TABLES.is_valid)


_KEY_DIGITS = 0 if _TABLES is None else _TABLES.key_digits
_VALID_BY_LENGTH: dict[int, dict[str, NumberClass]] = {} if _CLASSED is None else _CLASSED[1]
_JUDGE = _judge_by_phonenumbers if _TABLES is None else _judge_by_tables
_NO_RANGES: dict[str, NumberClass] = {}


# --- The public functions ------------------------------------------------------------------------


def _ascii_prefix(prefix: str) -> str:
    """The outside-line prefix in ASCII digits; a prefix that is not digits is a caller's bug."""
    if prefix.isascii() and prefix.isdigit():
        return prefix
    try:
        return "".join(_DIGITS[unicodedata.digit(char)] for char in prefix)
    except (ValueError, TypeError) as err:
        raise ValueError(f"outside-line prefix must be digits, not {prefix!r}") from err


def _plain_nsn(raw: str) -> str:
    """The NSN a plain string of ASCII digits names, as `_read_form` reads it; or no Belgian NSN.

    Plain: `0…`, `0032…`, `32…` (10 digits or more), a bare NSN, or `+32…`. The form is told by
    its literal first characters, so one guard, that the rest is ASCII digits, suffices. A trunk
    `0` after 32, or `00` before another country code, leaves a string starting with `0`, which
    no Belgian range does: the table look-up declines it, as it declines "", and the caller takes
    the general path.
    """
    if raw[:1] == "0":
        nsn = raw[4:] if raw[:4] == "0032" else raw[1:]
    elif raw[:3] == "+32":
        nsn = raw[3:]
    else:
        nsn = raw[2:] if len(raw) >= _CC_FORM_MIN_DIGITS and raw[:2] == "32" else raw
    return nsn if nsn.isdigit() and nsn.isascii() else ""


def plain_key(raw: str) -> int | None:
    """The index key of a valid Belgian number written plainly (see `_plain_nsn`), or None.

    The list import's shortcut: a key is always `normalise(raw).key`; None says nothing, and the
    caller asks `normalise`, which also says why a number is refused.
    """
    nsn = _plain_nsn(raw)
    if _VALID_BY_LENGTH.get(len(nsn), _NO_RANGES).get(nsn[:_KEY_DIGITS]) is None:
        return None
    return int(_COUNTRY_CODE_DIGITS + nsn)


def normalise(raw: str, *, strip_prefix: str = "") -> Normalised:
    """Return the canonical form of a dialled string, or why it has none.

    `strip_prefix` is the route's outside-line prefix (e.g. "9"); it is removed only when present.
    Raises ValueError when `strip_prefix` is not digits.
    """
    if strip_prefix:
        strip_prefix = _ascii_prefix(strip_prefix)
    else:
        plain = _plain_nsn(raw)
        number_class = _VALID_BY_LENGTH.get(len(plain), _NO_RANGES).get(plain[:_KEY_DIGITS])
        if number_class is not None:
            return BelgianNumber("+32" + plain, number_class)
    compact = _without_common_separators(raw)
    digits = compact[1:] if compact[:1] == "+" else compact
    if not (digits.isdigit() and digits.isascii()) or len(raw) > _MAX_INPUT:
        scanned = _scan(raw)
        if isinstance(scanned, InvalidNumber):
            return scanned
        compact = scanned
    nsn = _read_form(compact, strip_prefix)
    if not isinstance(nsn, str):
        return nsn
    number_class = _VALID_BY_LENGTH.get(len(nsn), _NO_RANGES).get(nsn[:_KEY_DIGITS])
    if number_class is not None:
        return BelgianNumber("+32" + nsn, number_class)
    return _JUDGE(nsn)


def normalise_reference(raw: str, *, strip_prefix: str = "") -> Normalised:
    """`normalise` without its shortcuts: full scan, and `phonenumbers` judges every number.

    Slow; it exists so that tests and benchmarks can hold the fast path to the same answers.
    """
    if strip_prefix:
        strip_prefix = _ascii_prefix(strip_prefix)
    scanned = _scan(raw)
    if isinstance(scanned, InvalidNumber):
        return scanned
    nsn = _read_form(scanned, strip_prefix)
    if not isinstance(nsn, str):
        return nsn
    return _judge_by_phonenumbers(nsn)


MAX_RECORDED_DIALLED = 256
"""The longest dialled string a record keeps whole; a number is always shorter."""


def recorded_dialled(dialled: str) -> str:
    """The dialled string as records keep it: a pasted essay is cut, a number never is."""
    if len(dialled) <= MAX_RECORDED_DIALLED:
        return dialled
    return dialled[:MAX_RECORDED_DIALLED] + f"… ({len(dialled)} characters)"
