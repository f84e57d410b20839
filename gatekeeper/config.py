"""YAML configuration to frozen, typed settings; every error names the dotted key and file line.

Theory of operation: the file is composed into YAML nodes (which keep their line numbers), then
walked by small typed readers. Each reader knows the dotted path of what it reads, so an unknown
key, a wrong type or a bad value is reported as `file:line: key.path: problem`. Relative paths
are resolved against the config file's folder, so a config and its data can travel together.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

import yaml

from gatekeeper.errors import ConfigError
from gatekeeper.policy import Campaign, ForeignPolicy, Purpose

DEFAULT_CONFIG_PATH = Path("/etc/gatekeeper/gatekeeper.yaml")
CONFIG_ENV_VAR = "GATEKEEPER_CONFIG"
DEFAULT_AGI_PORT = 4573
DEFAULT_AMI_PORT = 5038
DEFAULT_MAX_AGE_DAYS = 5
DEFAULT_HEALTH_PORT = 9573

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


class BypassAction(enum.StrEnum):
    """What the watchdog does with a call that reached a gated context without an ALLOW."""

    HANGUP = "hangup"
    ALERT = "alert"


@dataclass(frozen=True, slots=True)
class AmiSettings:
    """How to reach the Asterisk manager interface, and which contexts it guards."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_AMI_PORT
    username: str = "gatekeeper"
    secret_file: Path | None = None
    gated_contexts: tuple[str, ...] = ()
    on_bypass: BypassAction = BypassAction.HANGUP


DEFAULT_HEALTH_LISTEN = Endpoint("127.0.0.1", DEFAULT_HEALTH_PORT)


@dataclass(frozen=True, slots=True)
class SftpSource:
    """Fetch the list file over sFTP with key authentication."""

    host: str
    port: int
    user: str
    key_file: Path
    path: str
    known_hosts: Path | None = None


@dataclass(frozen=True, slots=True)
class DncmSettings:
    """Where the list comes from and how fresh it must be."""

    source_file: Path | None = None
    sftp: SftpSource | None = None
    max_age_days: int = DEFAULT_MAX_AGE_DAYS


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
    agi: Endpoint
    ami: AmiSettings
    dncm: DncmSettings
    advertisers: Mapping[str, Advertiser] = field(default_factory=lambda: MappingProxyType({}))
    campaigns: Mapping[str, Campaign] = field(default_factory=lambda: MappingProxyType({}))
    health: Endpoint = field(default_factory=lambda: DEFAULT_HEALTH_LISTEN)


