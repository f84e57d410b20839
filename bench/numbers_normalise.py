"""Throughput of `gatekeeper.rules.numbers.normalise` over a million distinct dialled strings.

Two workloads, each of 1,000,000 distinct numbers (half mobile, half geographic):
- common: the digit forms a dialler or a list file uses (`0470123456`, `+32470123456`,
  `0470 12 34 56`, `32…`, `0032…`, `/ . -` separators);
- mix: 85% common forms, then URIs, `(0)`, a route's outside-line prefix, Unicode digits and
  spaces, invalid numbers, foreign numbers and text that is no number at all.

Prints numbers per CPU second and per wall-clock second (best of `--repeat` passes, one core), the
reference path's rate on a sample, and checks on that sample that both paths agree.
Run: `.venv/bin/python bench/numbers_normalise.py` (options: `--count`, `--repeat`, `--sample`).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence

from gatekeeper.rules.numbers import Normalised, normalise, normalise_reference

Case = tuple[str, str]
Normaliser = Callable[..., Normalised]

GEOGRAPHIC_HEADS = ["22", "25", "32", "38", "42", "43", "50", "56", "92", "94", "10", "16", "64"]
ARABIC_INDIC = str.maketrans(
    "0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669"
)
FULL_WIDTH = str.maketrans(
    "0123456789+", "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff0b"
)


def distinct_nsns(count: int, rng: random.Random) -> list[str]:
    """`count` distinct valid Belgian NSNs, half mobile (9 digits), half geographic (8 digits)."""
    mobiles = rng.sample(range(45_000_000_0, 50_000_000_0), count // 2)
    heads = [rng.choice(GEOGRAPHIC_HEADS) for _ in range(count - count // 2)]
    tails = rng.sample(range(1_000_000), len(heads))
    geographic = [f"{head}{tail:06d}" for head, tail in zip(heads, tails, strict=True)]
    nsns = [str(m) for m in mobiles] + geographic
    rng.shuffle(nsns)
    return nsns


def spaced(national: str) -> str:
    """`0470 12 34 56` / `02 512 34 56`: the way people write numbers."""
    if len(national) == 10:
        return f"{national[:4]} {national[4:6]} {national[6:8]} {national[8:]}"
    return f"{national[:2]} {national[2:5]} {national[5:7]} {national[7:]}"


COMMON_FORMS: list[tuple[float, Callable[[str], str]]] = [
    (0.25, lambda nsn: "0" + nsn),
    (0.25, lambda nsn: "+32" + nsn),
    (0.15, lambda nsn: spaced("0" + nsn)),
    (0.10, lambda nsn: "32" + nsn),
    (0.10, lambda nsn: "0032" + nsn),
    (0.05, lambda nsn: spaced("0" + nsn).replace(" ", "/", 1).replace(" ", ".")),
    (0.05, lambda nsn: "+32 " + spaced("0" + nsn)[1:]),
    (0.05, lambda nsn: spaced("0" + nsn).replace(" ", "-")),
]


def common_case(nsn: str, rng: random.Random) -> Case:
    """One NSN written in a common digit form."""
    weights = [weight for weight, _ in COMMON_FORMS]
    form = rng.choices([writer for _, writer in COMMON_FORMS], weights)[0]
    return form(nsn), ""


FOREIGN_HEADS = ["+33 6", "+31 6", "+49 151 ", "+44 7700 "]
NOT_NUMBERS = ["anonymous", "unknown", "", "s", "hello 0"]

OTHER_FORMS: list[tuple[float, Callable[[str, random.Random], Case]]] = [
    (2, lambda nsn, _: (f"sip:+32{nsn}@pbx.example.com;user=phone", "")),
    (1, lambda nsn, _: (f"tel:+32-{nsn[:3]}-{nsn[3:]};phone-context=example.com", "")),
    (2, lambda nsn, _: (f"+32 (0){nsn}", "")),
    (2, lambda nsn, _: (f"9 0{nsn}", "9")),
    (0.5, lambda nsn, _: (("0" + nsn).translate(ARABIC_INDIC), "")),
    (0.5, lambda nsn, _: (("+32" + nsn).translate(FULL_WIDTH), "")),
    (1, lambda nsn, _: (spaced("0" + nsn).replace(" ", "\u00a0"), "")),
    (1, lambda nsn, _: ("0" + nsn[:-1], "")),
    (1, lambda nsn, rng: ("0" + nsn + str(rng.randrange(10)), "")),
    (1, lambda nsn, _: ("070" + nsn[-6:], "")),
    (2, lambda nsn, rng: (rng.choice(FOREIGN_HEADS) + nsn[-8:], "")),
    (1, lambda nsn, rng: (rng.choice(NOT_NUMBERS) + nsn[:2], "")),
]


def other_case(nsn: str, rng: random.Random) -> Case:
    """One NSN in a rarer form, or replaced by an invalid, foreign or non-number string."""
    weights = [weight for weight, _ in OTHER_FORMS]
    form = rng.choices([writer for _, writer in OTHER_FORMS], weights)[0]
    return form(nsn, rng)


def build(count: int, share_common: float, seed: int) -> list[Case]:
    """`count` cases over distinct NSNs; `share_common` of them in common digit forms."""
    rng = random.Random(seed)
    return [
        common_case(nsn, rng) if rng.random() < share_common else other_case(nsn, rng)
        for nsn in distinct_nsns(count, rng)
    ]


def rate(normaliser: Normaliser, cases: Sequence[Case], repeat: int) -> tuple[float, float]:
    """Best numbers per CPU second and per wall second over `repeat` passes.

    CPU time is what one core spends; on a shared machine the wall clock also counts the time
    other processes hold the core.
    """
    best_cpu = best_wall = float("inf")
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        for raw, prefix in cases:
            normaliser(raw, strip_prefix=prefix)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    return len(cases) / best_cpu, len(cases) / best_wall


def main(argv: Sequence[str]) -> int:
    """Build both workloads, time them, and check fast against reference on a sample."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sample", type=int, default=20_000)
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {args.count:,} distinct numbers per workload")
    for name, share in (("common", 1.0), ("mix", 0.85)):
        cases = build(args.count, share, seed=32)
        fast_cpu, fast_wall = rate(normalise, cases, args.repeat)
        sample = cases[: args.sample]
        reference_cpu, _ = rate(normalise_reference, sample, 1)
        disagreements = sum(
            normalise(raw, strip_prefix=p) != normalise_reference(raw, strip_prefix=p)
            for raw, p in sample
        )
        print(
            f"{name:>6}: normalise {fast_cpu:>9,.0f}/s CPU ({fast_wall:>9,.0f}/s wall)   "
            f"reference {reference_cpu:>7,.0f}/s CPU   "
            f"disagreements {disagreements} of {len(sample):,}"
        )
        if disagreements:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
