"""`make demo`: a real Asterisk asks the gatekeeper about four campaign calls.

Imports the bundled sample list, starts Asterisk and `gatekeeper serve` on the example
configuration, originates calls on the gated example route (a listed number and an unlisted one
on a commercial campaign, the listed one on an informational campaign, and a campaign nobody
configured), prints each decision as a compliance officer reads it, starts the web console
with two first accounts (kept up until Enter when run from a terminal), and stops all it started.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gatekeeper.common.clock import today
from gatekeeper.common.logs import configure_logging

from tools.asterisk_sandbox import REPO, free_port
from tools.calls import CallSpec, place_through
from tools.gatekeeper_run import GATEKEEPER, GatekeeperRun, gatekeeper, wait_for_port

DEMO_CALLS = [
    CallSpec("0470 12 34 56", "spring-promo"),
    CallSpec("0470999999", "spring-promo"),
    CallSpec("+32470123456", "delivery-notice"),
    CallSpec("0470999999", "summer-sale"),
]


def show_console(config: Path, port: int) -> None:
    """Start the web console with a first officer account; keep it up while someone looks."""
    password = secrets.token_urlsafe(12)
    for name, role in (("officer", "officer"), ("editor", "editor")):
        subprocess.run(
            [str(GATEKEEPER), "-c", str(config), "console", "user", "add", name, "--role", role],
            input=password + "\n",
            text=True,
            check=True,
            capture_output=True,
        )
    log = config.parent / "console.log"
    with log.open("wb") as out:
        console = subprocess.Popen(
            [str(GATEKEEPER), "-c", str(config), "console", "serve"], stdout=out, stderr=out
        )
        try:
            wait_for_port(port, console, timeout=30)
            print()
            print(f"web console (docs/console.md): http://127.0.0.1:{port}/")
            print(
                f"  log in as 'officer' (search, reports) or 'editor' (acts), password {password}"
            )
            if sys.stdin.isatty():
                input("  press Enter to stop the demo ")
        finally:
            console.terminate()
            console.wait(timeout=15)


def main() -> int:
    """Run the demo; exit 0 when every call went the way the law says."""
    configure_logging(level=logging.WARNING)
    run_dir = REPO / ".run" / "demo"
    console_port = free_port()

    def with_console(config: dict[str, Any]) -> None:
        config["console"] = {"listen": f"127.0.0.1:{console_port}", "secure_cookies": False}

    with GatekeeperRun(run_dir, customise=with_console) as run:
        print(f"DNCM list imported: {run.sync_summary}")
        calls = asyncio.run(place_through(run.sandbox, DEMO_CALLS))
        print()
        print("What Asterisk did with each call:")
        for call in calls:
            went = "reached the trunk" if call.reached_trunk else "never left the PBX"
            print(
                f"  {call.spec.campaign:16} {call.spec.number:14} -> {call.decision or '?':5} "
                f"{call.reason:24} {went}"
            )
        print()
        print("The decision log, as a compliance officer reads it (gatekeeper audit show):")
        print(gatekeeper(run.config, "audit", "show").stdout.rstrip())
        verify = gatekeeper(run.config, "audit", "verify", check=False)
        print()
        print(f"gatekeeper audit verify: {verify.stdout.strip()}")
        report = run_dir / "report.html"
        day = today().isoformat()
        gatekeeper(
            run.config,
            "audit",
            "report",
            "--since",
            day,
            "--until",
            day,
            "--number",
            "0470 12 34 56",
            "--output",
            str(report),
        )
        print(f"gatekeeper audit report (for an inspector, NL/FR): {report}")
        show_console(run.config, console_port)
    expected = {
        ("spring-promo", "0470 12 34 56"): False,
        ("spring-promo", "0470999999"): True,
        ("delivery-notice", "+32470123456"): True,
        ("summer-sale", "0470999999"): False,
    }
    wrong = [c for c in calls if expected[c.spec.campaign, c.spec.number] != c.reached_trunk]
    for call in wrong:
        print(f"UNEXPECTED: {call.spec} reached_trunk={call.reached_trunk}", file=sys.stderr)
    return 1 if wrong or verify.returncode != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
