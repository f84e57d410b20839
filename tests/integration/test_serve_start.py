"""`gatekeeper serve` refuses to start, with the key to fix, when it cannot do its job."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from tools.asterisk_sandbox import free_port
from tools.gatekeeper_run import GATEKEEPER, write_run_config


def _serve(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GATEKEEPER), "-c", str(config), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_busy_agi_port_exits_1_naming_agi_listen(tmp_path: Path) -> None:
    """With the AGI port taken, serve exits 1 and says which setting to change."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_run_config(tmp_path, agi_port=port, ami_port=1, ami_secret="s")
        done = _serve(config)
    assert (done.returncode, f"agi.listen 127.0.0.1:{port}: cannot listen" in done.stderr) == (
        1,
        True,
    )


def test_missing_ami_secret_file_exits_2_naming_the_key(tmp_path: Path) -> None:
    """Without the AMI secret file, serve exits 2 (configuration) naming ami.secret_file."""
    config = write_run_config(tmp_path, agi_port=free_port(), ami_port=1, ami_secret="s")
    (tmp_path / "ami.secret").unlink()
    done = _serve(config)
    assert (done.returncode, "ami.secret_file" in done.stderr) == (2, True)
