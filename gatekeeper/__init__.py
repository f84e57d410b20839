"""Gatekeeper: decides, for every dialled number, whether a campaign call may be placed."""

__version__ = "0.1.0"
