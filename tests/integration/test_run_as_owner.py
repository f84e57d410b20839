"""Writing commands run as the owner of data_dir: another user is refused before writing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tools.gatekeeper_run import gatekeeper, write_run_config

from owner_support import NOBODY, as_nobody, enterable_run_dir

WRITING_COMMANDS = {
    "check": ("check", "0470999999", "--campaign", "spring-promo"),
    "sync": ("sync",),
    "consent add": ("consent", "add", "0470999999", "--advertiser", "acme", "--date", "2025-01-02"),
    "objection revoke": ("objection", "revoke", "1"),
    "consent show": ("consent", "show", "0470999999"),
    "audit purge": ("audit", "purge"),
    "scrub": ("scrub", "list.csv", "--campaign", "spring-promo", "--output", "out.csv"),
    "serve": ("serve",),
}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="changes file owners: needs root")


@pytest.fixture
def run_dir() -> Iterator[Path]:
    """A run folder every user may enter."""
    with enterable_run_dir() as folder:
        yield folder


@pytest.fixture
def config(run_dir: Path) -> Path:
    """The example config whose data_dir exists and belongs to `nobody`."""
    path = write_run_config(run_dir, agi_port=4573, ami_port=5038, ami_secret="unused")
    data_dir = run_dir / "data"
    data_dir.mkdir(mode=0o700)
    os.chown(data_dir, NOBODY, NOBODY)
    return path


@pytest.mark.parametrize("command", WRITING_COMMANDS)
def test_root_is_refused_where_another_user_owns_data_dir(config: Path, command: str) -> None:
    """As root, every writing command exits 2 with the runuser line, and writes nothing."""
    done = gatekeeper(config, *WRITING_COMMANDS[command], check=False)
    hint = f"runuser -u nobody -- gatekeeper -c {config} {WRITING_COMMANDS[command][0]}"
    assert (done.returncode, hint in done.stderr, list((config.parent / "data").iterdir())) == (
        2,
        True,
        [],
    )


def test_the_owner_may_write(config: Path) -> None:
    """Run as the owner of data_dir, `check` records its decision in files that user owns."""
    done = as_nobody(config, "check", "0470999999", "--campaign", "spring-promo")
    log = config.parent / "data" / "audit" / "decisions.sqlite"
    assert (done.returncode, log.stat().st_uid) == (0, NOBODY), done.stderr


def test_a_file_left_by_another_user_is_named_with_the_repair(config: Path) -> None:
    """The owner is refused too when a kept folder in data_dir belongs to someone else."""
    (config.parent / "data" / "audit").mkdir()
    done = as_nobody(config, "check", "0470999999", "--campaign", "spring-promo")
    assert (done.returncode, f"chown -R nobody: {config.parent / 'data'}" in done.stderr) == (
        2,
        True,
    )


def test_reading_commands_run_as_anyone(config: Path) -> None:
    """`audit purge --dry-run` only reads: root is not refused (it finds no log yet: exit 1)."""
    done = gatekeeper(config, "audit", "purge", "--dry-run", check=False)
    assert (done.returncode, "no decision log" in done.stderr) == (1, True)
