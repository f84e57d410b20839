"""Print the mutation score of each module `make mutation` mutates, from mutmut's results.

The modules are the `only_mutate` list of `[tool.mutmut]` in pyproject.toml (the one place to add
a module). mutmut leaves one `mutants/<module>.meta` JSON file per mutated module, mapping each
mutant's name to the exit code of the tests run against it; a mutant is killed when the tests
failed (or timed out, or the type check caught it). `--survivors` also lists each surviving
mutant; `mutmut show NAME` prints its diff.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KILLED_EXIT_CODES = frozenset({1, 3, 24, -24, 36, 37})
"""Tests failed (1), pytest's internal error (3), timeout (24, -24, 36), type check (37)."""
SURVIVED_EXIT_CODE = 0


@dataclass(frozen=True, slots=True)
class ModuleScore:
    """The results of one mutated module."""

    module: str
    killed: int
    survivors: tuple[str, ...]
    unchecked: int

    @property
    def total(self) -> int:
        """Every mutant of the module."""
        return self.killed + len(self.survivors) + self.unchecked

    @property
    def percent(self) -> float:
        """Killed mutants as a share of all of them (unchecked ones count as not killed)."""
        return 100.0 * self.killed / self.total if self.total else 0.0


def mutated_modules(pyproject: Path) -> list[str]:
    """The `only_mutate` list of pyproject.toml's `[tool.mutmut]` table."""
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    modules = config["tool"]["mutmut"]["only_mutate"]
    assert isinstance(modules, list)
    return [str(module) for module in modules]


def module_score(module: str, mutants: Path) -> ModuleScore:
    """Count one module's results; a module with no results file scores no mutant."""
    meta = mutants / f"{module}.meta"
    if not meta.exists():
        return ModuleScore(module, 0, (), 0)
    exit_codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))[
        "exit_code_by_key"
    ]
    killed = sum(code in KILLED_EXIT_CODES for code in exit_codes.values())
    survivors = tuple(sorted(k for k, code in exit_codes.items() if code == SURVIVED_EXIT_CODE))
    return ModuleScore(module, killed, survivors, len(exit_codes) - killed - len(survivors))


def report(scores: list[ModuleScore], *, survivors: bool) -> str:
    """The table of scores, and the survivors' names when asked."""
    width = max(len("module"), *(len(score.module) for score in scores))
    lines = [f"{'module':<{width}}  mutants  killed  survived  unchecked   score"]
    lines += [
        f"{s.module:<{width}}  {s.total:>7}  {s.killed:>6}  {len(s.survivors):>8}  "
        f"{s.unchecked:>9}  {s.percent:5.1f}%"
        for s in scores
    ]
    if survivors:
        lines += [f"survived: {name}" for score in scores for name in score.survivors]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the report; exit 1 when a listed module has no results (mutmut did not run it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--survivors", action="store_true", help="list every surviving mutant")
    parser.add_argument("--mutants", type=Path, default=ROOT / "mutants", help="mutmut's folder")
    args = parser.parse_args(argv)
    scores = [
        module_score(module, args.mutants) for module in mutated_modules(ROOT / "pyproject.toml")
    ]
    print(report(scores, survivors=args.survivors))
    missing = [score.module for score in scores if not score.total]
    if missing:
        print(f"no mutation results for: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
