"""Console accounts, roles and sessions, in one private SQLite file beside the other stores.

Theory of operation: a password is kept only as a salted scrypt hash (memory-hard: 32 MiB a try).
A wrong password counts against the account; the `lockout_failures`-th in a row locks it for
`lockout_minutes`, and while locked even the right password is refused. An unknown name costs
the same scrypt as a known one, so timing does not tell which names exist. A session is a random
token given to the browser once; the file keeps only its sha256, with the account, a CSRF token
and when it was last used, so a copy of the file opens no session. Every login makes a new token
(no session id chosen before the login survives it). A session idle for longer than
`session_idle_minutes` is gone.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import os
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gatekeeper.common import GatekeeperError, make_private_dir

ACCOUNTS_RELATIVE_PATH = Path("console") / "accounts.sqlite"
FILE_MODE = 0o600
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_MAXMEM = 64 * 1024 * 1024
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
MAX_SESSIONS = 10_000
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('officer', 'editor', 'admin')),
    password TEXT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY,
    name TEXT NOT NULL REFERENCES accounts (name),
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_last_seen ON sessions (last_seen);
"""


class AccountError(GatekeeperError):
    """An account cannot be added or changed as asked; the message says why."""


class Role(enum.StrEnum):
    """What an account may do (docs/console.md)."""

    OFFICER = "officer"
    EDITOR = "editor"
    ADMIN = "admin"


class Permission(enum.StrEnum):
    """One thing the console lets an account do."""

    READ = "read"
    REPORT = "report"
    EXPORT = "export"
    ACTS = "acts"
    ACCOUNTS = "accounts"


PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OFFICER: frozenset({Permission.READ, Permission.REPORT, Permission.EXPORT}),
    Role.EDITOR: frozenset({Permission.READ, Permission.ACTS}),
    Role.ADMIN: frozenset({Permission.ACCOUNTS}),
}


@dataclass(frozen=True, slots=True)
class Account:
    """An account as listed."""

    name: str
    role: Role
    failures: int
    locked_until: datetime | None

    def may(self, permission: Permission) -> bool:
        """Whether this account's role allows `permission`."""
        return permission in PERMISSIONS[self.role]


@dataclass(frozen=True, slots=True)
class Session:
    """A live session: whose it is and the token its forms must carry."""

    account: Account
    csrf: str


class LoginState(enum.StrEnum):
    """How a login attempt ended."""

    OK = "ok"
    WRONG = "wrong"
    LOCKED_NOW = "locked_now"
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A login attempt's end; `token` is set only when it succeeded."""

    state: LoginState
    token: str = ""
    locked_until: datetime | None = None


def accounts_path(data_dir: Path) -> Path:
    """Where the console's accounts live under data_dir."""
    return data_dir / ACCOUNTS_RELATIVE_PATH


def hash_password(password: str) -> str:
    """A salted scrypt hash as `scrypt$N$r$p$salt$hash` (base64)."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(
        ("scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest))
    )


def password_matches(password: str, stored: str) -> bool:
    """Whether `password` hashes to `stored` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(computed, base64.b64decode(digest))
    except ValueError:
        return False


