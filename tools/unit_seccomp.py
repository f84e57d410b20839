"""Run a command under the seccomp rules a systemd unit file would give it, without systemd.

Theory of operation: where PID 1 is not systemd (containers, CI), the units' system-call
settings cannot be tried for real, so this reproduces the ones that are seccomp filters:
`SystemCallFilter=` (an allow list, later `~` lines removing from it; systemd's own group
lists are read from `systemd-analyze syscall-filter`, so they match the host's systemd, and
`@default` is added to an allow list as systemd does), `SystemCallErrorNumber=` (denied calls
fail with that errno; without it the process is killed), `SystemCallArchitectures=native`
(libseccomp's default: other ABIs kill) and `MemoryDenyWriteExecute=yes` (mmap with write and
execute, mprotect or pkey_mprotect adding execute, shmat with SHM_EXEC all fail with EPERM), as
two stacked filters like systemd loads them. Everything else in the unit (namespaces, mounts,
users, address families, IP rules) is not reproduced. It needs the libseccomp Python binding
(Debian: python3-seccomp), so run it with the system's python3; the filters survive `exec`.

    /usr/bin/python3 tools/unit_seccomp.py systemd/gatekeeper.service -- gatekeeper serve
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import mmap
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import seccomp

SHM_EXEC = 0o100000


@dataclass
class UnitRules:
    """The seccomp-related settings of one unit's [Service] section."""

    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)
    error_number: str = ""
    deny_write_execute: bool = False


def read_unit(path: Path) -> UnitRules:
    """The unit's SystemCallFilter=, SystemCallErrorNumber= and MemoryDenyWriteExecute=."""
    rules = UnitRules()
    for raw in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = raw.strip().partition("=")
        if not sep or raw.lstrip().startswith("#"):
            continue
        if key == "SystemCallFilter":
            if value.startswith("~"):
                rules.deny += value[1:].split()
            else:
                rules.allow += value.split()
        elif key == "SystemCallErrorNumber":
            rules.error_number = value.strip()
        elif key == "MemoryDenyWriteExecute":
            rules.deny_write_execute = value.strip() in {"yes", "true", "1", "on"}
    return rules


def expand(names: list[str]) -> set[str]:
    """System call names, with @groups expanded by systemd-analyze."""
    calls: set[str] = set()
    for name in names:
        if not name.startswith("@"):
            calls.add(name)
            continue
        listing = subprocess.run(
            ["systemd-analyze", "syscall-filter", name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for line in listing.splitlines()[1:]:
            item = line.strip()
            if item and not item.startswith("#"):
                calls |= expand([item]) if item.startswith("@") else {item}
    return calls


def _add(target: seccomp.SyscallFilter, action: object, call: str, *args: object) -> None:
    # A call this architecture does not have is skipped, as systemd does.
    with contextlib.suppress(RuntimeError, ValueError, OSError):
        target.add_rule(action, call, *args)


def load(rules: UnitRules) -> None:
    """Install the filters in this process (inherited by children and kept across exec)."""
    if rules.deny_write_execute:
        mdwe = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        refuse = seccomp.ERRNO(errno.EPERM)
        both = mmap.PROT_WRITE | mmap.PROT_EXEC
        for call in ("mmap", "mmap2"):
            _add(mdwe, refuse, call, seccomp.Arg(2, seccomp.MASKED_EQ, both, both))
        for call in ("mprotect", "pkey_mprotect"):
            _add(
                mdwe,
                refuse,
                call,
                seccomp.Arg(2, seccomp.MASKED_EQ, mmap.PROT_EXEC, mmap.PROT_EXEC),
            )
        _add(mdwe, refuse, "shmat", seccomp.Arg(2, seccomp.MASKED_EQ, SHM_EXEC, SHM_EXEC))
        mdwe.load()
    if rules.allow:
        denied = (
            seccomp.ERRNO(getattr(errno, rules.error_number))
            if rules.error_number
            else seccomp.KILL_PROCESS
        )
        allowed = expand([*rules.allow, "@default"]) - expand(rules.deny)
        calls = seccomp.SyscallFilter(defaction=denied)
        for call in sorted(allowed):
            _add(calls, seccomp.ALLOW, call)
        calls.load()


def main(argv: list[str] | None = None) -> NoReturn:
    """Load the unit's filters, then exec the command."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("unit", type=Path)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run")
    load(read_unit(args.unit))
    os.execvp(command[0], command)  # noqa: S606 - the command line the caller gave


if __name__ == "__main__":
    main()
