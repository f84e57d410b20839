"""The `console` section of the configuration and the cookies it governs."""

from __future__ import annotations

from pathlib import Path

import pytest
from gatekeeper.common.errors import ConfigError
from gatekeeper.config import ConsoleSettings, Endpoint, load_settings
from gatekeeper.console.security import set_cookie
from starlette.responses import Response

BASE = """\
licensee: {name: Example Contact NV, role: service_provider, licence_valid_until: 2027-06-30}
data_dir: data
"""


def _load(tmp_path: Path, text: str) -> ConsoleSettings:
    path = tmp_path / "gatekeeper.yaml"
    path.write_text(BASE + text, encoding="utf-8")
    return load_settings(path).console


def test_defaults_are_loopback_and_secure_cookies(tmp_path: Path) -> None:
    """Without a console section it listens on 127.0.0.1:9580 with Secure cookies."""
    console = _load(tmp_path, "")
    assert (console.listen, console.secure_cookies, console.lockout_failures) == (
        Endpoint("127.0.0.1", 9580),
        True,
        10,
    )


def test_section_is_read(tmp_path: Path) -> None:
    """Each key of the section is read."""
    console = _load(
        tmp_path,
        "console: {listen: '127.0.0.1:8080', secure_cookies: false, session_idle_minutes: 5,"
        " lockout_failures: 3, lockout_minutes: 60}\n",
    )
    assert console == ConsoleSettings(
        Endpoint("127.0.0.1", 8080),
        secure_cookies=False,
        session_idle_minutes=5,
        lockout_failures=3,
        lockout_minutes=60,
    )


def test_unknown_key_is_named(tmp_path: Path) -> None:
    """A typo in the section is an error naming the dotted key's place."""
    with pytest.raises(ConfigError, match=r":3: console.secure_cookie: unknown key"):
        _load(tmp_path, "console: {listen: '127.0.0.1:8080', secure_cookie: false}\n")


@pytest.mark.parametrize(("secure", "expected"), [(True, True), (False, False)])
def test_session_cookie_flags(secure: bool, expected: bool) -> None:
    """Cookies are HttpOnly and SameSite=Strict, and Secure unless the config says not."""
    response = Response()
    set_cookie(response, "gk_session", "token", secure=secure)
    header = response.headers["set-cookie"]
    assert ("HttpOnly" in header, "SameSite=strict" in header, "Secure" in header) == (
        True,
        True,
        expected,
    )


def test_plain_cookies_only_on_loopback(tmp_path: Path) -> None:
    """Cookies without Secure are refused when the console listens beyond loopback."""
    with pytest.raises(ConfigError, match=r"console.secure_cookies: false only with a loopback"):
        _load(tmp_path, "console: {listen: '10.0.0.5:9580', secure_cookies: false}\n")


def test_proxy_header_and_central_log_are_read(tmp_path: Path) -> None:
    """The proxy header (lower-cased), its trusted networks and the central store are read."""
    console = _load(
        tmp_path,
        "console:\n  proxy_user_header: X-Remote-User\n  trusted_proxies: [10.0.0.5, 10.1.0.0/16]\n"
        "  central_log: {postgresql: 'host=db dbname=gatekeeper user=officer'}\n",
    )
    assert console.proxy_user_header == "x-remote-user"
    assert [str(n) for n in console.trusted_proxies] == ["10.0.0.5/32", "10.1.0.0/16"]
    assert console.central_log is not None
    assert console.central_log.dsn == "host=db dbname=gatekeeper user=officer"


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("  proxy_user_header: X-Remote-User\n", r":4: console: console\.trusted_proxies must"),
        ("  trusted_proxies: [10.0.0.5]\n", r":4: console\.trusted_proxies: is used only with"),
        (
            "  proxy_user_header: 'X User'\n  trusted_proxies: [10.0.0.5]\n",
            r":4: console\.proxy_user_header: expected a header name",
        ),
        (
            "  proxy_user_header: Cookie\n  trusted_proxies: [10.0.0.5]\n",
            r":4: console\.proxy_user_header: expected a header name",
        ),
        (
            "  proxy_user_header: X-User\n  trusted_proxies: [not-an-address]\n",
            r":5: console\.trusted_proxies: expected an address or CIDR block",
        ),
        (
            "  central_log: {postgresql: 'host=db password=x'}\n",
            r":4: console\.central_log\.postgresql: the DSN carries a password",
        ),
    ],
)
def test_proxy_and_central_errors_name_the_key(tmp_path: Path, section: str, expected: str) -> None:
    """A bad proxy header, trusted network or central DSN is refused naming its dotted key."""
    with pytest.raises(ConfigError, match=expected):
        _load(tmp_path, "console:\n" + section)
