"""Generate a DNCM-like list file of valid Belgian numbers (shared by the dncm benchmarks).

Usage: .venv/bin/python bench/dncm_listgen.py ROWS OUT.txt [--seed N]
Numbers are drawn from mobile (45-49) and geographic ranges, written as `0…;YYYY-MM-DD`,
in random order (a worst case for the index build), with registration dates since 2007.
"""

from __future__ import annotations

import argparse
import random
from datetime import date, timedelta
from pathlib import Path

from gatekeeper.rules.numbers import BelgianNumber, normalise

_GEOGRAPHIC_ZONES = ("2", "3", "4", "9", "10", "11", "12", "13", "14", "15", "16", "19", "50")
_FIRST_DAY = date(2007, 10, 1)


def numbers(rows: int, rng: random.Random) -> list[int]:
    """`rows` distinct national numbers without the trunk 0, as integers."""
    seen: set[int] = set()
    while len(seen) < rows:
        if rng.random() < 0.45:
            seen.add(int(f"4{rng.randint(5, 9)}{rng.randrange(10**7):07d}"))
        else:
            zone = rng.choice(_GEOGRAPHIC_ZONES)
            rest = 8 - len(zone)
            head = str(rng.randint(2, 8))
            national = f"{zone}{head}{rng.randrange(10 ** (rest - 1)):0{rest - 1}d}"
            if isinstance(normalise(f"0{national}"), BelgianNumber):
                seen.add(int(national))
    ordered = list(seen)
    rng.shuffle(ordered)
    return ordered


def write_list(path: Path, rows: int, *, seed: int = 1, last_day: date | None = None) -> None:
    """Write a list file of `rows` valid Belgian numbers."""
    rng = random.Random(seed)
    span = ((last_day or date.today()) - _FIRST_DAY).days  # noqa: DTZ011 - a rough upper bound
    days = [(_FIRST_DAY + timedelta(days=d)).isoformat() for d in range(span + 1)]
    with path.open("w", encoding="ascii") as out:
        out.writelines(f"0{n};{rng.choice(days)}\n" for n in numbers(rows, rng))


def main() -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser()
    parser.add_argument("rows", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    write_list(args.out, args.rows, seed=args.seed)


if __name__ == "__main__":
    main()
