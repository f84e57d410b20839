"""Commands that write below data_dir run as its owner, or not at all.

Theory of operation: every file the gatekeeper makes in data_dir (list snapshots, the consent
store, the decision log and its journal files, the pseudonym key) is private to whoever made it.
Made by root while the service runs as `gatekeeper`, it locks the service out: the health check
fails and every commercial call blocks. So before a writing command touches anything, its
effective user is compared with the owner of data_dir (or, when data_dir does not exist yet, of
the nearest folder above it, which is where the command would create it). Any other user is
refused with exit 2 and the same command line as it should be run. Root may write only where
root owns data_dir, as in a demo or a test run entirely as root; there is no override, since a
wrong owner is never what an operator wants. When the user is right but a folder or file the
gatekeeper keeps in data_dir belongs to someone else (left behind by an earlier run as root),
the command is refused too, with the `chown` that repairs it.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shlex
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path

ROOT_UID = 0
KEPT_FOLDERS = ("audit", "consent", "console", "dncm")
"""The folders the gatekeeper keeps in data_dir: they and their entries must be the owner's."""
MAX_ENTRIES_CHECKED = 10_000
_WRITING_ACTIONS: dict[str, tuple[str, frozenset[str]] | None] = {
    "serve": None,
    "check": None,
    "sync": None,
    "scrub": None,
    "consent": None,
    "objection": None,
    "console": None,
    "audit": ("audit_command", frozenset({"purge"})),
}
"""Commands that write below data_dir; None: every action of the command writes (`consent show`
too: it opens the store for writing, and makes it when it does not exist yet)."""


def writes_data(args: argparse.Namespace) -> bool:
    """Whether the parsed command writes below data_dir (`audit purge --dry-run` only reads)."""
    command: str = args.command
    if command not in _WRITING_ACTIONS:
        return False
    action = _WRITING_ACTIONS[command]
    if action is None:
        return True
    attribute, writing = action
    if getattr(args, attribute, None) not in writing:
        return False
    return not getattr(args, "dry_run", False)


def refusal(
    data_dir: Path,
    argv: Sequence[str],
    *,
    implicit_config: str | None,
    euid: int | None = None,
) -> str | None:
    """Why this user must not run this writing command, with the command to run; None if fine.

    `implicit_config` is the config file the command found in the environment (not given with
    `-c`); the command to run names it, since another user's environment may not.
    """
    uid = os.geteuid() if euid is None else euid
    folder = _existing(data_dir).stat()
    if folder.st_uid != uid:
        hint = _hint(folder.st_uid, folder.st_gid, uid, argv, implicit_config=implicit_config)
        return (
            f"{data_dir} belongs to {_name(folder.st_uid)}, and this command would write there "
            f"as {_name(uid)}: the service could not read what it leaves behind. "
            f"Run it as {_name(folder.st_uid)}:\n  {hint}"
        )
    for path in _kept_entries(data_dir):
        owner = _uid_of(path)
        if owner is not None and owner != uid:
            user = _name(uid)
            return (
                f"{path} belongs to {_name(owner)}, not to {user} who owns {data_dir} (left by "
                "a command run as another user?). Give it back, then run again:\n"
                f"  chown -R {shlex.quote(user)}: {shlex.quote(str(data_dir))}"
            )
    return None


def _existing(path: Path) -> Path:
    """`path`, or the nearest folder above it that exists."""
    absolute = path.absolute()
    for candidate in (absolute, *absolute.parents):
        if candidate.exists():
            return candidate
    return Path(absolute.anchor)


def _kept_entries(data_dir: Path) -> Iterator[Path]:
    """The gatekeeper's folders in data_dir and their direct entries, at most a bounded number."""

    def walk() -> Iterator[Path]:
        for name in KEPT_FOLDERS:
            folder = data_dir / name
            if not folder.is_dir():
                continue
            yield folder
            try:
                yield from folder.iterdir()
            except OSError:
                continue

    return islice(walk(), MAX_ENTRIES_CHECKED)


def _uid_of(path: Path) -> int | None:
    try:
        return path.lstat().st_uid
    except OSError:
        return None


def _name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _hint(
    owner: int, group: int, uid: int, argv: Sequence[str], *, implicit_config: str | None
) -> str:
    words = list(argv)
    if implicit_config:
        words = ["-c", implicit_config, *words]
    command = shlex.join(["gatekeeper", *words])
    try:
        user = pwd.getpwuid(owner).pw_name
    except KeyError:
        return f"setpriv --reuid={owner} --regid={group} --clear-groups {command}"
    if uid == ROOT_UID:
        return f"runuser -u {shlex.quote(user)} -- {command}"
    return f"sudo -u {shlex.quote(user)} {command}"
