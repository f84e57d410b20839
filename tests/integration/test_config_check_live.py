"""`gatekeeper config check` checks the deployment: listen addresses, and with --live the host."""

from __future__ import annotations

import contextlib
import getpass
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tools.asterisk_sandbox import DEFAULT_ROOT, READY_MARK, AsteriskSandbox, free_port
from tools.gatekeeper_run import gatekeeper, write_run_config

ME = getpass.getuser()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AsteriskSandbox]:
    """One real Asterisk with the shipped AMI user, shared by the live checks."""
    if not (DEFAULT_ROOT / READY_MARK).exists():
        pytest.fail("the Asterisk sandbox is not installed: run `make asterisk`")
    with AsteriskSandbox(agi_port=free_port()) as running:
        yield running


def _config(tmp_path: Path, sandbox: AsteriskSandbox, **changes: Any) -> Path:
    def customise(config: dict[str, Any]) -> None:
        config["ami"].update(changes)

    return write_run_config(
        tmp_path,
        agi_port=sandbox.agi_port,
        ami_port=sandbox.ami_port,
        ami_secret=sandbox.service_secret,
        ami_username=sandbox.service_username,
        customise=customise,
    )


def _live(config: Path, *extra: str) -> tuple[int, str, str]:
    done = gatekeeper(
        config, "config", "check", "--live", "--service-user", ME, *extra, check=False
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.asterisk
def test_sound_deployment_passes(tmp_path: Path, sandbox: AsteriskSandbox) -> None:
    """The shipped files in a real Asterisk, the example config pointed at it: exit 0."""
    code, out, err = _live(_config(tmp_path, sandbox))
    passed = "context 'gatekeeper-example-trunk' is in the dialplan" in out
    assert (code, "check failed" in err, passed) == (0, False, True)


@pytest.mark.asterisk
def test_wrong_gated_context_is_reported(tmp_path: Path, sandbox: AsteriskSandbox) -> None:
    """A gated context Asterisk does not have: exit 1, the context named."""
    code, _, err = _live(_config(tmp_path, sandbox, gated_contexts=["outbound-trunk"]))
    assert (code, "context 'outbound-trunk' is not in Asterisk's dialplan" in err) == (1, True)


@pytest.mark.asterisk
def test_standby_for_a_peer_that_does_not_answer_is_reported(
    tmp_path: Path, sandbox: AsteriskSandbox
) -> None:
    """ami.standby_for naming a port where nothing listens: exit 1 naming the key and why."""
    peer = f"http://127.0.0.1:{free_port()}/healthz"
    code, _, err = _live(_config(tmp_path, sandbox, standby_for=peer))
    assert (code, f"ami.standby_for {peer} does not vouch" in err, "unreachable" in err) == (
        1,
        True,
        True,
    )


@pytest.mark.asterisk
def test_agi_address_mismatch_is_reported(tmp_path: Path, sandbox: AsteriskSandbox) -> None:
    """agi.listen on another port than the dialplan's GATEKEEPER_AGI: exit 1, the global named."""
    config = _config(tmp_path, sandbox)
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            f"127.0.0.1:{sandbox.agi_port}", f"127.0.0.1:{sandbox.agi_port + 1}"
        ),
        encoding="utf-8",
    )
    code, _, err = _live(config)
    assert (code, "does not reach agi.listen" in err) == (1, True)


@contextlib.contextmanager
def _agi_global(sandbox: AsteriskSandbox, value: str) -> Iterator[None]:
    """The dialplan's GATEKEEPER_AGI set to `value` for a while, then put back."""
    sandbox.cli(f"dialplan set global GATEKEEPER_AGI {value}")
    try:
        yield
    finally:
        sandbox.cli(f"dialplan set global GATEKEEPER_AGI 127.0.0.1:{sandbox.agi_port}")


@pytest.mark.asterisk
def test_agi_host_name_resolving_to_listen_passes(tmp_path: Path, sandbox: AsteriskSandbox) -> None:
    """GATEKEEPER_AGI names a host that resolves to agi.listen's address: that check passes."""
    with _agi_global(sandbox, f"localhost:{sandbox.agi_port}"):
        code, out, _ = _live(_config(tmp_path, sandbox))
    assert (code, "reaches agi.listen" in out, "localhost resolves here to" in out) == (
        0,
        True,
        True,
    )


