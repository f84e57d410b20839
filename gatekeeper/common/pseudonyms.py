"""Pseudonyms of numbers for the operations log: the same number, the same opaque token.

Theory of operation: the journal is read by more people than the decision log (members of `adm`
or `systemd-journal`), so its lines never carry a number. They carry a keyed hash of it instead:
HMAC-SHA256 under a per-installation secret key, cut to `PSEUDONYM_HEX` hex digits. With the
key, a number gives its pseudonym (`gatekeeper audit pseudonym NUMBER`) and a pseudonym finds
its decisions (`gatekeeper audit show --pseudonym P`); without it, no table of all Belgian
numbers can be built to reverse one. The key lives beside the decision log, owner-only. Writers
create it on first use, atomically (written to a private temporary file, then hard-linked to its
name, so two processes starting at once agree on one key); readers never create it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from gatekeeper.common.errors import GatekeeperError
from gatekeeper.common.private_files import make_private_dir, write_private

KEY_FILE_NAME = "pseudonym.key"
KEY_BYTES = 32
PSEUDONYM_HEX = 16
"""64 bits: collisions among ten million numbers stay below one in a hundred thousand."""
LOCAL_CHANNEL_PREFIX = "Local/"
NUMBER_FIELDS = frozenset({"number", "e164", "dialled", "exten"})
"""Log fields that hold a number: a line shows their pseudonym instead."""
CHANNEL_FIELDS = frozenset({"channel", "dialled_by", "partner_channel"})
"""Log fields that hold a channel name, which may embed the number (Local/NUMBER@context)."""


class PseudonymKeyError(GatekeeperError):
    """The pseudonym key is missing, unreadable or malformed."""


def key_path(data_dir: Path) -> Path:
    """Where the key of an installation is kept: beside the decision log."""
    return data_dir / "audit" / KEY_FILE_NAME


class Pseudonyms:
    """Turns numbers (and the channel names that embed them) into stable pseudonyms."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            message = f"a pseudonym key is {KEY_BYTES} bytes, got {len(key)}"
            raise PseudonymKeyError(message)
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def of(self, value: str) -> str:
        """The pseudonym of one value (a number in E.164, or a dialled string)."""
        mac = self._keyed.copy()
        mac.update(value.encode("utf-8"))
        return mac.hexdigest()[:PSEUDONYM_HEX]

    def of_call(self, e164: str | None, dialled: str) -> str | None:
        """The pseudonym of a call's number: its E.164 form, else the string dialled, if any."""
        if e164:
            return self.of(e164)
        return self.of(dialled) if dialled else None

    def channel(self, name: str) -> str:
        """A channel name safe to log: a Local channel's extension (a number) is pseudonymised.

        Other technologies name the endpoint or trunk, never the number dialled.
        """
        if not name.startswith(LOCAL_CHANNEL_PREFIX):
            return name
        exten, at, rest = name[len(LOCAL_CHANNEL_PREFIX) :].partition("@")
        if not at or not exten:
            return name
        return f"{LOCAL_CHANNEL_PREFIX}{self.of(exten)}@{rest}"


def loggable(fields: Mapping[str, object], pseudonyms: Pseudonyms | None) -> dict[str, object]:
    """A copy of `fields` fit for the journal: numbers and channel names pseudonymised.

    Without `pseudonyms` a number field is withheld (None) and a Local channel name blanked.
    """
    shown: dict[str, object] = {}
    for name, value in fields.items():
        if name in NUMBER_FIELDS and isinstance(value, str) and value:
            shown[name] = pseudonyms.of(value) if pseudonyms is not None else None
        elif name in CHANNEL_FIELDS and isinstance(value, str):
            if pseudonyms is not None:
                shown[name] = pseudonyms.channel(value)
            else:
                shown[name] = "" if value.startswith(LOCAL_CHANNEL_PREFIX) else value
        else:
            shown[name] = value
    return shown


def open_pseudonyms(data_dir: Path, *, create: bool) -> Pseudonyms:
    """The installation's pseudonyms; `create` makes the key on first use (writers only)."""
    path = key_path(data_dir)
    if create and not path.exists():
        _create_key(path)
    return _read_key(path)


def pseudonyms_beside(log_file: Path) -> Pseudonyms:
    """The pseudonyms of the decision log at `log_file` (its key is in the same folder)."""
    return _read_key(log_file.parent / KEY_FILE_NAME)


def _read_key(path: Path) -> Pseudonyms:
    try:
        key = path.read_bytes()
    except FileNotFoundError as err:
        message = (
            f"{path}: no pseudonym key yet (it is made when the first decision is recorded); "
            "nothing has been logged under a pseudonym"
        )
        raise PseudonymKeyError(message) from err
    except OSError as err:
        message = f"{path}: cannot read the pseudonym key: {err.strerror}"
        raise PseudonymKeyError(message) from err
    try:
        return Pseudonyms(key)
    except PseudonymKeyError as err:
        raise PseudonymKeyError(f"{path}: {err}") from err


def _create_key(path: Path) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    try:
        make_private_dir(path.parent)
        write_private(temporary, secrets.token_bytes(KEY_BYTES), exclusive=True)
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    except OSError as err:
        message = f"{path}: cannot create the pseudonym key: {err.strerror}"
        raise PseudonymKeyError(message) from err
    finally:
        temporary.unlink(missing_ok=True)
