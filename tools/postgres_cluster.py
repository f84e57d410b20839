"""A throw-away PostgreSQL cluster for the tests and benchmarks: initdb into a folder, pg_ctl.

Theory of operation: the Debian `postgresql` package's binaries (never its system service) create
a cluster in a fresh temporary folder owned by an unprivileged user (initdb refuses root: as root
the cluster belongs to `nobody` and every command runs through runuser). The server listens on a
Unix socket in that folder only, with scram-sha-256 password authentication everywhere, so the
tests exercise the same password files as production. `stop` and `start` keep the data, so a
test can take the database away mid-run and give it back; `close` removes everything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "test-superuser-password"  # noqa: S105 - a throw-away cluster's
PORT = 5432
START_TIMEOUT_S = 30
UNPRIVILEGED_USER = "nobody"


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's binary folder, or None when none is installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parent)
    return found[-1].parent if found else None


class PostgresCluster:
    """One private PostgreSQL server on a Unix socket in its own folder."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        """Nothing runs until `start` (or `with`)."""
        found = bin_dir or postgres_bin()
        if found is None:
            raise RuntimeError("PostgreSQL is not installed: run tools/system-deps.sh")
        self._bin = found
        self._root = Path(tempfile.mkdtemp(prefix="gatekeeper-pg-"))
        self._root.chmod(0o755)
        self.data = self._root / "data"
        self.socket_dir = self._root
        self._initialised = False
        self.running = False

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def dsn(self, user: str = SUPERUSER, dbname: str = "postgres") -> str:
        """A DSN without password for this server (passwords come from files)."""
        return f"host={self.socket_dir} port={PORT} dbname={dbname} user={user}"

    def superuser_dsn(self, dbname: str = "postgres") -> str:
        """A DSN with the superuser's password, for test setup only."""
        return f"{self.dsn(SUPERUSER, dbname)} password={SUPERUSER_PASSWORD}"

    def start(self) -> None:
        """Create the cluster on first use, then start the server and wait until it accepts."""
        if not self._initialised:
            self._initdb()
        self._run(
            str(self._bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self._root / "server.log"),
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "start",
        )
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`immediate` is a crash); the data stays for the next `start`."""
        if self.running:
            self._run(str(self._bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
            self.running = False

    def close(self) -> None:
        """Stop the server and remove the cluster."""
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self._root, ignore_errors=True)

    def log_text(self) -> str:
        """The server's log, for a failing test's output."""
        path = self._root / "server.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def _initdb(self) -> None:
        password_file = self._root / "superuser.password"
        password_file.write_text(SUPERUSER_PASSWORD + "\n", encoding="utf-8")
        self._give(password_file)
        self._give(self._root)
        self._run(
            str(self._bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            f"--pwfile={password_file}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        password_file.unlink()
        settings = (
            "listen_addresses = ''\n"
            f"unix_socket_directories = '{self.socket_dir}'\n"
            f"port = {PORT}\n"
            "fsync = off\n"
            "full_page_writes = off\n"
            "shared_buffers = 32MB\n"
            "max_connections = 50\n"
        )
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(settings)
        self._initialised = True

    def _give(self, path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, UNPRIVILEGED_USER)

    def _run(self, *command: str) -> None:
        if os.geteuid() == 0:
            command = ("runuser", "-u", UNPRIVILEGED_USER, "--", *command)
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd="/")
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}\n"
                f"{self.log_text()[-2000:]}"
            )
