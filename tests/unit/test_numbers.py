"""Table-driven tests of `gatekeeper.rules.numbers`: every dialled form, class and refusal."""

from __future__ import annotations

import random
import re

import phonenumbers
import pytest
from gatekeeper.rules import number_ranges, numbers
from gatekeeper.rules.numbers import (
    BelgianNumber,
    ForeignNumber,
    InvalidNumber,
    NumberClass,
    Refusal,
    normalise,
    normalise_reference,
    plain_key,
    recorded_dialled,
)
from phonenumbers import PhoneMetadata, PhoneNumberDesc

MOBILE = "+32470123456"

MOBILE_FORMS = [
    "+32 470 12 34 56",
    "+32470123456",
    "0032470123456",
    "00 32 470 12 34 56",
    "32470123456",
    "32 470 12 34 56",
    "0470123456",
    "0470 12 34 56",
    "0470/12.34.56",
    "0470.12.34.56",
    "0470-12-34-56",
    "(0470) 12 34 56",
    "+32 (0)470 123456",
    "+320470123456",
    "0032 (0)470 12 34 56",
    "320470123456",
    "470123456",
    "tel:+32470123456",
    "tel:+32-470-12-34-56",
    "tel:+32-470-12-34-56;phone-context=example.com",
    "TEL:+32.470.12.34.56",
    "tel:0470123456;phone-context=+32",
    "tel:470123456;phone-context=+32",
    "tel:+32470123456;phone-context=+33",
    "tel:0470123456;phone-context=pbx.example.com",
    "sip:+32470123456@host;user=phone",
    "sip:+32470123456@198.51.100.7:5060;user=phone",
    "sip:+32470123456:secret@host",
    "sips:0470123456@pbx.example.com",
    "sip:%2B32470123456@host",
    "sip:0470123456;phone-context=+32@gateway;user=phone",
    "<sip:+32470123456@host>",
    "<tel:+32470123456>",
    " <0470123456> ",
    "\u0660\u0664\u0667\u0660\u0661\u0662\u0663\u0664\u0665\u0666",
    "\u06f0\u06f4\u06f7\u06f0\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6",
    "\uff0b\uff13\uff12 \uff14\uff17\uff10 \uff11\uff12 \uff13\uff14 \uff15\uff16",
    "0470\u00a012\u00a034\u00a056",
    "+32\u2009470\u200912\u200934\u200956",
    "0470\u201312\u201334\u201356",
    "\t0470123456\n",
    "\u200e+32 470 12 34 56\u200f",
]


@pytest.mark.parametrize("raw", MOBILE_FORMS)
def test_every_form_of_a_mobile_gives_one_number(raw: str) -> None:
    """Each supported way of writing 0470 12 34 56 gives +32470123456, a mobile."""
    assert normalise(raw) == BelgianNumber(MOBILE, NumberClass.MOBILE)


@pytest.mark.parametrize("raw", MOBILE_FORMS)
def test_the_reference_path_reads_every_form_alike(raw: str) -> None:
    """The all-phonenumbers reference path reads each form like the fast path."""
    assert normalise_reference(raw) == normalise(raw)


@pytest.mark.parametrize(
    ("raw", "e164", "number_class"),
    [
        ("02 512 34 56", "+3225123456", NumberClass.GEOGRAPHIC),
        ("03 234 56 78", "+3232345678", NumberClass.GEOGRAPHIC),
        ("+32 3 234 56 78", "+3232345678", NumberClass.GEOGRAPHIC),
        ("3232345678", "+3232345678", NumberClass.GEOGRAPHIC),
        ("32345678", "+3232345678", NumberClass.GEOGRAPHIC),
        ("32 03 234 56 78", "+3232345678", NumberClass.GEOGRAPHIC),
        ("04 223 45 67", "+3242234567", NumberClass.GEOGRAPHIC),
        ("09 234 56 78", "+3292345678", NumberClass.GEOGRAPHIC),
        ("050 12 34 56", "+3250123456", NumberClass.GEOGRAPHIC),
        ("080 23 45 67", "+3280234567", NumberClass.GEOGRAPHIC),
        ("0800 12 345", "+3280012345", NumberClass.FREEPHONE),
        ("070 24 12 34", "+3270241234", NumberClass.PREMIUM),
        ("0900 12 345", "+3290012345", NumberClass.PREMIUM),
        ("0903 12 345", "+3290312345", NumberClass.PREMIUM),
        ("078 15 12 34", "+3278151234", NumberClass.SHARED_COST),
        ("078 79 12 34", "+3278791234", NumberClass.SHARED_COST),
        ("0499 99 99 99", "+32499999999", NumberClass.MOBILE),
    ],
)
def test_each_belgian_range_gets_its_class(raw: str, e164: str, number_class: NumberClass) -> None:
    """Geographic zones, mobiles and non-geographic ranges get their E.164 and class."""
    assert normalise(raw) == BelgianNumber(e164, number_class)


