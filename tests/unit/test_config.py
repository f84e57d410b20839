"""Configuration: valid files become frozen settings; every error names file, line and key."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest
import structlog
import structlog.testing
from gatekeeper.common.clock import BRUSSELS as LEGAL_TIMEZONE
from gatekeeper.common.clock import today as legal_today
from gatekeeper.common.errors import ConfigError
from gatekeeper.config import MAX_CONFIG_BYTES, LiveSettings, Settings, config_path, load_settings
from gatekeeper.config.licence import licence_warning, log_licence_state
from gatekeeper.config.settings import LicenseeRole, config_fingerprint, read_data_dir
from gatekeeper.rules.policy import ForeignPolicy, Purpose

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "gatekeeper.yaml"

VALID = """\
licensee:
  name: Example Contact NV
  role: service_provider
  licence_valid_until: 2027-06-30
data_dir: data
agi: {listen: "127.0.0.1:4573"}
ami: {host: 127.0.0.1, port: 5038, username: gatekeeper, secret_file: ami.secret}
dncm:
  source: {file: inbox/dncm.txt}
  max_age_days: 5
advertisers:
  acme: {name: ACME Energy BV}
campaigns:
  spring-promo: {purpose: commercial, advertiser: acme, foreign_numbers: block}
  delivery-notice: {purpose: informational, advertiser: acme}
"""


def write(tmp_path: Path, text: str, name: str = "gatekeeper.yaml") -> Path:
    """Write a config file into the test's folder."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_loads() -> None:
    """The shipped example config is valid and names the example licensee and campaigns."""
    settings = load_settings(EXAMPLE)
    assert settings.licensee.name == "Example Contact NV"
    assert settings.licensee.role is LicenseeRole.SERVICE_PROVIDER
    assert settings.licensee.licence_valid_until == date(2027, 6, 30)
    assert settings.data_dir == Path("/var/lib/gatekeeper")
    assert set(settings.advertisers) == {"acme"}
    assert settings.campaigns["spring-promo"].foreign_numbers is ForeignPolicy.BLOCK
    assert settings.campaigns["delivery-notice"].purpose is Purpose.INFORMATIONAL


def test_valid_config_becomes_typed_settings(tmp_path: Path) -> None:
    """A valid file gives typed values, relative paths resolved against the file's folder."""
    settings = load_settings(write(tmp_path, VALID))
    assert settings.data_dir == tmp_path / "data"
    assert settings.ami.secret_file == tmp_path / "ami.secret"
    assert settings.dncm.source_file == tmp_path / "inbox" / "dncm.txt"
    assert str(settings.agi) == "127.0.0.1:4573"
    assert settings.campaigns["spring-promo"].advertiser == "acme"


def test_settings_are_frozen(tmp_path: Path) -> None:
    """Settings cannot be changed after loading, neither fields nor campaign tables."""
    settings = load_settings(write(tmp_path, VALID))
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.data_dir = tmp_path  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.campaigns["x"] = settings.campaigns["spring-promo"]  # type: ignore[index]


def test_optional_sections_take_defaults(tmp_path: Path) -> None:
    """Only licensee and data_dir are required; the rest has defaults."""
    text = "\n".join(VALID.splitlines()[:5]) + "\nami:\n"
    settings = load_settings(write(tmp_path, text))
    assert settings.agi.port == 4573
    assert settings.ami.port == 5038
    assert settings.dncm.max_age_days == 5
    assert dict(settings.campaigns) == {}


class ErrorCase(NamedTuple):
    """Replace one line of VALID (1-based) and expect an error naming a line and dotted key."""

    name: str
    line_no: int
    replacement: str
    error_line: int
    key: str
    problem: str


