"""Fetching the list over sFTP from a real OpenSSH sshd on loopback, with key authentication."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from gatekeeper.common.errors import SyncError
from gatekeeper.dncm.settings import DncmSettings, SftpSource
from gatekeeper.dncm.sources import fetch
from gatekeeper.dncm.sync import import_list_file

pytestmark = pytest.mark.sshd

SSHD = Path("/usr/sbin/sshd")
SAMPLE = Path(__file__).resolve().parents[2] / "config" / "sample-dncm.txt"


@dataclass(frozen=True)
class SshServer:
    """A running sshd, a client key it accepts, and the known_hosts line for it."""

    port: int
    user: str
    client_key: Path
    known_hosts: Path
    served: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert process.poll() is None, "sshd exited"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail("sshd did not listen")


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshServer]:
    """Sshd on a free loopback port: temp host key, temp authorized_keys, internal-sftp."""
    if not SSHD.exists():
        pytest.fail("sshd is missing: run tools/system-deps.sh (installs openssh-server)")
    home = tmp_path / "ssh"
    home.mkdir(mode=0o700)
    _keygen(home / "host_key")
    _keygen(home / "client_key")
    authorized = home / "authorized_keys"
    shutil.copy(home / "client_key.pub", authorized)
    authorized.chmod(0o600)
    served = tmp_path / "served"
    served.mkdir()
    user = pwd.getpwuid(os.getuid()).pw_name
    port = _free_port()
    config = home / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {home / 'host_key'}\n"
        f"AuthorizedKeysFile {authorized}\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nUsePAM no\n"
        f"PidFile {home / 'sshd.pid'}\nStrictModes no\nPermitRootLogin prohibit-password\n"
        "Subsystem sftp internal-sftp\n"
    )
    host_public = (home / "host_key.pub").read_text().split()
    known_hosts = home / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_public[0]} {host_public[1]}\n")
    Path("/run/sshd").mkdir(exist_ok=True)
    process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)])
    try:
        _wait_listening(port, process)
        yield SshServer(port, user, home / "client_key", known_hosts, served)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _source(server: SshServer, path: Path, **overrides: object) -> DncmSettings:
    sftp = SftpSource(
        host="127.0.0.1",
        port=server.port,
        user=server.user,
        key_file=server.client_key,
        path=str(path),
        known_hosts=server.known_hosts,
    )
    for key, value in overrides.items():
        object.__setattr__(sftp, key, value)
    return DncmSettings(sftp=sftp)


def test_sftp_fetch_downloads_a_private_copy_with_the_remote_date(
    sshd: SshServer, tmp_path: Path
) -> None:
    """The file arrives complete, mode 0600, dated by the server's modification time."""
    remote = sshd.served / "dncm.txt"
    shutil.copy(SAMPLE, remote)
    os.utime(remote, (1_714_604_400, 1_714_604_400))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    fetched = fetch(_source(sshd, remote), inbox)
    assert fetched.path.read_bytes() == SAMPLE.read_bytes()
    assert stat.S_IMODE(fetched.path.stat().st_mode) == 0o600
    assert fetched.list_date == date(2024, 5, 2)
    assert fetched.source.startswith("sftp://")


def test_sftp_fetched_file_imports(sshd: SshServer, tmp_path: Path) -> None:
    """A list fetched over sFTP imports like any other file."""
    remote = sshd.served / "dncm.txt"
    shutil.copy(SAMPLE, remote)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    fetched = fetch(_source(sshd, remote), inbox)
    report = import_list_file(
        tmp_path / "dncm", fetched.path, source=fetched.source, list_date=date(2025, 1, 1)
    )
    assert report.record.rows == 30


def test_unknown_host_key_is_refused(sshd: SshServer, tmp_path: Path) -> None:
    """A server whose host key is not in known_hosts is not trusted with the licence file."""
    other = tmp_path / "other_known_hosts"
    other.write_text("")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with pytest.raises(SyncError, match="cannot fetch"):
        fetch(_source(sshd, sshd.served / "dncm.txt", known_hosts=other), inbox)


def test_missing_remote_file_fails_cleanly(sshd: SshServer, tmp_path: Path) -> None:
    """A missing remote file is a SyncError and leaves no partial download behind."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with pytest.raises(SyncError, match="cannot fetch"):
        fetch(_source(sshd, sshd.served / "absent.txt"), inbox)
    assert list(inbox.iterdir()) == []


def test_wrong_client_key_is_refused(sshd: SshServer, tmp_path: Path) -> None:
    """A key the server does not authorise fails the fetch."""
    _keygen(tmp_path / "stranger")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with pytest.raises(SyncError, match="cannot fetch"):
        fetch(_source(sshd, sshd.served / "dncm.txt", key_file=tmp_path / "stranger"), inbox)