def test_an_antwerp_number_without_trunk_zero_is_not_read_as_country_code() -> None:
    """`32345678` (8 digits) is Antwerp 03 234 56 78, not +32 followed by 345678."""
    assert normalise("32345678") == normalise("03 234 56 78")


def test_ten_digits_starting_32_are_the_country_code_however_written() -> None:
    """`32` and 8 more digits is +32 and an 8-digit number (Brussels), with or without spaces."""
    for raw in ("3225551234", "32 2 555 12 34"):
        assert normalise(raw) == BelgianNumber("+3225551234", NumberClass.GEOGRAPHIC)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("0470123456", 32470123456),
        ("+32470123456", 32470123456),
        ("0032470123456", 32470123456),
        ("32470123456", 32470123456),
        ("470123456", 32470123456),
        ("3225551234", 3225551234),
        ("025551234", 3225551234),
        ("25551234", 3225551234),
    ],
)
def test_plain_key_takes_every_plain_form_of_a_valid_number(raw: str, key: int) -> None:
    """Each plain form of a valid number (`32…` from 10 digits on) gets `normalise`'s key."""
    number = normalise(raw)
    assert isinstance(number, BelgianNumber)
    assert plain_key(raw) == number.key == key


@pytest.mark.parametrize(
    "raw",
    [
        "+320470123456",
        "00320470123456",
        "320470123456",
        "00470123456",
        "0031612345678",
        "047012345x",
        "+3247012345x",
        "047012345\u0666",
        "0470 123456",
        "+33470123456",
        "0470",
        "",
        "+",
    ],
)
def test_plain_key_declines_what_is_not_a_plain_valid_number(raw: str) -> None:
    """A trunk `0` after 32, another country, a non-digit or a refusal: `plain_key` says nothing."""
    assert plain_key(raw) is None


def test_a_digit_of_another_script_in_a_plain_number_is_read_as_ascii() -> None:
    """`047012345` and an Arabic-Indic six give the E.164 number in ASCII digits."""
    assert normalise("047012345\u0666") == normalise("0470123456")


def test_no_belgian_range_starts_with_the_trunk_zero() -> None:
    """No table key starts with `0`: the shortcut leaves a trunk `0` for the tables to decline."""
    keys = [key for table in numbers._VALID_BY_LENGTH.values() for key in table]
    assert keys
    assert not [key for key in keys if key.startswith("0")]


def test_the_key_is_the_e164_digits_as_an_integer() -> None:
    """`key` is the index key: the E.164 digits without `+`."""
    number = normalise("0470 12 34 56")
    assert isinstance(number, BelgianNumber)
    assert (number.key, number.nsn) == (32470123456, "470123456")


@pytest.mark.parametrize(
    ("raw", "strip_prefix", "e164"),
    [
        ("90470123456", "9", MOBILE),
        ("9 0470 12 34 56", "9", MOBILE),
        ("900 32 470 12 34 56", "9", MOBILE),
        ("sip:90470123456@pbx", "9", MOBILE),
        ("\u0669\u0660\u0664\u0667\u0660\u0661\u0662\u0663\u0664\u0665\u0666", "9", MOBILE),
        ("90470123456", "\u0669", MOBILE),
        ("990470123456", "\u0669\u0669", MOBILE),
        ("0470123456", "9", MOBILE),
        ("+32470123456", "0", MOBILE),
        ("00470123456", "0", MOBILE),
        ("0025123456", "0", "+3225123456"),
        ("0470123456", "0", MOBILE),
        ("025123456", "0", "+3225123456"),
        ("0032470123456", "9", MOBILE),
        ("32470123456", "9", MOBILE),
        ("+32470123456", "9", MOBILE),
        ("470123456", "9", MOBILE),
    ],
)
def test_the_routes_outside_line_prefix_is_stripped_when_present(
    raw: str, strip_prefix: str, e164: str
) -> None:
    """The caller's outside-line prefix is removed when present; the number is unchanged."""
    number = normalise(raw, strip_prefix=strip_prefix)
    assert isinstance(number, BelgianNumber)
    assert number.e164 == e164


