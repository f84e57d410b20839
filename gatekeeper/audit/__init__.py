"""The decision log: append-only, hash-chained, the compliance record."""