ERROR_CASES = [
    ErrorCase("unknown top-level key", 5, "data_dirs: data", 5, "data_dirs", "unknown key"),
    ErrorCase("unknown nested key", 3, "  rol: service_provider", 3, "licensee.rol", "unknown key"),
    ErrorCase(
        "unknown campaign key",
        14,
        "  spring-promo: {purpose: commercial, advertiser: acme, foreign: block}",
        14,
        "campaigns.spring-promo.foreign",
        "unknown key",
    ),
    ErrorCase(
        "bad date",
        4,
        "  licence_valid_until: 2027-02-30",
        4,
        "licensee.licence_valid_until",
        "date",
    ),
    ErrorCase(
        "date in another form",
        4,
        "  licence_valid_until: 30/06/2027",
        4,
        "licensee.licence_valid_until",
        "YYYY-MM-DD",
    ),
    ErrorCase(
        "bad role", 3, "  role: reseller", 3, "licensee.role", "advertiser, service_provider"
    ),
    ErrorCase("port not a number", 7, "ami: {port: five}", 7, "ami.port", "whole number"),
    ErrorCase("port out of range", 7, "ami: {port: 70000}", 7, "ami.port", "between 1 and 65535"),
    ErrorCase(
        "max age too long", 10, "  max_age_days: 6", 10, "dncm.max_age_days", "between 1 and 5"
    ),
    ErrorCase("max age a list", 10, "  max_age_days: [5]", 10, "dncm.max_age_days", "single value"),
    ErrorCase("section not a mapping", 6, "agi: 4573", 6, "agi", "expected a mapping"),
    ErrorCase("bad listen address", 6, 'agi: {listen: "host:port"}', 6, "agi.listen", "HOST:PORT"),
    ErrorCase(
        "campaign with unknown advertiser",
        15,
        "  delivery-notice: {purpose: informational, advertiser: acne}",
        15,
        "campaigns.delivery-notice.advertiser",
        "unknown advertiser 'acne'",
    ),
    ErrorCase(
        "bad purpose",
        15,
        "  delivery-notice: {purpose: info, advertiser: acme}",
        15,
        "campaigns.delivery-notice.purpose",
        "commercial, informational",
    ),
    ErrorCase(
        "bad foreign policy",
        14,
        "  spring-promo: {purpose: commercial, advertiser: acme, foreign_numbers: maybe}",
        14,
        "campaigns.spring-promo.foreign_numbers",
        "allow, block",
    ),
    ErrorCase(
        "strip prefix not digits",
        14,
        "  spring-promo: {purpose: commercial, advertiser: acme, strip_prefix: x}",
        14,
        "campaigns.spring-promo.strip_prefix",
        "digits",
    ),
    ErrorCase(
        "campaign missing purpose",
        15,
        "  delivery-notice: {advertiser: acme}",
        15,
        "campaigns.delivery-notice",
        "missing key campaigns.delivery-notice.purpose",
    ),
    ErrorCase(
        "campaign name with a comma",
        15,
        "  'delivery,notice': {purpose: informational, advertiser: acme}",
        15,
        "campaigns.delivery,notice",
        "a name is",
    ),
    ErrorCase(
        "campaign named twice",
        15,
        "  spring-promo: {purpose: informational, advertiser: acme}",
        15,
        "campaigns.spring-promo",
        "name given twice",
    ),
    ErrorCase("empty licensee name", 2, "  name: ''", 2, "licensee.name", "must not be empty"),
    ErrorCase("null licensee name", 2, "  name: null", 2, "licensee.name", "must have a value"),
    ErrorCase("advertiser without name", 12, "  acme: {}", 12, "advertisers.acme", "missing key"),
    ErrorCase(
        "key given twice", 10, "  source: {file: other.txt}", 10, "dncm.source", "key given twice"
    ),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=[case.name for case in ERROR_CASES])
def test_error_names_file_line_and_key(tmp_path: Path, case: ErrorCase) -> None:
    """A bad value is reported as `file:line: dotted.key: problem`."""
    lines = VALID.splitlines()
    lines[case.line_no - 1] = case.replacement
    path = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{case.error_line}: {case.key}: "), message
    assert case.problem in message


def test_disk_limits_are_read(tmp_path: Path) -> None:
    """audit.disk_* give the free-space limits of the data folder's filesystem."""
    text = VALID + "audit:\n  disk_warn_free_mib: 2048\n  disk_warn_free_percent: 10\n"
    audit = load_settings(write(tmp_path, text + "  disk_fail_free_mib: 200\n")).audit
    assert (audit.disk_warn_free_mib, audit.disk_warn_free_percent, audit.disk_fail_free_mib) == (
        2048,
        10,
        200,
    )


def test_disk_fail_limit_above_warning_limit_is_refused(tmp_path: Path) -> None:
    """A failing limit above the warning limit is refused at its own line and key."""
    text = VALID + "audit:\n  disk_warn_free_mib: 100\n  disk_fail_free_mib: 200\n"
    path = write(tmp_path, text)
    line = len(VALID.splitlines()) + 3
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value).startswith(f"{path}:{line}: audit.disk_fail_free_mib: must not")


