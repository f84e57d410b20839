"""Deployment checks of `gatekeeper config check`: what a valid file alone cannot prove.

Theory of operation: each check yields `Finding`s (passed or failed, with a sentence that names
the place to fix). Two run always, from the file alone: `health.listen` and `agi.listen` must be
loopback addresses, unless health is explicitly allowed out (`--allow-public-health`) or the AGI
server restricts its peers (`agi.allowed_peers`). With `--live`,
run on the PBX host, the rest look at the host itself: the AMI secret file must be readable by
the service user (the file's and every parent folder's owner, group and mode, as the kernel
decides it for that user and its groups; ACLs are not read), then one AMI session as the
configured user asks Asterisk (Getvar, which the shipped user may run) whether
`gatekeeper-check` and every gated context exist (`DIALPLAN_EXISTS`), whether the dialplan's
`GATEKEEPER_AGI` reaches `agi.listen` (a host name there, as in a fail-over pair, reaches it
when one of the addresses it resolves to on this host is `agi.listen`'s; a
`GATEKEEPER_AGI_SRV` name is only checked to be one, its SRV records are not looked up), and
(ListCommands)
that the user cannot Originate or run CLI commands. An AMI that cannot be reached with `--live`
is a failure, not a skip.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import grp
import ipaddress
import os
import pwd
import re
import socket
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gatekeeper.agi import AgiSettings
from gatekeeper.ami import AmiClient, event_filters, probe, read_secret
from gatekeeper.common import AmiError, ConfigError
from gatekeeper.config.settings import Endpoint, Settings

DEFAULT_SERVICE_USER = "gatekeeper"
DEFAULT_GATEKEEPER_AGI = "127.0.0.1:4573"
"""What the subroutine dials when the dialplan sets no GATEKEEPER_AGI global."""
AMI_TIMEOUT_S = 5.0
RESOLVE_TIMEOUT_S = 5.0
PEER_TIMEOUT_S = 2.0
"""Longest wait for the resolver to say what a `GATEKEEPER_AGI` host name resolves to."""
SUBROUTINE = "gatekeeper-check"
FORBIDDEN_ACTIONS = ("Originate", "Command", "Filter")
"""Actions whose right (originate, command, system) the service never needs."""
_CONTEXT_NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")
_SRV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
"""What gatekeeper-check accepts in GATEKEEPER_AGI_SRV (asterisk/gatekeeper.conf)."""
_ANY_ADDRESS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - the value compared, not bound


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's result."""

    ok: bool
    detail: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the deployment checks."""
    parser.add_argument(
        "--live",
        action="store_true",
        help="also check this host: the AMI secret file, over AMI the dialplan, and the "
        "first node's /healthz of ami.standby_for",
    )
    parser.add_argument(
        "--service-user",
        default=DEFAULT_SERVICE_USER,
        metavar="NAME",
        help=f"the user the service runs as (default {DEFAULT_SERVICE_USER})",
    )
    parser.add_argument(
        "--allow-public-health",
        action="store_true",
        help="accept health.listen on a non-loopback address (behind a firewall)",
    )


def findings(settings: Settings, args: argparse.Namespace) -> list[Finding]:
    """Every deployment check's findings for these settings and command-line options."""
    found = [
        health_listen(settings.health, allowed=bool(args.allow_public_health)),
        agi_listen(settings),
    ]
    if args.live:
        found.append(secret_readable(settings, str(args.service_user)))
        found.extend(asyncio.run(asterisk_findings(settings)))
        if settings.ami.standby is not None:
            found.append(asyncio.run(standby_peer(settings)))
    return found


async def standby_peer(settings: Settings) -> Finding:
    """With ami.standby_for: whether the first node's /healthz vouches for its watch now."""
    assert settings.ami.standby is not None
    peer = settings.ami.standby.peer
    result = await probe(peer, PEER_TIMEOUT_S, settings.ami.gated_contexts)
    if result.vouches:
        return Finding(ok=True, detail=f"ami.standby_for {peer} vouches: {result.detail}")
    return Finding(
        ok=False,
        detail=f"ami.standby_for {peer} does not vouch (this node's watchdog would act, "
        f"cutting the calls that node allows): {result.detail}",
    )


