"""`node`, `acts.postgresql` and `central_log.postgresql`: read, and refused with the key named."""

from __future__ import annotations

from pathlib import Path

import pytest
from gatekeeper.common.errors import ConfigError
from gatekeeper.config import PostgresSettings, load_settings

BASE = """\
licensee: {name: Example Contact NV, role: service_provider, licence_valid_until: 2027-06-30}
data_dir: data
"""


def settings_of(tmp_path: Path, extra: str) -> Path:
    """A config file: the minimal one plus `extra`."""
    path = tmp_path / "gatekeeper.yaml"
    path.write_text(BASE + extra, encoding="utf-8")
    return path


def test_shared_stores_are_read(tmp_path: Path) -> None:
    """The DSN is kept as written, the password file resolved beside the config."""
    path = settings_of(
        tmp_path,
        "node: pbx-a\n"
        "acts: {postgresql: 'host=db dbname=gk user=pbx-a', password_file: pg.secret,"
        " max_lag_ms: 500}\n"
        "central_log: {postgresql: 'postgresql://pbx-a@db/gk'}\n",
    )
    settings = load_settings(path)
    assert settings.node == "pbx-a"
    assert settings.acts_postgres == PostgresSettings(
        "host=db dbname=gk user=pbx-a", tmp_path / "pg.secret", 500
    )
    assert settings.central_log == PostgresSettings("postgresql://pbx-a@db/gk")


def test_sqlite_stays_the_default(tmp_path: Path) -> None:
    """Without the sections, no PostgreSQL is used at all."""
    settings = load_settings(settings_of(tmp_path, ""))
    assert (settings.node, settings.acts_postgres, settings.central_log) == (None, None, None)


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (
            "node: a\nacts: {postgresql: 'host=db password=hunter2'}\n",
            r":4: acts.postgresql: the DSN carries a password: put it in password_file",
        ),
        (
            "node: a\ncentral_log: {postgresql: 'postgresql://a:hunter2@db/gk'}\n",
            r":4: central_log.postgresql: the DSN carries a password",
        ),
        ("node: a\nacts: {postgresql: 'host=db hunter2'}\n", r":4: acts.postgresql: not a"),
        (
            "node: a\nacts: {postgresql: 'host=db sslpassword=hunter2'}\n",
            r":4: acts.postgresql: the DSN carries a password",
        ),
        ("acts: {postgresql: 'host=db'}\n", r":3: acts: a PostgreSQL store needs `node`"),
        (
            "node: a\ncentral_log: {postgresql: x, max_lag_ms: 5}\n",
            r"central_log.max_lag_ms: unknown key",
        ),
        ("node: 'a b'\n", r":3: node: expected letters"),
    ],
)
def test_bad_shared_store_settings_are_refused(tmp_path: Path, extra: str, problem: str) -> None:
    """A password in the DSN, a bad DSN or a missing node name is refused, its key named."""
    with pytest.raises(ConfigError, match=problem) as caught:
        load_settings(settings_of(tmp_path, extra))
    assert "hunter2" not in str(caught.value)