def test_a_stray_zero_is_not_guessed_away() -> None:
    """Without the route's prefix, `0025123456` is international (+251), never Brussels."""
    assert not isinstance(normalise("0025123456"), BelgianNumber)


def test_the_prefix_alone_is_too_short() -> None:
    """Only the outside-line prefix, nothing after it: too short."""
    number = normalise("9", strip_prefix="9")
    assert isinstance(number, InvalidNumber)
    assert number.refusal is Refusal.TOO_SHORT


@pytest.mark.parametrize("strip_prefix", ["x", "+", "9a", "\u00b2x"])
def test_a_prefix_that_is_not_digits_is_a_callers_bug(strip_prefix: str) -> None:
    """A non-digit outside-line prefix raises ValueError instead of being silently ignored."""
    with pytest.raises(ValueError, match="outside-line prefix"):
        normalise("0470123456", strip_prefix=strip_prefix)


@pytest.mark.parametrize(
    ("raw", "e164", "country_code"),
    [
        ("+33 6 12 34 56 78", "+33612345678", 33),
        ("0031 6 12345678", "+31612345678", 31),
        ("+44 (0)20 7946 0018", "+442079460018", 44),
        ("+1 202 555 0143", "+12025550143", 1),
        ("tel:+49-30-1234567", "+49301234567", 49),
        ("tel:612345678;phone-context=+33", "+33612345678", 33),
        ("tel:470123456;phone-context=+33", "+33470123456", 33),
        ("sip:470123456;phone-context=+33@gateway", "+33470123456", 33),
    ],
)
def test_a_foreign_number_keeps_its_country_code(raw: str, e164: str, country_code: int) -> None:
    """International numbers outside +32 come back foreign, with their E.164 and country code."""
    assert normalise(raw) == ForeignNumber(e164, country_code)


REFUSALS = [
    ("", Refusal.NOT_A_NUMBER),
    ("   ", Refusal.NOT_A_NUMBER),
    ("hello", Refusal.NOT_A_NUMBER),
    ("0800-FLOWERS", Refusal.NOT_A_NUMBER),
    ("0470 12 34 56 ext 7", Refusal.NOT_A_NUMBER),
    ("++32470123456", Refusal.NOT_A_NUMBER),
    ("0470+123456", Refusal.NOT_A_NUMBER),
    ("0470\u00b2123456", Refusal.NOT_A_NUMBER),
    ("sip:pbx.example.com", Refusal.NOT_A_NUMBER),
    ("mailto:someone@example.com", Refusal.NOT_A_NUMBER),
    ("0470:123456", Refusal.NOT_A_NUMBER),
    ("0470123456>", Refusal.NOT_A_NUMBER),
    ("<0470123456", Refusal.NOT_A_NUMBER),
    ("tel:+32470123456>", Refusal.NOT_A_NUMBER),
    ("<tel:+32470123456", Refusal.NOT_A_NUMBER),
    ("tel:470123456;phone-context=+33=1", Refusal.NOT_A_NUMBER),
    ("+", Refusal.TOO_SHORT),
    ("0", Refusal.TOO_SHORT),
    ("00", Refusal.TOO_SHORT),
    ("+32", Refusal.TOO_SHORT),
    ("+32 4", Refusal.TOO_SHORT),
    ("02 512 34", Refusal.TOO_SHORT),
    ("0470 12 34 5", Refusal.TOO_SHORT),
    ("+33 6", Refusal.TOO_SHORT),
    ("0470 12 34 567", Refusal.TOO_LONG),
    ("02 512 34 567", Refusal.TOO_LONG),
    ("321234567", Refusal.TOO_LONG),
    ("3200470123456", Refusal.TOO_LONG),
    ("+32 470 12 34 56 78 90 12", Refusal.TOO_LONG),
    ("0" * 300, Refusal.TOO_LONG),
    ("+33 6 12 34 56 78 90 12 34 56", Refusal.TOO_LONG),
    ("041 01 23 45", Refusal.UNALLOCATED),
    ("0412 34 56 78", Refusal.UNALLOCATED),
    ("070 11 11 11", Refusal.UNALLOCATED),
    ("0780 01 234", Refusal.UNALLOCATED),
    ("+0470123456", Refusal.UNALLOCATED),
    ("+999 1234 5678", Refusal.UNALLOCATED),
]


