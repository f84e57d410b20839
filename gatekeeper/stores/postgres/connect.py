"""Connections to the shared database: the DSN from the configuration, the password from its file.

The password is read at each connection (so a rotated file is picked up) and never logged; the
DSN is checked at load time to carry none (gatekeeper/config/), so it may be named in errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from gatekeeper.common import StoreError
from gatekeeper.config import PostgresSettings

CONNECT_TIMEOUT_S = 2
MAX_PASSWORD_BYTES = 4096

Connection = psycopg.AsyncConnection[tuple[Any, ...]]


def read_password(path: Path) -> str:
    """The first line of the password file, without its line end."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_PASSWORD_BYTES + 1)
    except OSError as err:
        raise StoreError(f"{path}: cannot read the password file: {err.strerror}") from err
    if len(data) > MAX_PASSWORD_BYTES:
        raise StoreError(f"{path}: the password file is over {MAX_PASSWORD_BYTES} bytes")
    try:
        return data.decode("utf-8").splitlines()[0] if data.strip() else ""
    except UnicodeDecodeError as err:
        raise StoreError(f"{path}: the password file is not UTF-8") from err


async def connect(settings: PostgresSettings, purpose: str) -> Connection:
    """An autocommit connection; failures name the DSN (it holds no password), never the secret."""
    extra: dict[str, Any] = {
        "autocommit": True,
        "connect_timeout": CONNECT_TIMEOUT_S,
        "application_name": f"gatekeeper {purpose}",
    }
    if settings.password_file is not None:
        extra["password"] = read_password(settings.password_file)
    try:
        return await psycopg.AsyncConnection.connect(settings.dsn, **extra)
    except psycopg.Error as err:
        raise StoreError(
            f"PostgreSQL {settings.dsn!r}: cannot connect: {_first_line(err)}"
        ) from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def connect_blocking(
    settings: PostgresSettings, purpose: str
) -> psycopg.Connection[tuple[Any, ...]]:
    """A blocking connection for a one-off command; the same rules as `connect`."""
    extra: dict[str, Any] = {
        "connect_timeout": CONNECT_TIMEOUT_S,
        "application_name": f"gatekeeper {purpose}",
    }
    if settings.password_file is not None:
        extra["password"] = read_password(settings.password_file)
    try:
        return psycopg.connect(settings.dsn, **extra)
    except psycopg.Error as err:
        raise StoreError(
            f"PostgreSQL {settings.dsn!r}: cannot connect: {_first_line(err)}"
        ) from err
