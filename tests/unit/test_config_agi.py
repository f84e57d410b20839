"""The `agi` section: who may ask, the connection bounds, and a remote listen needing peers."""

from __future__ import annotations

import ipaddress
import pwd
from pathlib import Path

import pytest
from gatekeeper.agi.settings import AgiSettings
from gatekeeper.common.errors import ConfigError
from gatekeeper.config import load_settings

HEAD = """\
licensee: {name: Example Contact NV, role: service_provider, licence_valid_until: 2027-06-30}
data_dir: data
"""


def _load(tmp_path: Path, agi: str) -> AgiSettings:
    path = tmp_path / "gatekeeper.yaml"
    path.write_text(HEAD + agi, encoding="utf-8")
    return load_settings(path).agi


def test_defaults_listen_on_loopback_with_default_users(tmp_path: Path) -> None:
    """Without an agi section: loopback, default users, 0.5 s header bound, caps 1000 / 500."""
    assert _load(tmp_path, "") == AgiSettings(
        host="127.0.0.1",
        port=4573,
        allowed_uids=None,
        allowed_peers=(),
        header_timeout_ms=500,
        max_connections=1000,
        max_connections_per_peer=500,
    )


def test_every_setting_is_read(tmp_path: Path) -> None:
    """Users by name or uid, peers as CIDRs, the header bound and both caps are read."""
    agi = _load(
        tmp_path,
        'agi: {listen: "0.0.0.0:4573", allowed_users: [nobody, 0], allowed_peers: [10.1.2.0/24],'
        " header_timeout_ms: 250, max_connections: 100, max_connections_per_peer: 40}\n",
    )
    assert agi == AgiSettings(
        host="0.0.0.0",
        port=4573,
        allowed_uids=frozenset({0, pwd.getpwnam("nobody").pw_uid}),
        allowed_peers=(ipaddress.ip_network("10.1.2.0/24"),),
        header_timeout_ms=250,
        max_connections=100,
        max_connections_per_peer=40,
    )


@pytest.mark.parametrize(
    ("agi", "message"),
    [
        (
            'agi: {listen: "0.0.0.0:4573"}',
            r":3: agi.listen: 0.0.0.0 is not a loopback address: .* agi.allowed_peers",
        ),
        (
            'agi: {listen: "127.0.0.1:4573", allowed_users: [no-such-user-here]}',
            r":3: agi.allowed_users: no such user 'no-such-user-here' on this host",
        ),
        (
            'agi: {listen: "0.0.0.0:4573", allowed_peers: [10.1.2.3/8]}',
            r":3: agi.allowed_peers: expected an address or CIDR block: .*host bits set",
        ),
        (
            'agi: {listen: "127.0.0.1:4573", max_connections: 10, max_connections_per_peer: 20}',
            r":3: agi.max_connections_per_peer: must be between 1 and 10, got 20",
        ),
        (
            'agi: {listen: "127.0.0.1:4573", header_timeout_ms: 0}',
            r":3: agi.header_timeout_ms: must be between 50 and 60000, got 0",
        ),
    ],
    ids=["remote_listen_without_peers", "unknown_user", "bad_cidr", "peer_cap_over_cap", "zero"],
)
def test_bad_agi_settings_name_the_key(tmp_path: Path, agi: str, message: str) -> None:
    """Each bad agi setting is refused with the file line and the dotted key."""
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, agi + "\n")
