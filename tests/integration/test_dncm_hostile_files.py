"""List files that are not lists: a huge line, bare-CR line ends; refused naming file and line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from gatekeeper.dncm.layout import MAX_LINE_BYTES

from dncm_support import GATEKEEPER, REPO, list_syncs, write_config

HUGE_LINE_BYTES = 50 * 1024 * 1024
GOOD_LINE = b"0470123456;2019-03-14\n"
AFTER_THE_SAMPLE = 60_000
"""Good lines before the huge one: past the layout sample (1 MiB), so the parser meets it."""
RSS_MARGIN_KIB = 20 * 1024
_MAX_CHILD_RSS = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=False)\n"
    "sys.stderr.write(done.stderr)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(done.returncode)\n"
)


def _sync_measured(config: Path, file: Path) -> tuple[int, str, int]:
    """(exit code, stderr, peak RSS in KiB) of `gatekeeper sync --file FILE`."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _MAX_CHILD_RSS,
            GATEKEEPER,
            "-c",
            str(config),
            "sync",
            "--file",
            str(file),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return done.returncode, done.stderr, int(done.stdout.strip())


def _huge_line_file(path: Path, good_lines: int) -> Path:
    with path.open("wb") as out:
        out.write(GOOD_LINE * good_lines)
        chunk = b"9" * (1 << 20)
        for _ in range(HUGE_LINE_BYTES // len(chunk)):
            out.write(chunk)
        out.write(b";2019-03-14\n" + GOOD_LINE)
    return path


@pytest.mark.parametrize("good_lines", [0, AFTER_THE_SAMPLE], ids=["first", "after-sample"])
def test_a_50_mb_line_is_refused_naming_it_in_bounded_memory(
    tmp_path: Path, good_lines: int
) -> None:
    """A 50 MB line is refused as file:line with the bound, and memory does not grow with it."""
    config = write_config(tmp_path)
    small = tmp_path / "small.txt"
    small.write_bytes(GOOD_LINE * (good_lines + 1))
    _, _, baseline_kib = _sync_measured(config, small)
    huge = _huge_line_file(tmp_path / "huge.txt", good_lines)
    code, err, peak_kib = _sync_measured(config, huge)
    assert code == 1
    assert f"{huge}:{good_lines + 1}: the line is longer than {MAX_LINE_BYTES} bytes" in err
    assert peak_kib < baseline_kib + RSS_MARGIN_KIB, (peak_kib, baseline_kib)
    assert list_syncs(tmp_path / "data")[-1]["status"] == "failed"


@pytest.mark.parametrize("size", [2, 200], ids=["short", "longer-than-a-line"])
def test_bare_cr_line_ends_are_named(tmp_path: Path, size: int) -> None:
    """A file whose lines end in CR alone (old Mac) is refused saying so, with its name."""
    config = write_config(tmp_path)
    file = tmp_path / "mac.txt"
    file.write_bytes(GOOD_LINE.replace(b"\n", b"\r") * size)
    code, err, _ = _sync_measured(config, file)
    assert code == 1
    assert f"{file}: line ends are bare CR; convert to LF or CRLF" in err
