"""Running gatekeeper commands as another user than root, for the file-ownership tests."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tools.gatekeeper_run import GATEKEEPER

NOBODY = 65534
"""A user that is not root and exists on every Debian system (`nobody`, group `nogroup`)."""
SETPRIV_NOBODY = ("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups")


@contextmanager
def enterable_run_dir() -> Iterator[Path]:
    """A run folder every user may enter (pytest's own is root-only), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="gk-owner-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def as_nobody(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one gatekeeper command as `nobody`, without root's supplementary groups."""
    return subprocess.run(
        [*SETPRIV_NOBODY, str(GATEKEEPER), "-c", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=config.parent,
    )