def test_missing_required_key_names_it(tmp_path: Path) -> None:
    """A missing required top-level key is named."""
    path = write(tmp_path, "\n".join(VALID.splitlines()[:4]) + "\n")
    with pytest.raises(ConfigError, match=r":1: \(top level\): missing key data_dir"):
        load_settings(path)


def test_both_sources_refused(tmp_path: Path) -> None:
    """dncm.source takes exactly one of file or sftp."""
    text = VALID.replace(
        "{file: inbox/dncm.txt}",
        "{file: a.txt, sftp: {host: h, user: u, key_file: k, path: p}}",
    )
    with pytest.raises(ConfigError, match=r":9: dncm.source: give exactly one"):
        load_settings(write(tmp_path, text))


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    """A YAML syntax error is reported with its line."""
    path = write(tmp_path, VALID.replace("role: service_provider", "role: [unclosed"))
    with pytest.raises(ConfigError, match=rf"^{path}:\d+: not valid YAML"):
        load_settings(path)


def test_empty_file_refused(tmp_path: Path) -> None:
    """An empty file is refused, not read as an empty configuration."""
    with pytest.raises(ConfigError, match="configuration is empty"):
        load_settings(write(tmp_path, "# nothing\n"))


def test_missing_file_refused(tmp_path: Path) -> None:
    """A file that cannot be read is refused with its path."""
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_settings(tmp_path / "absent.yaml")


