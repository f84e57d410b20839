"""YAML configuration to frozen, typed settings; every error names the dotted key and file line.

Theory of operation: the file is composed into YAML nodes (which keep their line numbers), then
walked by small typed readers. Each reader knows the dotted path of what it reads, so an unknown
key, a wrong type or a bad value is reported as `file:line: key.path: problem`. Relative paths
are resolved against the config file's folder, so a config and its data can travel together.

The file is read once, bounded in size (`MAX_CONFIG_BYTES`) and nesting (`MAX_YAML_DEPTH`); its
fingerprint (`config_fingerprint`) is the sha256 of exactly those bytes, and every record that
names a configuration uses it. A running service holds its settings in `LiveSettings` (live.py).

Dates and times are Belgian civil time (`gatekeeper.common.clock`).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import ipaddress
import os
import pwd
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

import psycopg
import yaml
from psycopg.conninfo import conninfo_to_dict

from gatekeeper.agi import (
    DEFAULT_AGI_PORT,
    MAX_CONNECTIONS,
    MAX_CONNECTIONS_PER_PEER,
    AgiSettings,
    Network,
    is_loopback,
)
from gatekeeper.ami import PEER_HEALTH_PATH, AmiSettings, BypassAction, PeerHealth, StandbySettings
from gatekeeper.audit import (
    DEFAULT_DISK_FAIL_FREE_MIB,
    DEFAULT_DISK_WARN_FREE_MIB,
    DEFAULT_DISK_WARN_FREE_PERCENT,
    DEFAULT_RETENTION_DAYS,
    MAX_DISK_LIMIT_MIB,
    AuditSettings,
)
from gatekeeper.common import ConfigError
from gatekeeper.dncm import (
    DEFAULT_MAX_AGE_DAYS,
    DEFAULT_MAX_SHRINK_PERCENT,
    MAX_AGE_DAYS_LIMIT,
    DateFormat,
    DncmSettings,
    Encoding,
    FieldOrder,
    LayoutPin,
    NotRegularFileError,
    Separator,
    SftpSource,
    open_regular,
)
from gatekeeper.rules import Campaign, ForeignPolicy, Purpose

DEFAULT_CONFIG_PATH = Path("/etc/gatekeeper/gatekeeper.yaml")
CONFIG_ENV_VAR = "GATEKEEPER_CONFIG"
DEFAULT_HEALTH_PORT = 9573
"""DNCM asks licensees to fetch the list at least every 5 days: an older copy is not compliant."""
_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_YAML_NULL_TAG = "tag:yaml.org,2002:null"
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")
_PORT = re.compile(r"[0-9]{1,5}")
_AMI_KEYS = {
    "host",
    "port",
    "username",
    "secret_file",
    "gated_contexts",
    "on_bypass",
    "standby_for",
    "standby_probe",
}
_DIGITS = re.compile(r"[0-9]+")
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
MAX_CONFIG_BYTES = 64 * 1024
"""A configuration is a few kilobytes; a bigger file is refused unparsed: a reload stays short."""
MAX_YAML_DEPTH = 32
"""The deepest nesting of mappings and lists a configuration may have (it needs five)."""
DEFAULT_MAX_LAG_MS = 1000
_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
_RESERVED_HEADERS = frozenset(
    {"host", "cookie", "authorization", "content-type", "content-length", "x-forwarded-for"}
)

E = TypeVar("E", bound=enum.Enum)
T = TypeVar("T")


class LicenseeRole(enum.StrEnum):
    """Who holds the DNCM licence."""

    ADVERTISER = "advertiser"
    SERVICE_PROVIDER = "service_provider"


@dataclass(frozen=True, slots=True)
class Licensee:
    """The licence under which the list is consulted."""

    name: str
    role: LicenseeRole
    licence_valid_until: date


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A host and port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


DEFAULT_HEALTH_LISTEN = Endpoint("127.0.0.1", DEFAULT_HEALTH_PORT)
DEFAULT_CONSOLE_PORT = 9580


@dataclass(frozen=True, slots=True)
class PostgresSettings:
    """A shared PostgreSQL database: a DSN without password, the password in its own file."""

    dsn: str
    password_file: Path | None = None
    max_lag_ms: int = DEFAULT_MAX_LAG_MS
    """Acts only: how old the local replica may be before commercial calls are blocked."""


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """The compliance officers' web console (docs/console.md)."""

    listen: Endpoint = field(default_factory=lambda: Endpoint("127.0.0.1", DEFAULT_CONSOLE_PORT))
    secure_cookies: bool = True
    """Cookies only over HTTPS (the reverse proxy's); false only for plain-HTTP loopback tests."""
    session_idle_minutes: int = 30
    lockout_failures: int = 10
    lockout_minutes: int = 15
    central_log: PostgresSettings | None = None
    """`console.central_log`: read every node's decisions from the central store; None: local."""
    proxy_user_header: str | None = None
    """A header naming the logged-in account, trusted only from `trusted_proxies`; None: off."""
    trusted_proxies: tuple[Network, ...] = ()


