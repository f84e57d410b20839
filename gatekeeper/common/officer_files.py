"""Files written for compliance officers: private by default, or readable by their group.

Theory of operation: reports, exports and scrubbed lists hold subscribers' numbers. Each is
created owner-only (0600) before a byte is written. With `officers_group` set, the new file is
then given to that group and opened to it for reading (0640), by its descriptor, so there is no
moment when anyone else could open it and no path to swap in between. Only files made for
officers are shared: the decision log, the consent store and the pseudonym key stay private to
the service. An output is never written inside data_dir, where it could replace one of those.
"""

from __future__ import annotations

import grp
import os
import pwd
from pathlib import Path

from gatekeeper.common.errors import ConfigError, GatekeeperError

PRIVATE_MODE = 0o600
SHARED_MODE = 0o640
ROOT_UID = 0


class OutputAccessError(GatekeeperError):
    """An output cannot be created where asked, or not with the access configured."""


def output_mode(group: str | None) -> int:
    """The mode of an officer's file: 0640 with an officers group, else 0600."""
    return SHARED_MODE if group is not None else PRIVATE_MODE


def share(fd: int, path: Path, group: str | None) -> None:
    """Give the freshly created file open on `fd` its group and mode (see the module notes)."""
    if group is not None:
        gid = usable_group(group, path)
        try:
            os.fchown(fd, -1, gid)
        except PermissionError as err:
            raise _not_a_member(group, path) from err
    os.fchmod(fd, output_mode(group))


def create_output(path: Path, group: str | None, data_dir: Path | None) -> Path:
    """Create (or take over) `path` for an officer, before anything is written to it."""
    refuse_inside(path, data_dir)
    if group is not None:
        usable_group(group, path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_MODE)
    except OSError as err:
        raise OutputAccessError(f"{path}: cannot write: {err.strerror}") from err
    try:
        share(fd, path, group)
    finally:
        os.close(fd)
    return path


def refuse_inside(path: Path, data_dir: Path | None) -> None:
    """Refuse an output inside data_dir: it could overwrite the log or the stores there."""
    if data_dir is None:
        return
    target = path.resolve()
    if target.is_relative_to(data_dir.resolve()):
        message = (
            f"{path}: inside data_dir {data_dir}, which holds the service's own files; "
            "write outputs elsewhere"
        )
        raise OutputAccessError(message)


def usable_group(name: str, path: Path) -> int:
    """The id of the officers group, which this user may give files to.

    An unknown name is a configuration error; a user outside the group (other than root) is
    refused before any file is made.
    """
    try:
        gid = grp.getgrnam(name).gr_gid
    except KeyError as err:
        message = f"officers_group: no group named {name!r} on this host (groupadd {name})"
        raise ConfigError(message) from err
    if os.geteuid() != ROOT_UID and gid != os.getegid() and gid not in os.getgroups():
        raise _not_a_member(name, path)
    return gid


def _not_a_member(group: str, path: Path) -> OutputAccessError:
    user = _user_name()
    return OutputAccessError(
        f"{path}: cannot give it to group {group} (officers_group): {user} is not a member "
        f"of it; add it with `usermod -aG {group} {user}` and log in again"
    )


def _user_name() -> str:
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"