def test_non_utf8_file_refused(tmp_path: Path) -> None:
    """A file that is not UTF-8 is refused."""
    path = tmp_path / "latin1.yaml"
    path.write_bytes(VALID.replace("Example", "Exempl\xe9").encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(path)


def test_config_path_prefers_explicit(monkeypatch: pytest.MonkeyPatch) -> None:
    """-c PATH wins over $GATEKEEPER_CONFIG."""
    monkeypatch.setenv("GATEKEEPER_CONFIG", "/from/env.yaml")
    assert config_path("/explicit.yaml") == Path("/explicit.yaml")
    assert config_path(None) == Path("/from/env.yaml")


def test_config_path_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without -c or $GATEKEEPER_CONFIG the system path is used."""
    monkeypatch.delenv("GATEKEEPER_CONFIG", raising=False)
    assert config_path(None) == Path("/etc/gatekeeper/gatekeeper.yaml")


def test_legal_today_is_brussels_date() -> None:
    """Just after midnight in Brussels it is already the next day there, not yet in UTC."""
    assert legal_today(datetime(2026, 6, 14, 22, 30, tzinfo=UTC)) == date(2026, 6, 15)
    assert legal_today(datetime(2026, 12, 14, 22, 30, tzinfo=UTC)) == date(2026, 12, 14)


def test_brussels_zone_has_summer_time() -> None:
    """The zone data is real: Brussels is UTC+2 in summer and UTC+1 in winter."""
    summer = datetime(2026, 7, 1, 12, tzinfo=LEGAL_TIMEZONE).utcoffset()
    winter = datetime(2026, 1, 1, 12, tzinfo=LEGAL_TIMEZONE).utcoffset()
    assert (summer, winter) == (timedelta(hours=2), timedelta(hours=1))


LICENCE_CASES = [
    (date(2027, 5, 30), None),
    (date(2027, 5, 31), "in 30 days"),
    (date(2027, 6, 29), "in 1 day)"),
    (date(2027, 6, 30), "(today)"),
    (date(2027, 7, 1), "ended on 2027-06-30"),
]


@pytest.mark.parametrize(("today", "expected"), LICENCE_CASES, ids=str)
def test_licence_warning(tmp_path: Path, today: date, expected: str | None) -> None:
    """Warnings start 30 days before the licence ends and turn into an expiry notice after."""
    warning = licence_warning(load_settings(write(tmp_path, VALID)), today)
    if expected is None:
        assert warning is None
    else:
        assert warning is not None
        assert expected in warning


# --- Live reload -------------------------------------------------------------------------------


def version_text(version: int) -> str:
    """A valid config whose every part carries the version, to detect a mixed state."""
    return (
        VALID.replace("Example Contact NV", f"Licensee {version}")
        .replace("acme", f"adv{version}")
        .replace("spring-promo", f"promo{version}")
    )


def version_of(settings: Settings) -> int:
    """The version all parts of a settings object agree on; fails on a mix."""
    version = int(settings.licensee.name.removeprefix("Licensee "))
    assert set(settings.advertisers) == {f"adv{version}"}
    assert f"promo{version}" in settings.campaigns
    assert all(c.advertiser == f"adv{version}" for c in settings.campaigns.values())
    return version


def test_reload_takes_a_good_file(tmp_path: Path) -> None:
    """A reload of a changed valid file swaps in the new settings and says so."""
    path = write(tmp_path, version_text(1))
    live = LiveSettings(path)
    write(tmp_path, version_text(2))
    assert live.reload() is True
    assert version_of(live.current()) == 2


def test_reload_of_unchanged_file_reports_no_change(tmp_path: Path) -> None:
    """A reload of the same content keeps the settings object."""
    path = write(tmp_path, version_text(1))
    live = LiveSettings(path)
    before = live.current()
    assert live.reload() is False
    assert live.current() is before


def test_reload_refuses_a_broken_file(tmp_path: Path) -> None:
    """A broken file is refused, logged, and the running settings stay."""
    path = write(tmp_path, version_text(1))
    live = LiveSettings(path)
    before = live.current()
    write(tmp_path, version_text(2).replace("service_provider", "reseller"))
    with structlog.testing.capture_logs() as logs:
        assert live.reload() is False
    assert live.current() is before
    assert [e["event"] for e in logs] == ["config_reload_refused"]


def test_live_settings_refuse_a_broken_file_at_start(tmp_path: Path) -> None:
    """Starting with a broken file fails: there is nothing to fall back to."""
    with pytest.raises(ConfigError):
        LiveSettings(write(tmp_path, "licensee: {}\n"))


def test_call_in_flight_keeps_its_settings(tmp_path: Path) -> None:
    """A caller holding current() keeps deciding with that object after a reload."""
    path = write(tmp_path, version_text(1))
    live = LiveSettings(path)
    in_flight = live.current()
    write(tmp_path, version_text(2))
    live.reload()
    assert version_of(in_flight) == 1
    assert version_of(live.current()) == 2


def test_concurrent_readers_never_see_a_half_state(tmp_path: Path) -> None:
    """Readers racing reloads of good and broken files only ever see one whole version."""
    path = write(tmp_path, version_text(0))
    live = LiveSettings(path)
    stop = threading.Event()
    seen: set[int] = set()
    failures: list[BaseException] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                seen.add(version_of(live.current()))
            except BaseException as err:  # noqa: BLE001 - collected and re-raised by the test
                failures.append(err)
                return
            time.sleep(0)

    readers = [threading.Thread(target=reader) for _ in range(4)]
    for thread in readers:
        thread.start()
    try:
        for version in range(1, 41):
            broken = version % 3 == 0
            text = "licensee: [broken\n" if broken else version_text(version)
            tmp = write(tmp_path, text, "next.yaml")
            tmp.replace(path)
            assert live.reload() is not broken
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    assert failures == []
    assert version_of(live.current()) == 40
    assert seen
    assert seen <= set(range(41))


def test_licence_state_is_logged(tmp_path: Path) -> None:
    """log_licence_state logs the warning when one is due and returns it."""
    settings = load_settings(write(tmp_path, VALID))
    with structlog.testing.capture_logs() as logs:
        warning = log_licence_state(settings, date(2027, 6, 20))
    assert warning is not None
    assert [e["event"] for e in logs] == ["licence_warning"]


def test_licence_state_quiet_when_far(tmp_path: Path) -> None:
    """log_licence_state logs nothing while the licence's end is more than 30 days away."""
    settings = load_settings(write(tmp_path, VALID))
    with structlog.testing.capture_logs() as logs:
        assert log_licence_state(settings, date(2026, 1, 1)) is None
    assert logs == []


def test_deep_nesting_is_a_config_error(tmp_path: Path) -> None:
    """A YAML nested 1,000 levels deep is a ConfigError naming the limit, not a RecursionError."""
    path = write(tmp_path, VALID + "health: " + "[" * 1000 + "]" * 1000 + "\n")
    with pytest.raises(ConfigError, match=rf"^{path}:\d+: not valid YAML: nested deeper than 32"):
        load_settings(path)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('"127.0.0.1:4573"', '"127.0.0.1:4\u00b273"', "agi.listen"),
        ('"127.0.0.1:4573"', '"127.0.0.1:\u0664\u0665\u0667\u0663"', "agi.listen"),
        ("max_age_days: 5", "max_age_days: '\u0665'", "dncm.max_age_days"),
        ("port: 5038", "port: '\uff15\uff10\uff13\uff18'", "ami.port"),
    ],
)
def test_only_ascii_digits_are_numbers(tmp_path: Path, old: str, new: str, key: str) -> None:
    """A number written with superscript, Arabic-Indic or full-width digits is refused by key."""
    path = write(tmp_path, VALID.replace(old, new))
    with pytest.raises(ConfigError, match=rf"^{path}:\d+: {key}: expected"):
        load_settings(path)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("{name: ACME Energy BV}", '{name: "ACME\\0 Energy"}', "advertisers.acme.name"),
        ("name: Example Contact NV", 'name: "Example\\e[2J NV"', "licensee.name"),
        ("username: gatekeeper", 'username: "gate\\u202ekeeper"', "ami.username"),
        ("data_dir: data", 'data_dir: "da\\tta"', "data_dir"),
    ],
)
def test_control_characters_in_text_are_refused(
    tmp_path: Path, old: str, new: str, key: str
) -> None:
    """A NUL, an escape, a direction override or a tab in a text setting is refused by key."""
    path = write(tmp_path, VALID.replace(old, new))
    with pytest.raises(ConfigError, match=rf"^{path}:\d+: {key}: must not hold control"):
        load_settings(path)