@dataclass(frozen=True, slots=True)
class Advertiser:
    """A company on whose behalf calls are made; consents and objections belong to it."""

    key: str
    name: str


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole validated configuration."""

    path: Path
    licensee: Licensee
    data_dir: Path
    agi: AgiSettings
    ami: AmiSettings
    dncm: DncmSettings
    advertisers: Mapping[str, Advertiser] = field(default_factory=lambda: MappingProxyType({}))
    campaigns: Mapping[str, Campaign] = field(default_factory=lambda: MappingProxyType({}))
    audit: AuditSettings = field(default_factory=AuditSettings)
    health: Endpoint = field(default_factory=lambda: DEFAULT_HEALTH_LISTEN)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    officers_group: str | None = None
    """The group that may read reports, exports and scrubbed lists (0640); None: 0600."""
    campaign_aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """A dialler's campaign id or route name → the campaign it stands for (docs/integrations)."""
    default_campaign: str | None = None
    """The campaign of a call that names none; None: such a call is an unknown campaign."""
    node: str | None = None
    """This node's name in shared stores (docs/scaling.md); needed with a PostgreSQL store."""
    acts_postgres: PostgresSettings | None = None
    """`acts.postgresql`: consents and objections shared by every node; None: the SQLite file."""
    central_log: PostgresSettings | None = None
    """`central_log.postgresql`: where `serve` ships the decision log; None: not shipped."""
    sha256: str = field(default="", compare=False)
    """Fingerprint of the file's text, so the decision log can name the exact file in force."""


def config_path(explicit: str | None) -> Path:
    """The config file to use: `-c PATH`, else $GATEKEEPER_CONFIG, else the system default."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(CONFIG_ENV_VAR)
    return Path(from_env) if from_env else DEFAULT_CONFIG_PATH


def load_settings(path: Path) -> Settings:
    """Read and validate the configuration file; any failure is a ConfigError."""
    data = _read_bounded(path)
    root = _compose(path, data)
    try:
        settings = _Reader(path).settings(_Node(root, ""))
    except RecursionError as err:
        raise ConfigError(f"{path}: configuration nested too deeply") from err
    return dataclasses.replace(settings, sha256=config_fingerprint(data))


def config_fingerprint(data: bytes) -> str:
    """The fingerprint every record gives a configuration: the sha256 of the file's bytes."""
    return hashlib.sha256(data).hexdigest()