def is_loopback(host: str) -> bool:
    """Whether a listen host is a loopback address (or `localhost`)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def health_listen(listen: Endpoint, *, allowed: bool) -> Finding:
    """health.listen is loopback, or explicitly allowed out."""
    if is_loopback(listen.host):
        return Finding(ok=True, detail=f"health.listen {listen} is loopback")
    if allowed:
        return Finding(ok=True, detail=f"health.listen {listen} is not loopback (allowed)")
    return Finding(
        ok=False,
        detail=f"health.listen {listen} is not loopback: /healthz and /metrics need no "
        "authentication; use 127.0.0.1, or pass --allow-public-health if a firewall guards it",
    )


def agi_listen(settings: Settings) -> Finding:
    """agi.listen is loopback, or the AGI server admits only listed peers."""
    agi = settings.agi
    if is_loopback(agi.host):
        return Finding(ok=True, detail=f"agi.listen {agi} is loopback")
    if not agi.allowed_peers:
        return Finding(
            ok=False,
            detail=f"agi.listen {agi} is not loopback and agi.allowed_peers is empty: "
            "list the Asterisk hosts",
        )
    return Finding(ok=True, detail=f"agi.listen {agi} admits only agi.allowed_peers")


def secret_readable(settings: Settings, user: str) -> Finding:
    """The service user can read ami.secret_file, and users outside its group cannot."""
    path = settings.ami.secret_file
    if path is None:
        return Finding(ok=False, detail="ami.secret_file: not set")
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        return Finding(ok=False, detail=f"service user {user!r} does not exist on this host")
    groups = frozenset(os.getgrouplist(user, account.pw_gid))
    for folder in reversed(path.parents):
        problem = _denied(folder, account.pw_uid, groups, stat.S_IXUSR, "enter")
        if problem is not None:
            return Finding(ok=False, detail=f"ami.secret_file: {user} cannot {problem}")
    problem = _denied(path, account.pw_uid, groups, stat.S_IRUSR, "read")
    if problem is not None:
        return Finding(ok=False, detail=f"ami.secret_file: {user} cannot {problem}")
    mode = path.stat().st_mode
    if mode & stat.S_IROTH:
        return Finding(
            ok=False,
            detail=f"ami.secret_file: {path} is readable by every user (mode "
            f"{stat.S_IMODE(mode):04o}); make it 0640 root:{_group_name(account.pw_gid)}",
        )
    return Finding(ok=True, detail=f"ami.secret_file {path} is readable by {user}")


def _denied(path: Path, uid: int, groups: frozenset[int], owner_bit: int, verb: str) -> str | None:
    """Why `uid` lacks the permission (owner bit, shifted for group and others), or None."""
    try:
        info = path.stat()
    except OSError as err:
        return f"{verb} {path}: {err.strerror}"
    if uid == 0:
        return None
    if info.st_uid == uid:
        bit = owner_bit
    elif info.st_gid in groups:
        bit = owner_bit >> 3
    else:
        bit = owner_bit >> 6
    if info.st_mode & bit:
        return None
    owner = _user_name(info.st_uid)
    return (
        f"{verb} {path} (owner {owner}, group {_group_name(info.st_gid)}, "
        f"mode {stat.S_IMODE(info.st_mode):04o})"
    )


def _user_name(uid: int) -> str:
    with contextlib.suppress(KeyError):
        return pwd.getpwuid(uid).pw_name
    return str(uid)


def _group_name(gid: int) -> str:
    with contextlib.suppress(KeyError):
        return grp.getgrgid(gid).gr_name
    return str(gid)


async def asterisk_findings(settings: Settings) -> list[Finding]:
    """What Asterisk itself says over AMI: subroutine, gated contexts, AGI address, rights."""
    ami = settings.ami
    where = f"AMI at {ami.host}:{ami.port}"
    try:
        secret = read_secret(ami.secret_file)
    except ConfigError as err:
        return [Finding(ok=False, detail=f"{where}: cannot log in: {err}")]
    try:
        client = await AmiClient.connect(
            ami.host, ami.port, ami.username, secret, timeout=AMI_TIMEOUT_S
        )
    except AmiError as err:
        return [Finding(ok=False, detail=f"{err}; the live checks need the AMI")]
    try:
        found = [Finding(ok=True, detail=f"{where}: logged in as {ami.username!r}")]
        found.extend([await _context(client, name) for name in (SUBROUTINE, *ami.gated_contexts)])
        found.append(await _agi_address(client, settings.agi))
        found.append(await _rights(client, ami.username))
    except AmiError as err:
        found.append(Finding(ok=False, detail=f"{where}: {err}"))
    finally:
        await client.close()
    return found


async def _context(client: AmiClient, name: str) -> Finding:
    key = "gatekeeper-check subroutine" if name == SUBROUTINE else "ami.gated_contexts:"
    if not _CONTEXT_NAME.match(name):
        return Finding(ok=False, detail=f"{key} {name!r} is not a context name Asterisk accepts")
    exists = await client.getvar(f"DIALPLAN_EXISTS({name})")
    if exists == "1":
        return Finding(ok=True, detail=f"{key} context {name!r} is in the dialplan")
    if exists == "0":
        return Finding(
            ok=False,
            detail=f"{key} context {name!r} is not in Asterisk's dialplan: check the name, and "
            "that every included file is readable by Asterisk (an unreadable file makes "
            "`dialplan reload` refuse the whole dialplan and keep the old one)",
        )
    return Finding(
        ok=False,
        detail=f"{key} cannot tell whether context {name!r} exists: Asterisk's "
        "DIALPLAN_EXISTS() answered nothing (load func_dialplan.so)",
    )


async def _agi_address(client: AmiClient, listen: AgiSettings) -> Finding:
    srv_name = await client.getvar("GATEKEEPER_AGI_SRV")
    if srv_name:
        return _agi_srv(srv_name, listen)
    value = await client.getvar("GATEKEEPER_AGI")
    dialled = value or DEFAULT_GATEKEEPER_AGI
    source = "GATEKEEPER_AGI" if value else f"GATEKEEPER_AGI unset, so {DEFAULT_GATEKEEPER_AGI}"
    host, _, port = dialled.rpartition(":")
    host = host.strip("[]")
    if port != str(listen.port):
        return _agi_unreached(source, listen, "")
    if host == listen.host or listen.host in _ANY_ADDRESS:
        return Finding(ok=True, detail=f"the dialplan's {source} reaches agi.listen {listen}")
    if _is_address(host):
        return _agi_unreached(source, listen, "")
    addresses = await _resolve(host, port)
    if listen.host in addresses:
        return Finding(
            ok=True,
            detail=f"the dialplan's {source} reaches agi.listen {listen}: {host} resolves "
            f"here to {', '.join(addresses)}",
        )
    found = f" ({host} resolves here to {', '.join(addresses) or 'nothing'})"
    return _agi_unreached(source, listen, found)


def _agi_srv(name: str, listen: AgiSettings) -> Finding:
    if not _SRV_NAME.match(name):
        return Finding(
            ok=False,
            detail=f"the dialplan's GATEKEEPER_AGI_SRV {name!r} is not a DNS name (letters, "
            "digits, '.', '-'; no port): gatekeeper-check blocks every call with internal_error",
        )
    return Finding(
        ok=True,
        detail=f"the dialplan's GATEKEEPER_AGI_SRV sends calls to the targets of the SRV records "
        f"_agi._tcp.{name}, which this check does not look up: one of them must be agi.listen "
        f"{listen} (dig SRV _agi._tcp.{name})",
    )


def _agi_unreached(source: str, listen: AgiSettings, found: str) -> Finding:
    return Finding(
        ok=False,
        detail=f"the dialplan's {source} does not reach agi.listen {listen}{found}: set "
        f"GATEKEEPER_AGI = {listen} in [globals] of extensions.conf, or a host name that "
        "resolves to it (every call would block with internal_error)",
    )


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return False
    return True


async def _resolve(host: str, port: str) -> list[str]:
    """The addresses `host` resolves to here, in the resolver's order, each once."""
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in found))


