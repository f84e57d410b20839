"""`gatekeeper config check` sees a data folder that cannot hold the gatekeeper's files."""

from __future__ import annotations

from pathlib import Path

import pytest
from tools.gatekeeper_run import gatekeeper, write_run_config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The example config in a temporary folder (data_dir: data)."""
    return write_run_config(tmp_path, agi_port=4573, ami_port=5038, ami_secret="unused")


def test_data_dir_that_is_a_file_is_a_configuration_error(config: Path) -> None:
    """A file where the data folder should be: exit 2 naming data_dir, nothing on stdout."""
    (config.parent / "data").write_text("not a folder\n", encoding="utf-8")
    done = gatekeeper(config, "config", "check", check=False)
    assert (done.returncode, done.stdout, "data_dir: " in done.stderr) == (2, "", True)


def test_data_dir_not_yet_created_is_fine(config: Path) -> None:
    """A data folder that does not exist yet but can be created passes, and is not created."""
    done = gatekeeper(config, "config", "check", check=False)
    assert (done.returncode, (config.parent / "data").exists()) == (0, False)