def read_data_dir(path: Path) -> Path:
    """Only `data_dir` of a file that may be invalid elsewhere, for commands that just read data."""
    root = _Node(_compose(path, _read_bounded(path)), "")
    reader = _Reader(path)
    if not isinstance(root.node, yaml.MappingNode):
        raise reader.fail(root, "expected a mapping")
    for key_node, value_node in root.node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == "data_dir":
            return reader.local_path(_Node(value_node, "data_dir"))
    raise reader.fail(root, "missing key data_dir")


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, refusing what is not a regular file or is over MAX_CONFIG_BYTES."""
    try:
        with open_regular(path) as stream:
            data = stream.read(MAX_CONFIG_BYTES + 1)
    except NotRegularFileError as err:
        raise ConfigError(f"{path}: cannot read configuration: {err}") from err
    except OSError as err:
        raise ConfigError(f"{path}: cannot read configuration: {err.strerror}") from err
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path}: configuration larger than {MAX_CONFIG_BYTES} bytes (the limit): refused"
        )
    return data


def _compose(path: Path, data: bytes) -> yaml.Node:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ConfigError(f"{path}:{line}: configuration is not UTF-8 text") from err
    try:
        root = yaml.compose(text, Loader=_DepthBoundLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{where}: not valid YAML: {problem}") from err
    except (RecursionError, ValueError) as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if root is None:
        raise ConfigError(f"{path}: configuration is empty")
    return root


class _DepthBoundLoader(yaml.SafeLoader):
    """The safe loader, refusing mappings and lists nested deeper than MAX_YAML_DEPTH."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    problem=f"nested deeper than {MAX_YAML_DEPTH} levels",
                    problem_mark=self.get_mark(),
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Node:
    """A YAML node with its dotted path."""

    def __init__(self, node: yaml.Node, dotted: str) -> None:
        self.node = node
        self.dotted = dotted

    @property
    def line(self) -> int:
        return self.node.start_mark.line + 1


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.base = path.parent

    def fail(self, node: _Node, problem: str) -> ConfigError:
        key = node.dotted or "(top level)"
        if not key.isprintable():
            key = repr(key)[1:-1]
        return ConfigError(f"{self.path}:{node.line}: {key}: {problem}")

    def mapping(self, node: _Node, allowed: set[str], required: set[str]) -> dict[str, _Node]:
        if not isinstance(node.node, yaml.MappingNode):
            raise self.fail(node, "expected a mapping")
        found: dict[str, _Node] = {}
        for key_node, value_node in node.node.value:
            key = self.key(node, key_node)
            child = _Node(value_node, f"{node.dotted}.{key}" if node.dotted else key)
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail(child, f"unknown key (known here: {known})")
            if key in found:
                raise self.fail(child, "key given twice")
            found[key] = child
        missing = sorted(required - found.keys())
        if missing:
            prefix = f"{node.dotted}." if node.dotted else ""
            raise self.fail(node, f"missing key {prefix}{missing[0]}")
        return found

    def key(self, parent: _Node, key_node: yaml.Node) -> str:
        if not isinstance(key_node, yaml.ScalarNode):
            raise self.fail(_Node(key_node, parent.dotted), "a key must be a plain name")
        return str(key_node.value)

    def entries(self, node: _Node) -> list[tuple[str, _Node]]:
        """The named entries of a mapping (advertisers, campaigns); names are identifiers."""
        if not isinstance(node.node, yaml.MappingNode):
            raise self.fail(node, "expected a mapping")
        result: list[tuple[str, _Node]] = []
        seen: set[str] = set()
        for key_node, value_node in node.node.value:
            name = self.key(node, key_node)
            child = _Node(value_node, f"{node.dotted}.{name}")
            if name in seen:
                raise self.fail(child, "name given twice")
            seen.add(name)
            if not _NAME_PATTERN.fullmatch(name):
                raise self.fail(
                    child,
                    "a name is 1 to 64 letters, digits, '_', '.' or '-', not starting with a sign",
                )
            result.append((name, child))
        return result

    def scalar(self, node: _Node) -> str:
        if not isinstance(node.node, yaml.ScalarNode):
            raise self.fail(node, "expected a single value")
        if node.node.tag == _YAML_NULL_TAG:
            raise self.fail(node, "must have a value")
        return str(node.node.value)

    def text(self, node: _Node) -> str:
        value = self.scalar(node).strip()
        if not value:
            raise self.fail(node, "must not be empty")
        if any(unicodedata.category(c) in _CONTROL_CATEGORIES for c in value):
            raise self.fail(node, f"must not hold control characters, got {value!r}")
        return value

    def integer(self, node: _Node, minimum: int, maximum: int) -> int:
        raw = self.scalar(node)
        if not _WHOLE_NUMBER.fullmatch(raw):
            raise self.fail(node, f"expected a whole number (digits 0-9), got {raw!r}")
        value = int(raw)
        if not minimum <= value <= maximum:
            raise self.fail(node, f"must be between {minimum} and {maximum}, got {value}")
        return value

    def day(self, node: _Node) -> date:
        raw = self.scalar(node)
        try:
            return date.fromisoformat(raw)
        except ValueError as err:
            raise self.fail(node, f"expected a date as YYYY-MM-DD, got {raw!r}") from err

    def choice(self, node: _Node, kind: type[E]) -> E:
        raw = self.scalar(node)
        for member in kind:
            if member.value == raw:
                return member
        allowed = ", ".join(str(m.value) for m in kind)
        raise self.fail(node, f"expected one of {allowed}, got {raw!r}")

    def local_path(self, node: _Node) -> Path:
        path = Path(self.text(node))
        return path if path.is_absolute() else self.base / path

    def endpoint(self, node: _Node, default_port: int) -> Endpoint:
        raw = self.text(node)
        host, sep, port = raw.rpartition(":")
        if not sep:
            return Endpoint(raw, default_port)
        if not _PORT.fullmatch(port) or not 0 < int(port) < 65536:
            raise self.fail(node, f"expected HOST:PORT, got {raw!r}")
        return Endpoint(host.strip("[]") or "127.0.0.1", int(port))

    def settings(self, root: _Node) -> Settings:
        top = self.mapping(
            root,
            {
                "licensee",
                "data_dir",
                "agi",
                "ami",
                "dncm",
                "advertisers",
                "campaigns",
                "audit",
                "health",
                "console",
                "officers_group",
                "default_campaign",
                "node",
                "acts",
                "central_log",
            },
            {"licensee", "data_dir"},
        )
        no_advertisers: dict[str, Advertiser] = {}
        no_campaigns: dict[str, Campaign] = {}
        advertisers = self.optional(top, "advertisers", self.advertisers, no_advertisers)
        campaigns = self.optional(
            top, "campaigns", lambda n: self.campaigns(n, advertisers), no_campaigns
        )
        node, acts, central = self.shared_stores(top)
        ami = self.optional(top, "ami", self.ami, AmiSettings())
        health = self.optional(top, "health", self.health, DEFAULT_HEALTH_LISTEN)
        if ami.standby is not None and (ami.standby.peer.host, ami.standby.peer.port) == (
            health.host,
            health.port,
        ):
            where = self.mapping(top["ami"], _AMI_KEYS, set())["standby_for"]
            raise self.fail(where, f"names this node's own health.listen ({health})")
        return Settings(
            path=self.path,
            licensee=self.licensee(top["licensee"]),
            data_dir=self.local_path(top["data_dir"]),
            agi=self.optional(top, "agi", self.agi, AgiSettings()),
            ami=ami,
            dncm=self.optional(top, "dncm", self.dncm, DncmSettings()),
            advertisers=MappingProxyType(advertisers),
            campaigns=MappingProxyType(campaigns),
            audit=self.optional(top, "audit", self.audit, AuditSettings()),
            health=health,
            console=self.optional(top, "console", self.console, ConsoleSettings()),
            officers_group=self.optional(top, "officers_group", self.text, None),
            campaign_aliases=MappingProxyType(self.campaign_aliases(top.get("campaigns"))),
            default_campaign=self.optional(
                top, "default_campaign", lambda n: self.default_campaign(n, campaigns), None
            ),
            node=node,
            acts_postgres=acts,
            central_log=central,
        )

    def shared_stores(
        self, top: dict[str, _Node]
    ) -> tuple[str | None, PostgresSettings | None, PostgresSettings | None]:
        acts = self.optional(top, "acts", lambda n: self.postgres(n, lag=True), None)
        central = self.optional(top, "central_log", lambda n: self.postgres(n, lag=False), None)
        node = self.optional(top, "node", self.name, None)
        if node is None and (acts is not None or central is not None):
            where = top["acts"] if acts is not None else top["central_log"]
            raise self.fail(where, "a PostgreSQL store needs `node` (this node's name) set")
        return node, acts, central

    def name(self, node: _Node) -> str:
        raw = self.text(node)
        if not _NAME_PATTERN.fullmatch(raw):
            raise self.fail(node, f"expected letters, digits, '_', '.', '-', got {raw!r}")
        return raw

    def postgres(self, node: _Node, *, lag: bool) -> PostgresSettings:
        keys = {"postgresql", "password_file"} | ({"max_lag_ms"} if lag else set())
        found = self.mapping(node, keys, {"postgresql"})
        dsn = self.text(found["postgresql"])
        try:
            params = conninfo_to_dict(dsn)
        except psycopg.Error:
            raise self.fail(
                found["postgresql"],
                "not a PostgreSQL DSN (key=value pairs or a postgresql:// URI)",
            ) from None
        if {"password", "sslpassword"} & params.keys():
            raise self.fail(
                found["postgresql"],
                "the DSN carries a password: put it in password_file instead",
            )
        return PostgresSettings(
            dsn=dsn,
            password_file=self.optional(found, "password_file", self.local_path, None),
            max_lag_ms=self.optional(
                found, "max_lag_ms", lambda n: self.integer(n, 100, 60_000), DEFAULT_MAX_LAG_MS
            ),
        )

    def audit(self, node: _Node) -> AuditSettings:
        keys = {"retention_days", "disk_warn_free_mib", "disk_warn_free_percent"}
        found = self.mapping(node, {*keys, "disk_fail_free_mib"}, set())
        settings = AuditSettings(
            retention_days=self.optional(
                found,
                "retention_days",
                lambda n: self.integer(n, 1, 36500),
                DEFAULT_RETENTION_DAYS,
            ),
            disk_warn_free_mib=self.optional(
                found,
                "disk_warn_free_mib",
                lambda n: self.integer(n, 0, MAX_DISK_LIMIT_MIB),
                DEFAULT_DISK_WARN_FREE_MIB,
            ),
            disk_warn_free_percent=self.optional(
                found,
                "disk_warn_free_percent",
                lambda n: self.integer(n, 0, 99),
                DEFAULT_DISK_WARN_FREE_PERCENT,
            ),
            disk_fail_free_mib=self.optional(
                found,
                "disk_fail_free_mib",
                lambda n: self.integer(n, 0, MAX_DISK_LIMIT_MIB),
                DEFAULT_DISK_FAIL_FREE_MIB,
            ),
        )
        if settings.disk_fail_free_mib > settings.disk_warn_free_mib:
            raise self.fail(
                found.get("disk_fail_free_mib", node),
                f"must not exceed audit.disk_warn_free_mib ({settings.disk_warn_free_mib})",
            )
        return settings

    def optional(
        self, section: dict[str, _Node], key: str, read: Callable[[_Node], T], default: T
    ) -> T:
        node = section.get(key)
        if node is None or node.node.tag == _YAML_NULL_TAG:
            return default
        return read(node)

    def licensee(self, node: _Node) -> Licensee:
        keys = {"name", "role", "licence_valid_until"}
        found = self.mapping(node, keys, keys)
        return Licensee(
            name=self.text(found["name"]),
            role=self.choice(found["role"], LicenseeRole),
            licence_valid_until=self.day(found["licence_valid_until"]),
        )

    def health(self, node: _Node) -> Endpoint:
        found = self.mapping(node, {"listen"}, {"listen"})
        return self.endpoint(found["listen"], DEFAULT_HEALTH_PORT)

    def console(self, node: _Node) -> ConsoleSettings:
        keys = {
            "listen",
            "secure_cookies",
            "session_idle_minutes",
            "lockout_failures",
            "lockout_minutes",
            "central_log",
            "proxy_user_header",
            "trusted_proxies",
        }
        found = self.mapping(node, keys, set())
        default = ConsoleSettings()
        listen = self.optional(
            found, "listen", lambda n: self.endpoint(n, DEFAULT_CONSOLE_PORT), default.listen
        )
        secure = self.optional(found, "secure_cookies", self.boolean, default.secure_cookies)
        if not secure and not is_loopback(listen.host):
            raise self.fail(
                found["secure_cookies"],
                f"false only with a loopback listen address (plain-HTTP tests), not {listen.host}",
            )
        header, proxies = self.proxy_login(node, found)
        return ConsoleSettings(
            listen=listen,
            secure_cookies=secure,
            session_idle_minutes=self.optional(
                found,
                "session_idle_minutes",
                lambda n: self.integer(n, 1, 24 * 60),
                default.session_idle_minutes,
            ),
            lockout_failures=self.optional(
                found, "lockout_failures", lambda n: self.integer(n, 1, 100), 10
            ),
            lockout_minutes=self.optional(
                found, "lockout_minutes", lambda n: self.integer(n, 1, 7 * 24 * 60), 15
            ),
            central_log=self.optional(
                found, "central_log", lambda n: self.postgres(n, lag=False), None
            ),
            proxy_user_header=header,
            trusted_proxies=proxies,
        )

    def proxy_login(
        self, section: _Node, found: dict[str, _Node]
    ) -> tuple[str | None, tuple[Network, ...]]:
        """`proxy_user_header` and `trusted_proxies`: both or neither; a plain header name."""
        header = self.optional(found, "proxy_user_header", self.text, None)
        no_proxies: tuple[Network, ...] = ()
        proxies = self.optional(found, "trusted_proxies", self.networks, no_proxies)
        if header is not None:
            if not _HEADER_NAME.fullmatch(header) or header.lower() in _RESERVED_HEADERS:
                raise self.fail(
                    found["proxy_user_header"],
                    f"expected a header name of letters, digits and '-' (not {header!r})",
                )
            if not proxies:
                where = found.get("trusted_proxies", section)
                raise self.fail(
                    where,
                    "console.trusted_proxies must list the reverse proxy's addresses when"
                    " console.proxy_user_header is set",
                )
        elif proxies:
            raise self.fail(found["trusted_proxies"], "is used only with console.proxy_user_header")
        return (header.lower() if header else None), proxies

    def agi(self, node: _Node) -> AgiSettings:
        found = self.mapping(
            node,
            {
                "listen",
                "allowed_users",
                "allowed_peers",
                "header_timeout_ms",
                "max_connections",
                "max_connections_per_peer",
            },
            {"listen"},
        )
        listen = self.endpoint(found["listen"], DEFAULT_AGI_PORT)
        defaults = AgiSettings()
        no_peers: tuple[Network, ...] = ()
        allowed_peers = self.optional(found, "allowed_peers", self.networks, no_peers)
        if not is_loopback(listen.host) and not allowed_peers:
            raise self.fail(
                found["listen"],
                f"{listen.host} is not a loopback address: list the addresses Asterisk connects"
                " from in agi.allowed_peers (CIDRs), or listen on 127.0.0.1",
            )
        max_connections = self.optional(
            found, "max_connections", lambda n: self.integer(n, 1, 100_000), MAX_CONNECTIONS
        )
        return AgiSettings(
            host=listen.host,
            port=listen.port,
            allowed_uids=self.optional(found, "allowed_users", self.users, None),
            allowed_peers=allowed_peers,
            header_timeout_ms=self.optional(
                found,
                "header_timeout_ms",
                lambda n: self.integer(n, 50, 60_000),
                defaults.header_timeout_ms,
            ),
            max_connections=max_connections,
            max_connections_per_peer=self.optional(
                found,
                "max_connections_per_peer",
                lambda n: self.integer(n, 1, max_connections),
                min(MAX_CONNECTIONS_PER_PEER, max_connections),
            ),
        )

    def users(self, node: _Node) -> frozenset[int]:
        """User names or numeric uids, resolved to uids now."""
        if not isinstance(node.node, yaml.SequenceNode) or not node.node.value:
            raise self.fail(node, "expected a list of user names or uids")
        uids: set[int] = set()
        for item in node.node.value:
            entry = _Node(item, node.dotted)
            name = self.text(entry)
            if name.isdigit():
                uids.add(int(name))
                continue
            try:
                uids.add(pwd.getpwnam(name).pw_uid)
            except KeyError:
                raise self.fail(entry, f"no such user {name!r} on this host") from None
        return frozenset(uids)

    def networks(self, node: _Node) -> tuple[Network, ...]:
        """Addresses or CIDR blocks."""
        if not isinstance(node.node, yaml.SequenceNode):
            raise self.fail(node, "expected a list of addresses or CIDR blocks")
        networks: list[Network] = []
        for item in node.node.value:
            entry = _Node(item, node.dotted)
            raw = self.text(entry)
            try:
                networks.append(ipaddress.ip_network(raw))
            except ValueError as err:
                raise self.fail(entry, f"expected an address or CIDR block: {err}") from None
        return tuple(networks)

    def ami(self, node: _Node) -> AmiSettings:
        found = self.mapping(
            node,
            _AMI_KEYS,
            set(),
        )
        defaults = AmiSettings()
        no_contexts: tuple[str, ...] = ()
        gated = self.optional(found, "gated_contexts", self.names, no_contexts)
        standby = self.standby(found)
        if standby is not None and not gated:
            raise self.fail(found["standby_for"], "a standby watch needs ami.gated_contexts")
        return AmiSettings(
            host=self.optional(found, "host", self.text, defaults.host),
            port=self.optional(found, "port", lambda n: self.integer(n, 1, 65535), defaults.port),
            username=self.optional(found, "username", self.text, defaults.username),
            secret_file=self.optional(found, "secret_file", self.local_path, None),
            gated_contexts=gated,
            on_bypass=self.optional(
                found, "on_bypass", lambda n: self.choice(n, BypassAction), defaults.on_bypass
            ),
            standby=standby,
        )

    def standby(self, found: dict[str, _Node]) -> StandbySettings | None:
        peer = self.optional(found, "standby_for", self.peer_health, None)
        if peer is None:
            if "standby_probe" in found:
                raise self.fail(found["standby_probe"], "only with ami.standby_for")
            return None
        if "standby_probe" not in found:
            return StandbySettings(peer)
        probe = found["standby_probe"]
        keys = self.mapping(
            probe, {"interval_ms", "timeout_ms", "fail_after", "recover_after"}, set()
        )
        default = StandbySettings(peer)
        interval = self.optional(
            keys, "interval_ms", lambda n: self.integer(n, 100, 10_000), default.interval_ms
        )
        timeout = self.optional(
            keys,
            "timeout_ms",
            lambda n: self.integer(n, 50, 10_000),
            min(default.timeout_ms, interval),
        )
        if timeout > interval:
            raise self.fail(
                keys["timeout_ms"], f"must not exceed standby_probe.interval_ms ({interval})"
            )
        return StandbySettings(
            peer,
            interval_ms=interval,
            timeout_ms=timeout,
            fail_after=self.optional(
                keys, "fail_after", lambda n: self.integer(n, 1, 20), default.fail_after
            ),
            recover_after=self.optional(
                keys, "recover_after", lambda n: self.integer(n, 1, 100), default.recover_after
            ),
        )

    def peer_health(self, node: _Node) -> PeerHealth:
        raw = self.text(node)
        url = raw if "://" in raw else f"http://{raw}"
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
        except ValueError as err:
            raise self.fail(
                node, f"expected http://HOST:PORT/healthz or HOST:PORT: {err}"
            ) from None
        if parts.scheme != "http":
            raise self.fail(
                node, f"only http:// (the peer's health endpoint speaks plain HTTP), got {raw!r}"
            )
        if not parts.hostname or parts.username is not None or parts.password is not None:
            raise self.fail(node, f"expected http://HOST:PORT/healthz or HOST:PORT, got {raw!r}")
        if parts.query or parts.fragment or parts.path not in {"", PEER_HEALTH_PATH}:
            raise self.fail(node, f"the peer is probed at {PEER_HEALTH_PATH} only, got {raw!r}")
        return PeerHealth(parts.hostname, port or DEFAULT_HEALTH_PORT)

    def names(self, node: _Node) -> tuple[str, ...]:
        if not isinstance(node.node, yaml.SequenceNode):
            raise self.fail(node, "expected a list of names")
        return tuple(self.text(_Node(item, node.dotted)) for item in node.node.value)

    def dncm(self, node: _Node) -> DncmSettings:
        found = self.mapping(
            node,
            {"source", "max_age_days", "layout", "max_rejected_lines", "max_shrink_percent"},
            set(),
        )
        source_file: Path | None = None
        sftp: SftpSource | None = None
        drop_folder: Path | None = None
        if "source" in found:
            source = self.mapping(found["source"], {"file", "sftp", "drop_folder"}, set())
            if len(source) != 1:
                raise self.fail(found["source"], "give exactly one of file, drop_folder or sftp")
            source_file = self.optional(source, "file", self.local_path, None)
            sftp = self.optional(source, "sftp", self.sftp, None)
            drop_folder = self.optional(source, "drop_folder", self.local_path, None)
        return DncmSettings(
            source_file=source_file,
            sftp=sftp,
            max_age_days=self.optional(
                found,
                "max_age_days",
                lambda n: self.integer(n, 1, MAX_AGE_DAYS_LIMIT),
                DEFAULT_MAX_AGE_DAYS,
            ),
            drop_folder=drop_folder,
            layout=self.optional(found, "layout", self.layout_pin, LayoutPin()),
            max_rejected_lines=self.optional(
                found, "max_rejected_lines", lambda n: self.integer(n, 0, 10**9), 0
            ),
            max_shrink_percent=self.optional(
                found,
                "max_shrink_percent",
                lambda n: self.integer(n, 0, 100),
                DEFAULT_MAX_SHRINK_PERCENT,
            ),
        )

    def layout_pin(self, node: _Node) -> LayoutPin:
        found = self.mapping(
            node, {"separator", "columns", "date_format", "header", "encoding"}, set()
        )
        return LayoutPin(
            separator=self.optional(found, "separator", lambda n: self.choice(n, Separator), None),
            order=self.optional(found, "columns", lambda n: self.choice(n, FieldOrder), None),
            date_format=self.optional(
                found, "date_format", lambda n: self.choice(n, DateFormat), None
            ),
            header=self.optional(found, "header", self.boolean, None),
            encoding=self.optional(found, "encoding", lambda n: self.choice(n, Encoding), None),
        )

    def boolean(self, node: _Node) -> bool:
        raw = self.scalar(node).lower()
        if raw in {"true", "yes", "on"}:
            return True
        if raw in {"false", "no", "off"}:
            return False
        raise self.fail(node, f"expected true or false, got {raw!r}")

    def sftp(self, node: _Node) -> SftpSource:
        found = self.mapping(
            node,
            {"host", "port", "user", "key_file", "path", "known_hosts"},
            {"host", "user", "key_file", "path"},
        )
        return SftpSource(
            host=self.text(found["host"]),
            port=self.optional(found, "port", lambda n: self.integer(n, 1, 65535), 22),
            user=self.text(found["user"]),
            key_file=self.local_path(found["key_file"]),
            path=self.text(found["path"]),
            known_hosts=self.optional(found, "known_hosts", self.local_path, None),
        )

    def advertisers(self, node: _Node) -> dict[str, Advertiser]:
        result: dict[str, Advertiser] = {}
        for key, value in self.entries(node):
            found = self.mapping(value, {"name"}, {"name"})
            result[key] = Advertiser(key=key, name=self.text(found["name"]))
        return result

    def campaigns(self, node: _Node, advertisers: Mapping[str, Advertiser]) -> dict[str, Campaign]:
        result: dict[str, Campaign] = {}
        for name, value in self.entries(node):
            found = self.mapping(
                value,
                _CAMPAIGN_KEYS,
                {"purpose", "advertiser"},
            )
            advertiser = self.text(found["advertiser"])
            if advertiser not in advertisers:
                raise self.fail(found["advertiser"], f"unknown advertiser {advertiser!r}")
            strip_prefix = self.optional(found, "strip_prefix", self.scalar, "")
            if strip_prefix and not _DIGITS.fullmatch(strip_prefix):
                raise self.fail(found["strip_prefix"], "must be digits, such as 0 or 9")
            result[name] = Campaign(
                name=name,
                purpose=self.choice(found["purpose"], Purpose),
                advertiser=advertiser,
                foreign_numbers=self.optional(
                    found,
                    "foreign_numbers",
                    lambda n: self.choice(n, ForeignPolicy),
                    ForeignPolicy.BLOCK,
                ),
                strip_prefix=strip_prefix,
            )
        return result

    # --- dialler campaign ids (docs/integrations/README.md) ---------------------------------

    def campaign_aliases(self, node: _Node | None) -> dict[str, str]:
        """Every dialler id → its campaign; one id naming two campaigns is an error naming both."""
        if node is None or node.node.tag == _YAML_NULL_TAG:
            return {}
        entries = self.entries(node)
        owner: dict[str, str] = {name: value.dotted for name, value in entries}
        result: dict[str, str] = {}
        for name, value in entries:
            found = self.mapping(value, _CAMPAIGN_KEYS, set())
            if "aliases" not in found:
                continue
            aliases = found["aliases"]
            if not isinstance(aliases.node, yaml.SequenceNode):
                raise self.fail(aliases, "expected a list of dialler campaign ids or route names")
            for item in aliases.node.value:
                alias = self.dialler_id(_Node(item, aliases.dotted))
                if alias == name:
                    continue
                if alias in owner:
                    raise self.fail(
                        _Node(item, aliases.dotted),
                        f"{alias!r} is already {owner[alias]}: one id cannot name two campaigns",
                    )
                owner[alias] = aliases.dotted
                result[alias] = name
        return result

    def dialler_id(self, node: _Node) -> str:
        value = self.text(node)
        if len(value) > _MAX_DIALLER_ID or not value.isprintable() or "," in value:
            raise self.fail(
                node,
                f"an id is 1 to {_MAX_DIALLER_ID} printable characters without a comma, "
                f"got {value!r}",
            )
        return value

    def default_campaign(self, node: _Node, campaigns: Mapping[str, Campaign]) -> str:
        name = self.text(node)
        if name not in campaigns:
            raise self.fail(node, f"unknown campaign {name!r} (it must be a key of campaigns)")
        return name


_CAMPAIGN_KEYS = {"purpose", "advertiser", "foreign_numbers", "strip_prefix", "aliases"}
_MAX_DIALLER_ID = 128
