"""tools/constraints.py pins what a production install brings in, extras' packages included."""

from __future__ import annotations

from packaging.requirements import Requirement
from tools.constraints import pinned


def test_an_extra_pins_the_packages_it_pulls_in() -> None:
    """psycopg[binary] pins psycopg-binary at its installed version, beside psycopg itself."""
    versions = pinned([Requirement("psycopg[binary]>=3.2")])
    assert versions["psycopg-binary"] == versions["psycopg"]


def test_an_extra_asked_after_its_package_was_followed_still_counts() -> None:
    """A bare psycopg asked first, then psycopg[binary], still pins psycopg-binary."""
    versions = pinned([Requirement("psycopg[binary]"), Requirement("psycopg")])
    assert "psycopg-binary" in versions


def test_extras_nobody_asked_for_are_not_pinned() -> None:
    """A bare psycopg pins neither its binary nor its test extras' packages."""
    versions = pinned([Requirement("psycopg")])
    assert not {"psycopg-binary", "pytest", "pproxy"} & versions.keys()