_DUMMY_HASH = "$".join(
    ("scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), "AAAAAAAAAAAAAAAAAAAAAA==", "")
)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=32
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_password(password: str) -> None:
    """Refuse a password that is too short or too long."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise AccountError(
            f"a password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )


class AccountStore:
    """The accounts file; each method is one short transaction on its own connection."""

    def __init__(
        self, path: Path, *, lockout_failures: int, lockout: timedelta, idle: timedelta
    ) -> None:
        self.path = path
        self._lockout_failures = lockout_failures
        self._lockout = lockout
        self._idle = idle
        self._prepare()

    def _prepare(self) -> None:
        try:
            make_private_dir(self.path.parent)
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, FILE_MODE)
            os.close(fd)
        except OSError as err:
            raise AccountError(f"{self.path}: cannot create the accounts file: {err}") from err
        try:
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")
            finally:
                conn.close()
        except sqlite3.Error as err:
            raise AccountError(f"{self.path}: not a usable accounts file: {err}") from err

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        except sqlite3.Error as err:
            raise AccountError(f"{self.path}: cannot open the accounts file: {err}") from err
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            raise AccountError(f"{self.path}: {err}") from err
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()

    def add(self, name: str, role: Role, password: str, now: datetime) -> None:
        """Add an account; AccountError if the name is taken or the password too weak."""
        if not _NAME.fullmatch(name):
            raise AccountError(
                f"account name {name!r}: 1 to 64 of a-z, 0-9, '.', '_', '-', "
                "starting with a letter or digit"
            )
        check_password(password)
        hashed = hash_password(password)
        with self._connect() as conn:
            if conn.execute("SELECT 1 FROM accounts WHERE name = ?", (name,)).fetchone():
                raise AccountError(f"account {name!r} exists already")
            conn.execute(
                "INSERT INTO accounts (name, role, password, created_at) VALUES (?, ?, ?, ?)",
                (name, role.value, hashed, _utc(now)),
            )

    def accounts(self) -> list[Account]:
        """Every account, by name."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT name, role, failures, locked_until FROM accounts ORDER BY name"
            ).fetchall()
        return [_account(row) for row in rows]

    def unlock(self, name: str) -> None:
        """Clear an account's lock and failure count."""
        with self._connect() as conn:
            changed = conn.execute(
                "UPDATE accounts SET failures = 0, locked_until = NULL WHERE name = ?", (name,)
            ).rowcount
        if not changed:
            raise AccountError(f"no account {name!r}")

    def login(self, name: str, password: str, now: datetime) -> LoginResult:
        """Check a password; a new session token when right, the lock state otherwise."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT name, role, failures, locked_until, password FROM accounts WHERE name = ?",
                (name,),
            ).fetchone()
        if row is None:
            password_matches(password, _DUMMY_HASH)
            return LoginResult(LoginState.WRONG)
        account = _account(row[:4])
        if account.locked_until is not None and account.locked_until > now:
            return LoginResult(LoginState.LOCKED, locked_until=account.locked_until)
        if not password_matches(password, str(row[4])):
            return self._failed(name, now)
        return self._new_session(name, now, reset_failures=True)

    def trusted_login(self, name: str, now: datetime) -> LoginResult:
        """A new session for an account a trusted reverse proxy names (no password).

        WRONG when there is no such account; a locked account stays locked.
        """
        with self._connect() as conn:
            row = conn.execute(
                "SELECT name, role, failures, locked_until FROM accounts WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            return LoginResult(LoginState.WRONG)
        account = _account(row)
        if account.locked_until is not None and account.locked_until > now:
            return LoginResult(LoginState.LOCKED, locked_until=account.locked_until)
        return self._new_session(name, now, reset_failures=False)

    def _new_session(self, name: str, now: datetime, *, reset_failures: bool) -> LoginResult:
        token = secrets.token_urlsafe(32)
        with self._connect() as conn:
            if reset_failures:
                conn.execute(
                    "UPDATE accounts SET failures = 0, locked_until = NULL WHERE name = ?", (name,)
                )
            conn.execute("DELETE FROM sessions WHERE last_seen < ?", (_utc(now - self._idle),))
            (count,) = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()
            if count >= MAX_SESSIONS:
                conn.execute(
                    "DELETE FROM sessions WHERE token_sha256 IN"
                    " (SELECT token_sha256 FROM sessions ORDER BY last_seen LIMIT 1)"
                )
            conn.execute(
                "INSERT INTO sessions (token_sha256, name, csrf, created_at, last_seen)"
                " VALUES (?, ?, ?, ?, ?)",
                (_token_hash(token), name, secrets.token_urlsafe(32), _utc(now), _utc(now)),
            )
        return LoginResult(LoginState.OK, token=token)

    def _failed(self, name: str, now: datetime) -> LoginResult:
        with self._connect() as conn:
            (failures,) = conn.execute(
                "UPDATE accounts SET failures = failures + 1 WHERE name = ? RETURNING failures",
                (name,),
            ).fetchone()
            if failures < self._lockout_failures:
                return LoginResult(LoginState.WRONG)
            until = now + self._lockout
            conn.execute(
                "UPDATE accounts SET failures = 0, locked_until = ? WHERE name = ?",
                (_utc(until), name),
            )
        return LoginResult(LoginState.LOCKED_NOW, locked_until=until)

    def session(self, token: str, now: datetime) -> Session | None:
        """The live session of this token (its idle time restarts), or None."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT a.name, a.role, a.failures, a.locked_until, s.csrf, s.last_seen"
                " FROM sessions AS s JOIN accounts AS a ON a.name = s.name"
                " WHERE s.token_sha256 = ?",
                (_token_hash(token),),
            ).fetchone()
            if row is None:
                return None
            if datetime.fromisoformat(str(row[5])) + self._idle < now:
                conn.execute("DELETE FROM sessions WHERE token_sha256 = ?", (_token_hash(token),))
                return None
            conn.execute(
                "UPDATE sessions SET last_seen = ? WHERE token_sha256 = ?",
                (_utc(now), _token_hash(token)),
            )
        return Session(_account(row[:4]), str(row[4]))

    def logout(self, token: str) -> None:
        """End the session of this token."""
        with self._connect() as conn:
            conn.execute("DELETE FROM sessions WHERE token_sha256 = ?", (_token_hash(token),))


def _account(row: tuple[object, ...]) -> Account:
    locked = row[3]
    return Account(
        name=str(row[0]),
        role=Role(str(row[1])),
        failures=int(str(row[2])),
        locked_until=datetime.fromisoformat(str(locked)) if locked else None,
    )
