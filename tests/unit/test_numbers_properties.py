"""Property tests of `gatekeeper.rules.numbers`: forms agree, results are fixed, nothing raises.

Valid Belgian numbers are drawn independently of the range tables: random digits in the shapes
of Belgian numbers, kept when `phonenumbers` itself calls them valid.
"""

from __future__ import annotations

import phonenumbers
from gatekeeper.rules.numbers import (
    BelgianNumber,
    ForeignNumber,
    InvalidNumber,
    normalise,
    normalise_reference,
    plain_key,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st

DIGITS = "0123456789"
SEPARATORS = [" ", "-", ".", "/", "(", ")", "\u00a0", "\u2009", "\u202f", "\u2013", "\u200b"]
ZERO_OF_SCRIPT = [0x30, 0x660, 0x6F0, 0x966, 0xFF10]
PLUS_SIGNS = ["+", "\uff0b"]
OUTSIDE_LINE_PREFIXES = ["", "0", "9", "00"]
EIGHT_DIGIT_LEADS = [*"123456789", "32", "33", "42", "80", "800", "78", "70", "90"]
PLAIN_LEADS = ["", "+", "+3", "+32", "+320", "0", "00", "003", "0032", "00320", "3", "32", "320"]
HOSTILE_DIGITS = DIGITS * 4 + "+ \t\n\r\x00.-/()\u00a0\u200b\u0660\u06f4\uff10\u00b2\u2460\u0967_ab"
"""Mostly ASCII digits, with what must keep a string off the plain shortcut: Unicode digits
(decimal and not), separators, control characters, `_` (which `int` would accept), letters."""
INTERESTING = (
    "+0123456789 -./()tel:sip@;=<>%#*abcxyz\u00a0\u2009\u2013\u200e\uff0b"
    "\u0660\u0664\u0667\u06f0\uff10\uff14\u0966\u00b2\u2460"
)


@st.composite
def valid_nsns(draw: st.DrawFn) -> str:
    """A national significant number that phonenumbers calls a valid Belgian number."""
    if draw(st.booleans()):
        nsn = "4" + draw(st.sampled_from("56789")) + draw(st.text(DIGITS, min_size=7, max_size=7))
    else:
        lead = draw(st.sampled_from(EIGHT_DIGIT_LEADS))
        nsn = lead + draw(st.text(DIGITS, min_size=8 - len(lead), max_size=8 - len(lead)))
    parsed = phonenumbers.parse("+32" + nsn)
    assume(phonenumbers.is_valid_number(parsed))
    return nsn


def national_forms(nsn: str) -> list[str]:
    """Ways to write an NSN without `+`: national, 0-less, 32…, 0032…, with a stray trunk 0."""
    return [
        "0" + nsn,
        nsn,
        "32" + nsn,
        "320" + nsn,
        "0032" + nsn,
        "00320" + nsn,
    ]


@st.composite
def written(draw: st.DrawFn, body: str, *, plus: bool) -> str:
    """`body` (digits, after an optional `+`) in a random script with random separators."""
    zero = draw(st.sampled_from(ZERO_OF_SCRIPT))
    chars = [chr(zero + int(digit)) for digit in body]
    out = [draw(st.sampled_from(PLUS_SIGNS))] if plus else []
    for char in chars:
        out.append(char)
        if draw(st.integers(0, 3)) == 0:
            out.append(draw(st.sampled_from(SEPARATORS)))
    return "".join(out)


@st.composite
def dialled(draw: st.DrawFn, nsn_strategy: st.SearchStrategy[str]) -> tuple[str, str, str]:
    """(raw, strip_prefix, nsn): an NSN written in any supported form, maybe inside a URI."""
    nsn = draw(nsn_strategy)
    prefix = draw(st.sampled_from(OUTSIDE_LINE_PREFIXES))
    kind = draw(st.sampled_from(["plus", "plus-trunk", "national", "tel-context"]))
    if kind == "plus":
        number = draw(written("32" + nsn, plus=True))
    elif kind == "plus-trunk":
        number = draw(written("320" + nsn, plus=True))
    elif kind == "national":
        number = draw(written(prefix + draw(st.sampled_from(national_forms(nsn))), plus=False))
    else:
        local = draw(written(draw(st.sampled_from(["0" + nsn, nsn])), plus=False))
        number = f"tel:{local};phone-context=+32"
    wrapper = draw(st.sampled_from(["{}", "tel:{}", "sip:{}@pbx.example;user=phone", "<{}>"]))
    if not number.startswith("tel:"):
        number = wrapper.format(number)
    return number, prefix, nsn


@st.composite
def digit_strings(draw: st.DrawFn) -> tuple[str, str]:
    """(raw, strip_prefix): arbitrary digits after a form's lead, valid or not, common chars."""
    lead = draw(st.sampled_from(["", "+", "+32", "+320", "0", "00", "0032", "32", "9", "+1"]))
    body = draw(st.text(DIGITS, max_size=16))
    separator = draw(st.sampled_from(["", " ", "-", ".", "/"]))
    raw = lead + separator.join([body[i : i + 2] for i in range(0, len(body), 2)])
    return raw, draw(st.sampled_from(OUTSIDE_LINE_PREFIXES))


@settings(deadline=None)
@given(dialled(valid_nsns()))
def test_any_form_of_a_valid_number_gives_the_same_e164(case: tuple[str, str, str]) -> None:
    """A valid Belgian NSN, written in any supported form, gives +32 and that NSN."""
    raw, prefix, nsn = case
    number = normalise(raw, strip_prefix=prefix)
    assert isinstance(number, BelgianNumber), (raw, number)
    assert number.e164 == "+32" + nsn
    assert number == normalise("0" + nsn)


@settings(deadline=None)
@given(valid_nsns(), st.data())
def test_every_national_form_reads_alike(nsn: str, data: st.DataObject) -> None:
    """National, 0-less, 32… and 0032… forms of one NSN (Antwerp `32…` too) are one number."""
    raw = data.draw(st.sampled_from(national_forms(nsn)))
    number = normalise(raw)
    assert isinstance(number, BelgianNumber), (raw, number)
    assert number.e164 == "+32" + nsn


@settings(deadline=None)
@given(valid_nsns(), st.sampled_from(["0", "9", "00", "8"]))
def test_a_stray_prefix_never_turns_a_belgian_number_foreign(nsn: str, prefix: str) -> None:
    """With the route's prefix given, prefix + national number is that Belgian number."""
    number = normalise(prefix + "0" + nsn, strip_prefix=prefix)
    assert isinstance(number, BelgianNumber)
    assert number.e164 == "+32" + nsn


@settings(deadline=None)
@given(valid_nsns(), st.sampled_from(["+32{}", "0032{}", "0{}", "32{}", "+32 (0){}"]))
def test_phonenumbers_reads_the_common_forms_alike(nsn: str, form: str) -> None:
    """Phonenumbers' own parser, an independent reader, finds the same E.164 for common forms."""
    raw = form.format(nsn)
    parsed = phonenumbers.parse(raw, "BE")
    expected = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    number = normalise(raw)
    assert isinstance(number, BelgianNumber)
    assert number.e164 == expected


@settings(deadline=None, max_examples=300)
@given(
    st.sampled_from(["+32", "+320", "0032", "0", "32", "320", ""]),
    st.sampled_from(["", *"1234789"]),
    st.text(DIGITS, min_size=5, max_size=10),
)
def test_phonenumbers_agrees_on_which_digit_strings_are_belgian(
    lead: str, head: str, body: str
) -> None:
    """Valid or not, common digit forms are Belgian exactly when phonenumbers' parser says so.

    The one reading left out on purpose: after `32` without `+`, phonenumbers drops two zeros
    (`3200…`); a single trunk zero is all the gatekeeper drops.
    """
    raw = lead + head + body
    assume(not raw.startswith("3200"))
    number = normalise(raw)
    try:
        parsed = phonenumbers.parse(raw, "BE")
    except phonenumbers.NumberParseException:
        expected = None
    else:
        belgian = parsed.country_code == 32 and phonenumbers.is_valid_number(parsed)
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        expected = e164 if belgian else None
    assert (number.e164 if isinstance(number, BelgianNumber) else None) == expected


@settings(deadline=None)
@given(st.one_of(digit_strings(), dialled(valid_nsns()).map(lambda case: case[:2])))
def test_normalisation_is_idempotent(case: tuple[str, str]) -> None:
    """A canonical result normalises to itself: normalise(e164) is the same number."""
    raw, prefix = case
    number = normalise(raw, strip_prefix=prefix)
    if isinstance(number, BelgianNumber | ForeignNumber):
        assert normalise(number.e164) == number
        assert normalise(number.e164, strip_prefix=prefix) == number


@given(st.text(max_size=80), st.sampled_from(OUTSIDE_LINE_PREFIXES))
def test_arbitrary_text_never_raises(raw: str, prefix: str) -> None:
    """Any text gives a result, never an exception."""
    number = normalise(raw, strip_prefix=prefix)
    assert isinstance(number, BelgianNumber | ForeignNumber | InvalidNumber)


@settings(deadline=None)
@given(st.text(INTERESTING, max_size=40), st.sampled_from(OUTSIDE_LINE_PREFIXES))
def test_the_fast_path_agrees_with_the_reference_on_number_like_text(raw: str, prefix: str) -> None:
    """On text made of number-like characters, fast and reference paths give the same result."""
    assert normalise(raw, strip_prefix=prefix) == normalise_reference(raw, strip_prefix=prefix)


@settings(deadline=None, max_examples=300)
@given(digit_strings())
def test_the_fast_path_agrees_with_the_reference_on_digit_forms(case: tuple[str, str]) -> None:
    """On common digit forms, valid or not, fast and reference paths give the same result."""
    raw, prefix = case
    assert normalise(raw, strip_prefix=prefix) == normalise_reference(raw, strip_prefix=prefix)


@settings(deadline=None)
@given(dialled(st.text(DIGITS, min_size=6, max_size=11)))
def test_the_fast_path_agrees_with_the_reference_on_every_form(case: tuple[str, str, str]) -> None:
    """Arbitrary digits in every supported form give the same result on both paths."""
    raw, prefix, _ = case
    assert normalise(raw, strip_prefix=prefix) == normalise_reference(raw, strip_prefix=prefix)


@st.composite
def plain_looking(draw: st.DrawFn) -> str:
    """Text that starts like a plain number and may hide one character that makes it not plain."""
    lead = draw(st.sampled_from(PLAIN_LEADS))
    body = draw(st.text(DIGITS, min_size=0, max_size=12))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(st.text(HOSTILE_DIGITS, min_size=1, max_size=2)) + body[at:]
    return lead + body


@st.composite
def valid_with_one_odd_char(draw: st.DrawFn) -> str:
    """A valid number written plainly, one digit in another script or one odd character added."""
    nsn = draw(valid_nsns())
    raw = draw(st.sampled_from(["0{}", "+32{}", "0032{}", "32{}", "{}"])).format(nsn)
    at = draw(st.integers(0, len(raw) - 1))
    if raw[at].isdigit() and draw(st.booleans()):
        zero = draw(st.sampled_from([*ZERO_OF_SCRIPT[1:], 0x2070]))
        odd = chr(zero + int(raw[at])) if zero != 0x2070 else "\u00b2\u00b3\u00b9"[int(raw[at]) % 3]
        return raw[:at] + odd + raw[at + 1 :]
    return raw[:at] + draw(st.sampled_from(HOSTILE_DIGITS[40:])) + raw[at:]


@settings(deadline=None, max_examples=1000)
@given(st.one_of(plain_looking(), valid_with_one_odd_char(), st.text(HOSTILE_DIGITS, max_size=16)))
def test_the_plain_shortcut_agrees_with_the_reference(raw: str) -> None:
    """The plain shortcut's key, when it gives one, is the reference's key; normalise agrees."""
    key = plain_key(raw)
    reference = normalise_reference(raw)
    if key is not None:
        assert isinstance(reference, BelgianNumber), (raw, reference)
        assert key == reference.key
    assert normalise(raw) == reference


@settings(deadline=None)
@given(valid_nsns(), st.sampled_from(["0{}", "+32{}", "0032{}", "32{}", "{}"]))
def test_the_plain_shortcut_takes_the_plain_forms(nsn: str, form: str) -> None:
    """A valid number written plainly gets its key from the shortcut, the key normalise gives."""
    raw = form.format(nsn)
    number = normalise(raw)
    assert isinstance(number, BelgianNumber)
    assert plain_key(raw) == number.key == int("32" + nsn)


@settings(deadline=None)
@given(
    valid_nsns(),
    st.sampled_from(["0{}", "+32{}", "0032{}", "32{}", "{}"]),
    st.sampled_from(["0", "9", "00", "3", "32"]),
)
def test_the_plain_shortcut_leaves_a_prefixed_route_to_the_general_path(
    nsn: str, form: str, prefix: str
) -> None:
    """With an outside-line prefix, plain digits are read as the general path reads them."""
    for raw in (form.format(nsn), prefix + form.format(nsn)):
        assert normalise(raw, strip_prefix=prefix) == normalise_reference(raw, strip_prefix=prefix)