@pytest.mark.parametrize(("raw", "refusal"), REFUSALS)
def test_each_refusal_is_precise(raw: str, refusal: Refusal) -> None:
    """Strings that are not callable numbers are refused with the reason that fits."""
    number = normalise(raw)
    assert isinstance(number, InvalidNumber)
    assert number.refusal is refusal
    assert number.detail


@pytest.mark.parametrize(("raw", "refusal"), REFUSALS)
def test_the_reference_path_refuses_alike(raw: str, refusal: Refusal) -> None:
    """The reference path gives the same refusal and detail as the fast path."""
    assert normalise_reference(raw) == normalise(raw)


@pytest.mark.parametrize(
    ("raw", "refusal", "detail"),
    [
        ("+33 6 12 34", Refusal.TOO_SHORT, "too short for a +33 number"),
        ("+44 22 22", Refusal.TOO_SHORT, "too short for a +44 number"),
        ("+49 301", Refusal.TOO_SHORT, "too short for a +49 number"),
        ("+33 6 12 34 56 78 90", Refusal.TOO_LONG, "too long for a +33 number"),
        ("+41 22 222 22 222", Refusal.UNALLOCATED, "no +41 number has this length"),
        ("+33 6", Refusal.TOO_SHORT, "too short for an international number"),
        (
            "+33 6 12 34 56 78 90 12 34 56 78 90",
            Refusal.TOO_LONG,
            "longer than any international number",
        ),
        ("+999 1234 5678", Refusal.UNALLOCATED, "no country calling code starts +999"),
        ("00", Refusal.TOO_SHORT, "no digits after the international prefix"),
    ],
)
def test_a_foreign_number_is_refused_by_its_own_countrys_lengths(
    raw: str, refusal: Refusal, detail: str
) -> None:
    """A number outside +32 is refused for its own country's lengths, the detail naming why."""
    assert normalise(raw) == InvalidNumber(refusal, detail)


@pytest.mark.parametrize(
    ("raw", "strip_prefix", "refusal", "detail"),
    [
        ("", "", Refusal.NOT_A_NUMBER, "no digits"),
        ("sip:pbx.example.com", "", Refusal.NOT_A_NUMBER, "SIP URI without a user part"),
        ("9", "9", Refusal.TOO_SHORT, "nothing after the outside-line prefix"),
        ("02 512 34", "", Refusal.TOO_SHORT, "0251234: too short for a Belgian number"),
        ("0470 12 34 5", "", Refusal.TOO_SHORT, "047012345: a digit short of a Belgian number"),
        ("02 512 34 567", "", Refusal.TOO_LONG, "0251234567: a digit more than a Belgian number"),
        ("0470 12 34 56 78", "", Refusal.TOO_LONG, "047012345678: too long for a Belgian number"),
        ("041 01 23 45", "", Refusal.UNALLOCATED, "041012345: not an allocated Belgian range"),
    ],
)
def test_each_refusal_detail_names_what_was_read(
    raw: str, strip_prefix: str, refusal: Refusal, detail: str
) -> None:
    """A refusal's detail says why, naming the digits read as a national number."""
    assert normalise(raw, strip_prefix=strip_prefix) == InvalidNumber(refusal, detail)


