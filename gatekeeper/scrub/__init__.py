"""Scrubbing a calling list: every row decided as a live call would be, one record for the lot."""

from __future__ import annotations

from gatekeeper.scrub.batch import PinnedList, ScrubRequest, ScrubResult, scrub

__all__ = ["PinnedList", "ScrubRequest", "ScrubResult", "scrub"]