@pytest.mark.asterisk
def test_agi_host_name_resolving_elsewhere_is_reported(
    tmp_path: Path, sandbox: AsteriskSandbox
) -> None:
    """A GATEKEEPER_AGI host name none of whose addresses is agi.listen's: exit 1, both named."""
    config = _config(tmp_path, sandbox)
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            f"127.0.0.1:{sandbox.agi_port}", f"127.0.0.2:{sandbox.agi_port}"
        ),
        encoding="utf-8",
    )
    with _agi_global(sandbox, f"localhost:{sandbox.agi_port}"):
        code, _, err = _live(config)
    assert (code, "(localhost resolves here to 127.0.0.1" in err) == (1, True)


@pytest.mark.asterisk
def test_srv_name_with_a_port_is_reported(tmp_path: Path, sandbox: AsteriskSandbox) -> None:
    """A GATEKEEPER_AGI_SRV that is not a bare DNS name blocks every call: exit 1, named."""
    sandbox.cli(f"dialplan set global GATEKEEPER_AGI_SRV gk.example.be:{sandbox.agi_port}")
    try:
        code, _, err = _live(_config(tmp_path, sandbox))
    finally:
        sandbox.cli('dialplan set global GATEKEEPER_AGI_SRV ""')
    assert (code, "GATEKEEPER_AGI_SRV 'gk.example.be:" in err) == (1, True)


@pytest.mark.asterisk
def test_user_that_may_originate_is_reported(tmp_path: Path, sandbox: AsteriskSandbox) -> None:
    """An AMI user with the originate right (the tests' own user): exit 1, Originate named."""
    config = write_run_config(
        tmp_path,
        agi_port=sandbox.agi_port,
        ami_port=sandbox.ami_port,
        ami_secret=sandbox.ami_secret,
        ami_username=sandbox.ami_username,
    )
    code, _, err = _live(config)
    assert (code, "may run Originate" in err) == (1, True)


def test_unreachable_ami_fails_the_live_check(tmp_path: Path) -> None:
    """--live with no AMI listening: exit 1 saying the live checks need the AMI."""
    config = write_run_config(tmp_path, agi_port=4573, ami_port=free_port(), ami_secret="s")
    code, _, err = _live(config)
    assert (code, "the live checks need the AMI" in err) == (1, True)


def test_secret_file_unreadable_by_service_user_is_reported(tmp_path: Path) -> None:
    """A secret file the service user cannot reach: exit 1 naming ami.secret_file."""
    config = write_run_config(tmp_path, agi_port=4573, ami_port=free_port(), ami_secret="s")
    (tmp_path / "ami.secret").chmod(0o600)
    tmp_path.chmod(0o700)
    done = gatekeeper(config, "config", "check", "--live", "--service-user", "nobody", check=False)
    assert (done.returncode, "ami.secret_file: nobody cannot" in done.stderr) == (1, True)


def test_public_health_is_refused_unless_allowed(tmp_path: Path) -> None:
    """health.listen on 0.0.0.0: exit 1; with --allow-public-health: exit 0."""

    def public(config: dict[str, Any]) -> None:
        config["health"] = {"listen": "0.0.0.0:9573"}

    config = write_run_config(
        tmp_path, agi_port=4573, ami_port=5038, ami_secret="s", customise=public
    )
    refused = gatekeeper(config, "config", "check", check=False)
    allowed = gatekeeper(config, "config", "check", "--allow-public-health", check=False)
    assert (refused.returncode, "health.listen 0.0.0.0:9573" in refused.stderr) == (1, True)
    assert allowed.returncode == 0


def test_public_agi_without_peer_list_is_refused(tmp_path: Path) -> None:
    """agi.listen on 0.0.0.0 with nothing restricting peers: exit 2 naming both keys."""
    config = write_run_config(
        tmp_path, agi_port=4573, ami_port=5038, ami_secret="s", agi_host="0.0.0.0"
    )
    done = gatekeeper(config, "config", "check", check=False)
    named = "agi.listen: 0.0.0.0 is not a loopback" in done.stderr
    assert (done.returncode, named, "agi.allowed_peers" in done.stderr) == (2, True, True)
