"""A writer killed with SIGKILL under load never leaves an answered decision without its record."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from gatekeeper.audit.store import verify_log

ANSWERED_BEFORE_KILL = 2000
CHILD = r"""
import asyncio, os, sys
from datetime import UTC, datetime
from pathlib import Path
from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.records import DecisionEntry

async def worker(log, n):
    while True:
        entry = DecisionEntry(
            at=datetime.now(UTC), source="agi", campaign="spring-promo", purpose="commercial",
            advertiser="acme", dialled=f"0470{n:06d}", e164=None, verdict="allow",
            reason="not_listed", rule="not listed", snapshot=None, evidence=(), host="child")
        decision_id = await log.record(entry)
        os.write(1, f"answered {decision_id}\n".encode())

async def main():
    log = await DecisionLog.open(Path(sys.argv[1]))
    os.write(1, b"ready\n")
    await asyncio.gather(*(worker(log, n) for n in range(32)))

asyncio.run(main())
"""


def test_every_answered_decision_survives_sigkill(tmp_path: Path) -> None:
    """Ids printed after record() returned are all in the log after SIGKILL, and it verifies."""
    log_file = tmp_path / "decisions.sqlite"
    answered: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(log_file)], stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        try:
            for line in child.stdout:
                if line.startswith("answered "):
                    answered.append(line.split()[1])
                if len(answered) >= ANSWERED_BEFORE_KILL:
                    break
            child.send_signal(signal.SIGKILL)
            answered.extend(
                line.split()[1] for line in child.stdout if line.startswith("answered ")
            )
        finally:
            child.kill()
            child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    with sqlite3.connect(log_file) as conn:
        stored = {str(row[0]) for row in conn.execute("SELECT id FROM chain")}
    missing = [decision_id for decision_id in answered if decision_id not in stored]
    result = verify_log(log_file)
    assert (len(answered) >= ANSWERED_BEFORE_KILL, missing, result.ok) == (True, [], True)
