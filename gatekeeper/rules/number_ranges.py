"""Exact tables of the valid ranges in libphonenumber's metadata for one region.

Theory of operation: the metadata describes valid national numbers with regular expressions.
The subset they use (digits, classes, groups, alternation, bounded repetition) denotes finite
sets, so each pattern is expanded into "cubes": fixed-length sets of digit strings with one set
of allowed digits per position. From the cubes of the general description and of each number
type, a table per national-number length maps every valid leading-digits key to the number
type that libphonenumber's `number_type` would give, so a number is judged by two dictionary
look-ups. When the metadata uses a construct the expansion does not know, no table is built and
the caller falls back to `phonenumbers` itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from phonenumbers import PhoneMetadata, PhoneNumberDesc, PhoneNumberType

_DIGITS = "0123456789"


# A "cube" is a fixed-length set of digit strings: one set of allowed digits per position. Every
# pattern in the metadata is a finite union of cubes.
_Cube = tuple[frozenset[str], ...]
_ANY_DIGIT = frozenset(_DIGITS)


class _UnsupportedPatternError(Exception):
    """The metadata uses a regular-expression construct the expansion does not know."""


class _PatternExpander:
    """Expands the regular-expression subset of libphonenumber's metadata into cubes."""

    def __init__(self, pattern: str) -> None:
        self._pattern = pattern
        self._at = 0

    def expand(self) -> list[_Cube]:
        cubes = self._alternation()
        if self._at != len(self._pattern):
            raise _UnsupportedPatternError(self._pattern)
        return cubes

    def _peek(self) -> str:
        return self._pattern[self._at : self._at + 1]

    def _take(self, expected: str) -> None:
        if not self._pattern.startswith(expected, self._at):
            raise _UnsupportedPatternError(self._pattern)
        self._at += len(expected)

    def _alternation(self) -> list[_Cube]:
        cubes = self._sequence()
        while self._peek() == "|":
            self._take("|")
            cubes += self._sequence()
        return cubes

    def _sequence(self) -> list[_Cube]:
        cubes: list[_Cube] = [()]
        while self._peek() not in {"", "|", ")"}:
            atom = self._quantified(self._atom())
            cubes = [left + right for left in cubes for right in atom]
        return cubes

    def _atom(self) -> list[_Cube]:
        char = self._peek()
        if char.isdigit():
            self._take(char)
            return [(frozenset(char),)]
        if char == "\\":
            self._take("\\d")
            return [(_ANY_DIGIT,)]
        if char == "[":
            return [(self._digit_class(),)]
        self._take("(?:")
        cubes = self._alternation()
        self._take(")")
        return cubes

    def _digit_class(self) -> frozenset[str]:
        self._take("[")
        digits: set[str] = set()
        while self._peek() != "]":
            low = self._peek()
            if not low.isdigit():
                raise _UnsupportedPatternError(self._pattern)
            self._take(low)
            high = low
            if self._peek() == "-":
                self._take("-")
                high = self._peek()
                self._take(high)
            digits.update(_DIGITS[int(low) : int(high) + 1])
        self._take("]")
        return frozenset(digits)

    def _quantified(self, atom: list[_Cube]) -> list[_Cube]:
        if self._peek() == "?":
            self._take("?")
            return [(), *atom]
        if self._peek() != "{":
            return atom
        end = self._pattern.index("}", self._at)
        low, _, high = self._pattern[self._at + 1 : end].partition(",")
        self._at = end + 1
        counts = range(int(low), int(high or low) + 1)
        return [cube for count in counts for cube in _repeat(atom, count)]


def _repeat(atom: list[_Cube], count: int) -> Iterator[_Cube]:
    for parts in itertools.product(atom, repeat=count):
        yield tuple(itertools.chain.from_iterable(parts))


def _cubes_of(desc: PhoneNumberDesc | None) -> list[_Cube]:
    if desc is None or not desc.national_number_pattern:
        return []
    lengths = set(desc.possible_length)
    cubes = _PatternExpander(desc.national_number_pattern).expand()
    return [cube for cube in cubes if not lengths or len(cube) in lengths]


def _type_descs(metadata: PhoneMetadata) -> list[tuple[int, PhoneNumberDesc | None]]:
    """The number types in the order libphonenumber's `number_type` tries them."""
    return [
        (PhoneNumberType.PREMIUM_RATE, metadata.premium_rate),
        (PhoneNumberType.TOLL_FREE, metadata.toll_free),
        (PhoneNumberType.SHARED_COST, metadata.shared_cost),
        (PhoneNumberType.VOIP, metadata.voip),
        (PhoneNumberType.PERSONAL_NUMBER, metadata.personal_number),
        (PhoneNumberType.PAGER, metadata.pager),
        (PhoneNumberType.UAN, metadata.uan),
        (PhoneNumberType.VOICEMAIL, metadata.voicemail),
        (PhoneNumberType.FIXED_LINE, metadata.fixed_line),
        (PhoneNumberType.MOBILE, metadata.mobile),
    ]


@dataclass(frozen=True, slots=True)
class RangeTables:
    """Valid ranges: for each NSN length, the number type of each valid leading-digits key."""

    key_digits: int
    by_length: dict[int, dict[str, int]]

    def is_valid(self, nsn: str) -> bool:
        """Whether the national number lies in a valid range."""
        table = self.by_length.get(len(nsn))
        return table is not None and nsn[: self.key_digits] in table


def _prefixes(cubes: Iterable[_Cube], length: int, key_digits: int) -> set[str]:
    return {
        "".join(digits)
        for cube in cubes
        if len(cube) == length
        for digits in itertools.product(*(sorted(position) for position in cube[:key_digits]))
    }


def build_range_tables(metadata: PhoneMetadata) -> RangeTables | None:
    """Exact range tables for the metadata, or None when its patterns cannot be expanded."""
    try:
        general = _cubes_of(metadata.general_desc)
        typed = [(kind, _cubes_of(desc)) for kind, desc in _type_descs(metadata)]
    except (_UnsupportedPatternError, ValueError):
        return None
    every_cube = general + [cube for _, cubes in typed for cube in cubes]
    key_digits = max(
        (i + 1 for cube in every_cube for i, digits in enumerate(cube) if digits != _ANY_DIGIT),
        default=1,
    )
    assert metadata.general_desc is not None
    lengths = frozenset(metadata.general_desc.possible_length)
    if key_digits > min(lengths):
        return None
    by_length: dict[int, dict[str, int]] = {}
    for length in sorted(lengths):
        valid = _prefixes(general, length, key_digits)
        kinds = [(kind, _prefixes(cubes, length, key_digits)) for kind, cubes in typed]
        mobile = kinds[-1][1]
        table: dict[str, int] = {}
        for kind, prefixes in kinds:
            for prefix in sorted((prefixes & valid) - table.keys()):
                if kind == PhoneNumberType.FIXED_LINE and prefix in mobile:
                    kind_here = PhoneNumberType.FIXED_LINE_OR_MOBILE
                else:
                    kind_here = kind
                table[prefix] = kind_here
        by_length[length] = table
    return RangeTables(key_digits, by_length)
