"""Write constraints.txt: the exact versions of the service's runtime dependencies, as tested.

Theory of operation: the runtime requirements are read from pyproject.toml ([project]
dependencies; the dev extra is left out), then followed through the installed packages'
metadata in the running environment (the tested venv), evaluating environment markers for
this interpreter and following the extras a requirement asks for (`psycopg[binary]`), so the
file pins every package `pip install .` brings in and nothing the tests alone need.
Production installs use it with `pip install -c constraints.txt`.

    .venv/bin/python tools/constraints.py > constraints.txt
"""

from __future__ import annotations

import importlib.metadata
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
HEADER = (
    "# Exact versions of gatekeeper's runtime dependencies, as tested; do not edit by hand.\n"
    "# Regenerate from the tested venv: .venv/bin/python tools/constraints.py > constraints.txt\n"
    "# Install: pip install -c constraints.txt /path/to/gatekeeper\n"
)


def runtime_requirements(pyproject: Path = REPO / "pyproject.toml") -> list[Requirement]:
    """The [project] dependencies of pyproject.toml."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return [Requirement(text) for text in project["dependencies"]]


def pinned(requirements: list[Requirement]) -> dict[str, str]:
    """Every package the requirements pull in (transitively), with its installed version.

    A requirement's extras count (`psycopg[binary]` pulls in `psycopg-binary`): a package's
    requirements are followed once for its base and once for each extra asked of it, wherever
    in the tree that extra is asked.
    """
    versions: dict[str, str] = {}
    followed: dict[str, set[str]] = {}
    pending = [r for r in requirements if r.marker is None or r.marker.evaluate({"extra": ""})]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        asked = {""} | {canonicalize_name(extra) for extra in requirement.extras}
        new = asked - followed.setdefault(name, set())
        if not new:
            continue
        followed[name] |= new
        distribution = importlib.metadata.distribution(requirement.name)
        versions[name] = distribution.version
        for text in distribution.requires or ():
            child = Requirement(text)
            if child.marker is None or any(child.marker.evaluate({"extra": e}) for e in new):
                pending.append(child)
    return versions


def render(versions: dict[str, str]) -> str:
    """The constraints file's text."""
    return HEADER + "".join(f"{name}=={versions[name]}\n" for name in sorted(versions))


def main() -> int:
    """Print the constraints for this environment."""
    sys.stdout.write(render(pinned(runtime_requirements())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