@pytest.mark.parametrize(("extra", "readable"), [(0, True), (1, False)], ids=["at-cap", "over"])
def test_input_length_is_capped_on_the_slow_scan_too(extra: int, readable: bool) -> None:
    """Text of exactly 256 characters is read, even through the full scan; one more is refused."""
    raw = "0470123456".ljust(256 + extra, "\u00a0")
    assert isinstance(normalise(raw), BelgianNumber) is readable


def test_the_range_tables_are_built_from_the_current_metadata() -> None:
    """The shipped metadata expands into tables, so the fast path is in use."""
    assert numbers._TABLES is not None
    assert numbers._JUDGE is numbers._judge_by_tables


def test_tables_rebuilt_from_the_metadata_carry_phonenumbers_classes() -> None:
    """Built again from the Belgian metadata, 8- and 9-digit keys carry phonenumbers' classes."""
    metadata = numbers._belgian_metadata()
    assert numbers._possible_lengths(metadata) == {8, 9}
    classed = numbers._classed_tables(metadata)
    assert classed is not None
    tables, classes = classed
    assert set(classes) == {8, 9}
    for length, table in classes.items():
        for key, number_class in table.items():
            nsn = key.ljust(length, "0")
            assert tables.is_valid(nsn), nsn
            assert numbers._judge_by_phonenumbers(nsn) == BelgianNumber("+32" + nsn, number_class)


def test_every_table_key_agrees_with_phonenumbers() -> None:
    """For every leading-digits key and length, the tables judge as phonenumbers does."""
    tables = numbers._TABLES
    assert tables is not None
    rng = random.Random(32)
    width = tables.key_digits
    for length in tables.by_length:
        for key in range(10**width):
            nsn = f"{key:0{width}d}" + "".join(rng.choices("0123456789", k=length - width))
            assert numbers._judge_by_tables(nsn) == numbers._judge_by_phonenumbers(nsn), nsn


@pytest.mark.parametrize(
    "pattern",
    [
        r"4[5-9]\d{7}",
        r"(?:1[0-69]|[23][2-8]|4[23])\d{6}",
        r"(?:70(?:2[0-57]|3[04-7]|44)|90\d\d)\d{4}",
        r"8\d{2,3}(?:1|2)?",
        r"[13-5]0?\d",
    ],
)
def test_the_pattern_expansion_matches_exactly_what_the_regex_matches(pattern: str) -> None:
    """Expanded cubes hold exactly the digit strings the regular expression fully matches."""
    cubes = number_ranges._PatternExpander(pattern).expand()
    rng = random.Random(pattern)
    compiled = re.compile(pattern)
    for _ in range(3000):
        text = "".join(rng.choices("0123456789", k=rng.randint(1, 10)))
        in_cubes = any(
            len(cube) == len(text) and all(d in s for d, s in zip(text, cube, strict=True))
            for cube in cubes
        )
        assert in_cubes == bool(compiled.fullmatch(text)), text


@pytest.mark.parametrize("pattern", [r"4\d+", r"[^0]\d{7}", r"4\d*", r"(4)\d{8}", r"\s\d{7}"])
def test_metadata_the_expansion_does_not_know_disables_the_tables(pattern: str) -> None:
    """An unknown regex construct leaves no tables, so phonenumbers judges every number."""
    desc = PhoneNumberDesc(national_number_pattern=pattern, possible_length=(8, 9))
    metadata = PhoneMetadata(
        id="ZZ", country_code=999, general_desc=desc, mobile=desc, register=False
    )
    assert number_ranges.build_range_tables(metadata) is None


def test_the_reference_path_formats_through_phonenumbers() -> None:
    """The reference path's E.164 is what phonenumbers itself formats for the number."""
    parsed = phonenumbers.parse("0470 12 34 56", "BE")
    expected = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    assert normalise_reference("0470 12 34 56") == BelgianNumber(expected, NumberClass.MOBILE)


def test_a_dialled_string_of_the_cap_is_recorded_whole() -> None:
    """A dialled string of exactly 256 characters is recorded as it came."""
    assert recorded_dialled("0" * 256) == "0" * 256


def test_a_dialled_string_past_the_cap_is_cut_and_says_its_length() -> None:
    """Past 256 characters the record keeps the first 256 and says how long the string was."""
    assert recorded_dialled("0" * 300) == "0" * 256 + "… (300 characters)"
