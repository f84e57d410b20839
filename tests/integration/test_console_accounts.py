"""Console accounts on a real SQLite file: hashing, lockout, sessions."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gatekeeper.console.accounts import AccountError, AccountStore, LoginState, Role

NOW = datetime(2025, 3, 3, 10, tzinfo=UTC)
PASSWORD = "correct horse battery"


@pytest.fixture
def store(tmp_path: Path) -> AccountStore:
    """An accounts file with one officer; 3 failures lock it for 15 minutes."""
    made = AccountStore(
        tmp_path / "console" / "accounts.sqlite",
        lockout_failures=3,
        lockout=timedelta(minutes=15),
        idle=timedelta(minutes=30),
    )
    made.add("alice", Role.OFFICER, PASSWORD, NOW)
    return made


def test_file_is_private_and_holds_no_password(store: AccountStore) -> None:
    """The file is 0600 and keeps only a salted scrypt hash."""
    with sqlite3.connect(store.path) as conn:
        (stored,) = conn.execute("SELECT password FROM accounts").fetchone()
    assert (
        stat.S_IMODE(store.path.stat().st_mode),
        stored.startswith("scrypt$"),
        PASSWORD in stored,
    ) == (
        0o600,
        True,
        False,
    )


def test_lock_after_failures_then_unlock_after_the_period(store: AccountStore) -> None:
    """The Nth wrong password locks; the right one is refused until the period ends."""
    states = [store.login("alice", "wrong password", NOW).state for _ in range(3)]
    during = store.login("alice", PASSWORD, NOW + timedelta(minutes=14)).state
    after = store.login("alice", PASSWORD, NOW + timedelta(minutes=16)).state
    assert (states, during, after) == (
        [LoginState.WRONG, LoginState.WRONG, LoginState.LOCKED_NOW],
        LoginState.LOCKED,
        LoginState.OK,
    )


def test_session_ends_when_idle(store: AccountStore) -> None:
    """A session unused for longer than the idle time is gone."""
    token = store.login("alice", PASSWORD, NOW).token
    fresh = store.session(token, NOW + timedelta(minutes=29))
    stale = store.session(token, NOW + timedelta(minutes=60))
    assert (fresh is not None, stale) == (True, None)


def test_sessions_are_stored_only_as_hashes(store: AccountStore) -> None:
    """The token given to the browser is not in the file."""
    token = store.login("alice", PASSWORD, NOW).token
    with sqlite3.connect(store.path) as conn:
        rows = conn.execute("SELECT token_sha256 FROM sessions").fetchall()
    assert (len(rows), token in {r[0] for r in rows}) == (1, False)


def test_short_password_and_bad_name_are_refused(store: AccountStore) -> None:
    """A password under 12 characters or a name with odd characters is refused."""
    with pytest.raises(AccountError, match="12 to"):
        store.add("bob", Role.EDITOR, "short", NOW)
    with pytest.raises(AccountError, match="account name"):
        store.add("<b>", Role.EDITOR, PASSWORD, NOW)
