"""The long-running service: wiring, health, metrics, disk space."""

from __future__ import annotations

from gatekeeper.serve.app import Services, open_services, serve
from gatekeeper.serve.limits import Limits

__all__ = ["Limits", "Services", "open_services", "serve"]
