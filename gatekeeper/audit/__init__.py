"""The compliance record: every decision and event in one hash-chained, append-only log."""
