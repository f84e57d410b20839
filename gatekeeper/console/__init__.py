"""The compliance officers' web console (docs/console.md)."""
