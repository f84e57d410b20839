"""`ami.standby_for` and `ami.standby_probe`: a standby watch's peer and probe, validated."""

from __future__ import annotations

from pathlib import Path

import pytest
from gatekeeper.ami.settings import PeerHealth, StandbySettings
from gatekeeper.common.errors import ConfigError
from gatekeeper.config import load_settings

HEAD = """\
licensee: {name: Example Contact NV, role: service_provider, licence_valid_until: 2027-06-30}
data_dir: data
health: {listen: "127.0.0.1:9573"}
"""


def _load(tmp_path: Path, ami: str) -> StandbySettings | None:
    path = tmp_path / "gatekeeper.yaml"
    path.write_text(HEAD + "ami:\n  gated_contexts: [trunk]\n" + ami, encoding="utf-8")
    return load_settings(path).ami.standby


def _error(tmp_path: Path, ami: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, ami)
    return str(caught.value).partition(": ")[2]


def test_no_standby_for_means_a_primary(tmp_path: Path) -> None:
    """Without ami.standby_for the node's watchdog always acts."""
    assert _load(tmp_path, "") is None


def test_an_http_url_gives_the_peer_and_the_default_probe(tmp_path: Path) -> None:
    """A URL names the peer; the probe defaults to every 0.5 s, 0.5 s timeout, 2 / 2 in a row."""
    standby = _load(tmp_path, "  standby_for: http://10.0.0.1:9573/healthz\n")
    assert standby == StandbySettings(
        PeerHealth("10.0.0.1", 9573, "/healthz"),
        interval_ms=500,
        timeout_ms=500,
        fail_after=2,
        recover_after=2,
    )


def test_host_and_port_alone_are_enough(tmp_path: Path) -> None:
    """`HOST:PORT` is the peer's /healthz over http; a URL without port uses 9573."""
    assert _load(tmp_path, "  standby_for: 10.0.0.1:9600\n") == StandbySettings(
        PeerHealth("10.0.0.1", 9600)
    )
    assert _load(tmp_path, "  standby_for: http://gk1.example.be\n") == StandbySettings(
        PeerHealth("gk1.example.be", 9573)
    )


def test_https_is_refused_naming_the_key(tmp_path: Path) -> None:
    """The health endpoint speaks plain HTTP: https is an error naming ami.standby_for."""
    message = _error(tmp_path, "  standby_for: https://10.0.0.1:9573/healthz\n")
    assert message.startswith("ami.standby_for: only http://")


@pytest.mark.parametrize(
    "value",
    [
        "http://10.0.0.1:9573/metrics",
        "http://10.0.0.1:9573/healthz?x=1",
        "http://user:pw@10.0.0.1:9573/healthz",
        "http://10.0.0.1:99999/healthz",
        "http://:9573/healthz",
    ],
    ids=["other-path", "query", "credentials", "bad-port", "no-host"],
)
def test_anything_but_the_peers_healthz_is_refused(tmp_path: Path, value: str) -> None:
    """Another path, a query, credentials, a bad port or no host: an error on the key."""
    assert _error(tmp_path, f"  standby_for: '{value}'\n").startswith("ami.standby_for: ")


def test_the_probe_is_read(tmp_path: Path) -> None:
    """ami.standby_probe sets interval, timeout and both counts."""
    text = (
        "  standby_for: 10.0.0.1:9573\n"
        "  standby_probe: {interval_ms: 1000, timeout_ms: 300, fail_after: 3, recover_after: 10}\n"
    )
    assert _load(tmp_path, text) == StandbySettings(PeerHealth("10.0.0.1", 9573), 1000, 300, 3, 10)


def test_a_timeout_longer_than_the_interval_is_refused(tmp_path: Path) -> None:
    """Probes must not overlap: timeout_ms above interval_ms names the key."""
    text = "  standby_for: 10.0.0.1:9573\n  standby_probe: {interval_ms: 200, timeout_ms: 300}\n"
    assert _error(tmp_path, text).startswith("ami.standby_probe.timeout_ms: must not exceed")


def test_a_probe_without_a_peer_is_refused(tmp_path: Path) -> None:
    """ami.standby_probe alone is a mistake, not a silent no-op."""
    message = _error(tmp_path, "  standby_probe: {interval_ms: 500}\n")
    assert message == "ami.standby_probe: only with ami.standby_for"


def test_a_standby_guarding_nothing_is_refused(tmp_path: Path) -> None:
    """A standby watch without gated contexts would stand in for nothing."""
    path = tmp_path / "gatekeeper.yaml"
    path.write_text(HEAD + "ami: {standby_for: '10.0.0.1:9573'}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"ami\.standby_for: a standby watch needs"):
        load_settings(path)


def test_naming_this_nodes_own_health_is_refused(tmp_path: Path) -> None:
    """A node cannot stand in for itself: standby_for equal to health.listen is an error."""
    message = _error(tmp_path, "  standby_for: 127.0.0.1:9573\n")
    assert message.startswith("ami.standby_for: names this node's own health.listen")
