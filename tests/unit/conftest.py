"""Unit-test settings: the hypothesis profile `make mutation` runs the unit tests under."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("mutation", derandomize=True, database=None, max_examples=30)
"""The same examples on every run, so a mutant is killed or not the same way each time; fewer of
them than usual, because every surviving mutant runs every property test that covers it."""