def config_path(explicit: str | None) -> Path:
    """The config file to use: `-c PATH`, else $GATEKEEPER_CONFIG, else the system default."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(CONFIG_ENV_VAR)
    return Path(from_env) if from_env else DEFAULT_CONFIG_PATH


def load_settings(path: Path) -> Settings:
    """Read and validate the configuration file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read configuration: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: configuration is not UTF-8 text") from err
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{where}: not valid YAML: {problem}") from err
    if root is None:
        raise ConfigError(f"{path}: configuration is empty")
    return _Reader(path).settings(_Node(root, ""))


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
        return ConfigError(f"{self.path}:{node.line}: {key}: {problem}")

    def mapping(self, node: _Node, allowed: set[str], required: set[str]) -> dict[str, _Node]:
        if not isinstance(node.node, yaml.MappingNode):
            raise self.fail(node, "expected a mapping")
        found: dict[str, _Node] = {}
        for key_node, value_node in node.node.value:
            key = str(key_node.value)
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

    def entries(self, node: _Node) -> list[tuple[str, _Node]]:
        if not isinstance(node.node, yaml.MappingNode):
            raise self.fail(node, "expected a mapping")
        return [(str(k.value), _Node(v, f"{node.dotted}.{k.value}")) for k, v in node.node.value]

    def scalar(self, node: _Node) -> str:
        if not isinstance(node.node, yaml.ScalarNode):
            raise self.fail(node, "expected a single value")
        return str(node.node.value)

    def text(self, node: _Node) -> str:
        value = self.scalar(node).strip()
        if not value:
            raise self.fail(node, "must not be empty")
        return value

    def integer(self, node: _Node, minimum: int, maximum: int) -> int:
        raw = self.scalar(node)
        try:
            value = int(raw)
        except ValueError as err:
            raise self.fail(node, f"expected a whole number, got {raw!r}") from err
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
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise self.fail(node, f"expected HOST:PORT, got {raw!r}")
        return Endpoint(host.strip("[]") or "127.0.0.1", int(port))

    def settings(self, root: _Node) -> Settings:
        top = self.mapping(
            root,
            {"licensee", "data_dir", "agi", "ami", "dncm", "advertisers", "campaigns", "health"},
            {"licensee", "data_dir"},
        )
        no_advertisers: dict[str, Advertiser] = {}
        no_campaigns: dict[str, Campaign] = {}
        advertisers = self.optional(top, "advertisers", self.advertisers, no_advertisers)
        campaigns = self.optional(
            top, "campaigns", lambda n: self.campaigns(n, advertisers), no_campaigns
        )
        return Settings(
            path=self.path,
            licensee=self.licensee(top["licensee"]),
            data_dir=self.local_path(top["data_dir"]),
            agi=self.optional(top, "agi", self.agi, Endpoint("127.0.0.1", DEFAULT_AGI_PORT)),
            ami=self.optional(top, "ami", self.ami, AmiSettings()),
            dncm=self.optional(top, "dncm", self.dncm, DncmSettings()),
            advertisers=MappingProxyType(advertisers),
            campaigns=MappingProxyType(campaigns),
            health=self.optional(top, "health", self.health, DEFAULT_HEALTH_LISTEN),
        )

    def optional(
        self, section: dict[str, _Node], key: str, read: Callable[[_Node], T], default: T
    ) -> T:
        node = section.get(key)
        if node is None or (isinstance(node.node, yaml.ScalarNode) and node.node.value == ""):
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

    def agi(self, node: _Node) -> Endpoint:
        found = self.mapping(node, {"listen"}, {"listen"})
        return self.endpoint(found["listen"], DEFAULT_AGI_PORT)

    def ami(self, node: _Node) -> AmiSettings:
        found = self.mapping(
            node,
            {"host", "port", "username", "secret_file", "gated_contexts", "on_bypass"},
            set(),
        )
        defaults = AmiSettings()
        return AmiSettings(
            host=self.optional(found, "host", self.text, defaults.host),
            port=self.optional(found, "port", lambda n: self.integer(n, 1, 65535), defaults.port),
            username=self.optional(found, "username", self.text, defaults.username),
            secret_file=self.optional(found, "secret_file", self.local_path, None),
            gated_contexts=self.optional(found, "gated_contexts", self.names, ()),
            on_bypass=self.optional(
                found, "on_bypass", lambda n: self.choice(n, BypassAction), defaults.on_bypass
            ),
        )

    def names(self, node: _Node) -> tuple[str, ...]:
        if not isinstance(node.node, yaml.SequenceNode):
            raise self.fail(node, "expected a list of names")
        return tuple(self.text(_Node(item, node.dotted)) for item in node.node.value)

    def dncm(self, node: _Node) -> DncmSettings:
        found = self.mapping(node, {"source", "max_age_days"}, set())
        source_file: Path | None = None
        sftp: SftpSource | None = None
        if "source" in found:
            source = self.mapping(found["source"], {"file", "sftp"}, set())
            if len(source) != 1:
                raise self.fail(found["source"], "give exactly one of file or sftp")
            source_file = self.optional(source, "file", self.local_path, None)
            sftp = self.optional(source, "sftp", self.sftp, None)
        return DncmSettings(
            source_file=source_file,
            sftp=sftp,
            max_age_days=self.optional(
                found, "max_age_days", lambda n: self.integer(n, 1, 31), DEFAULT_MAX_AGE_DAYS
            ),
        )

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
                {"purpose", "advertiser", "foreign_numbers", "strip_prefix"},
                {"purpose", "advertiser"},
            )
            advertiser = self.text(found["advertiser"])
            if advertiser not in advertisers:
                raise self.fail(found["advertiser"], f"unknown advertiser {advertiser!r}")
            strip_prefix = self.optional(found, "strip_prefix", self.scalar, "")
            if strip_prefix and not strip_prefix.isdigit():
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