async def _rights(client: AmiClient, user: str) -> Finding:
    allowed = await client.actions()
    extra = [name for name in FORBIDDEN_ACTIONS if name in allowed]
    if extra:
        return Finding(
            ok=False,
            detail=f"AMI user {user!r} may run {', '.join(extra)}: give it only "
            "read = call,dialplan and write = call (asterisk/manager-gatekeeper.conf)",
        )
    return Finding(ok=True, detail=f"AMI user {user!r} cannot originate or run CLI commands")


def event_filter_lines(settings: Settings) -> Iterator[str]:
    """The manager user's `eventfilter` lines for this configuration's gated contexts."""
    yield from event_filters(settings.ami.gated_contexts)


def report(settings: Settings, args: argparse.Namespace) -> bool:
    """Run the checks, print each finding (failures on stderr); True when all passed."""
    passed = True
    for finding in findings(settings, args):
        if finding.ok:
            sys.stdout.write(f"ok: {finding.detail}\n")
        else:
            passed = False
            sys.stderr.write(f"gatekeeper: deployment check failed: {finding.detail}\n")
    if args.live:
        sys.stdout.write(
            "the AMI user's eventfilter lines for ami.gated_contexts (manager.conf):\n"
        )
        sys.stdout.writelines(f"  {line}\n" for line in event_filter_lines(settings))
    return passed
