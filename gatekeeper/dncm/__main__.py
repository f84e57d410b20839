"""`python -m gatekeeper.dncm sync`: the sync command alone, run as a child process by `serve`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gatekeeper.common import configure_logging
from gatekeeper.config import run_handler
from gatekeeper.dncm.cli import register


def main(argv: Sequence[str] | None = None) -> int:
    """Run `sync` with the same arguments and exit codes as `gatekeeper sync`."""
    parser = argparse.ArgumentParser(prog="python -m gatekeeper.dncm")
    parser.add_argument("-c", "--config", metavar="PATH")
    subparsers = parser.add_subparsers(dest="command", required=True)
    register(subparsers)
    args = parser.parse_args(argv)
    configure_logging(stream=sys.stderr)
    return run_handler(args)


if __name__ == "__main__":
    sys.exit(main())
