"""PostgreSQL: the shared act store with its local replica, and the central decision log."""
