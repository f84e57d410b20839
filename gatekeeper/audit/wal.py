"""Keeping the decision log's WAL file bounded: its size, and resetting it (see audit/log.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

CHECKPOINT_WAIT_S = 0.05
"""The longest a reset waits for the write lock and for readers to leave the WAL."""


def wal_file(path: Path) -> Path:
    """The WAL file beside a database file."""
    return path.with_name(path.name + "-wal")


def wal_bytes(path: Path) -> int:
    """The size of the WAL file of the database at `path` (0 when there is none)."""
    try:
        return wal_file(path).stat().st_size
    except FileNotFoundError:
        return 0


def copy_back(conn: sqlite3.Connection) -> str | None:
    """A PASSIVE checkpoint: copy what it can of the WAL into the database, never waiting.

    Returns why it failed, or None.
    """
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error as err:
        return f"{type(err).__name__}: {err}"
    return None


def reset_wal(conn: sqlite3.Connection, busy_timeout_s: float) -> str | None:
    """A RESTART checkpoint: copy the rest of the WAL back and make the next commit start it over.

    It holds the write lock while it copies what the last `copy_back` left and waits (at most
    CHECKPOINT_WAIT_S) for readers to leave the WAL, so call it right after `copy_back`. `conn`
    must be outside any transaction; its busy timeout is set back to `busy_timeout_s`. Returns
    why the WAL could not be reset, or None when it was.
    """
    try:
        conn.execute(f"PRAGMA busy_timeout={int(CHECKPOINT_WAIT_S * 1000)}")
        try:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        finally:
            conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    except sqlite3.Error as err:
        return f"{type(err).__name__}: {err}"
    if busy:
        return f"a reader or another writer kept the file past {CHECKPOINT_WAIT_S:g} s"
    return None
