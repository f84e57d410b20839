"""Stores shared by several gatekeeper nodes (docs/scaling.md); SQLite stays the default."""
