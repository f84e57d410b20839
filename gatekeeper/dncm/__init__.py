"""The local DNCM index: list file parsing, snapshot build and swap, lookups, sync sources."""
