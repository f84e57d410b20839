"""The long-running service: wiring, health, metrics, disk space."""