def test_control_characters_in_a_key_are_not_echoed(tmp_path: Path) -> None:
    """An unknown key holding an escape sequence is named in the error with the escape quoted."""
    path = write(tmp_path, VALID + '"bad\\e[2Jkey": 1\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert "\x1b" not in str(caught.value)
    assert "bad\\x1b[2Jkey: unknown key" in str(caught.value)


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    """A file over MAX_CONFIG_BYTES is refused with the limit named, before it is parsed."""
    path = write(tmp_path, VALID + "#" * MAX_CONFIG_BYTES + "\n")
    with pytest.raises(
        ConfigError, match=rf"^{path}: configuration larger than {MAX_CONFIG_BYTES}"
    ):
        load_settings(path)


def test_a_pipe_is_refused_without_waiting(tmp_path: Path) -> None:
    """A FIFO given as the configuration is refused at once instead of waiting for a writer."""
    path = tmp_path / "gatekeeper.yaml"
    os.mkfifo(path)
    with pytest.raises(ConfigError, match="is a pipe, not a regular file"):
        load_settings(path)


def test_fingerprint_is_of_the_bytes_loaded(tmp_path: Path) -> None:
    """The sha256 is of the file's bytes as stored: CRLF line ends are not translated first."""
    path = tmp_path / "gatekeeper.yaml"
    path.write_bytes(VALID.replace("\n", "\r\n").encode())
    settings = load_settings(path)
    assert settings.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert settings.sha256 == config_fingerprint(path.read_bytes())


def test_reload_of_a_comment_carries_the_new_fingerprint(tmp_path: Path) -> None:
    """A reload where only a comment changed reports no change but holds the new file's sha256."""
    path = write(tmp_path, VALID)
    live = LiveSettings(path)
    write(tmp_path, VALID + "# reviewed\n")
    assert live.reload() is False
    assert live.current().sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_reload_refuses_any_exception_from_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loader bug (any Exception) is a refused reload: the running settings stay."""
    path = write(tmp_path, VALID)
    live = LiveSettings(path)
    before = live.current()

    def broken(_: Path) -> Settings:
        raise LookupError("loader bug")

    monkeypatch.setattr("gatekeeper.config.live.load_settings", broken)
    with structlog.testing.capture_logs() as logs:
        assert live.reload() is False
    assert live.current() is before
    assert "loader bug" in (live.last_reload_error or "")
    assert "config_reload_refused" in [e["event"] for e in logs]


def test_data_dir_is_read_from_an_otherwise_invalid_file(tmp_path: Path) -> None:
    """read_data_dir finds data_dir, resolved, in a file that load_settings refuses."""
    path = write(tmp_path, VALID.replace("acme: {name", "acme: {nom"))
    with pytest.raises(ConfigError):
        load_settings(path)
    assert read_data_dir(path) == tmp_path / "data"
