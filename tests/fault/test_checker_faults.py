"""The checker fails closed, within its own deadline, when a store stalls or breaks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from gatekeeper.audit.records import DecisionEntry
from gatekeeper.check.checker import CHECK_DEADLINE_S, CallRequest, Checker
from gatekeeper.common.clock import today
from gatekeeper.config import LiveSettings
from gatekeeper.dncm.index import ListIndex
from gatekeeper.dncm.sync import import_list_file
from gatekeeper.rules.policy import Act
from tools.gatekeeper_run import SAMPLE_LIST, write_run_config

pytestmark = pytest.mark.asyncio


class StalledDisk:
    """A decision log whose writes never complete (a hung disk): impossible to stage for real."""

    async def record(self, entry: DecisionEntry) -> str:
        """Never return."""
        del entry
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    def record_late(self, entry: DecisionEntry, why: str) -> bool:
        """Refuse: the disk is hung."""
        del entry, why
        return False


class BrokenStore:
    """A consent store that returns garbage it cannot parse (a corrupted row)."""

    async def acts_for(self, advertiser: str, e164: str) -> tuple[tuple[Act, ...], tuple[Act, ...]]:
        """Fail the way a bad stored date does."""
        raise ValueError(f"Invalid isoformat string: '2026-02-30' ({advertiser}, {e164})")


class StalledActs:
    """A consent store that never answers (a hung connection): impossible to stage for real."""

    async def acts_for(self, advertiser: str, e164: str) -> tuple[tuple[Act, ...], tuple[Act, ...]]:
        """Never return."""
        del advertiser, e164
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


class Recorded:
    """A decision log that keeps what it is given."""

    def __init__(self) -> None:
        self.entries: list[DecisionEntry] = []

    async def record(self, entry: DecisionEntry) -> str:
        """Keep the entry."""
        self.entries.append(entry)
        return str(len(self.entries))

    def record_late(self, entry: DecisionEntry, why: str) -> bool:
        """Keep the entry."""
        del why
        self.entries.append(entry)
        return True


class NoActs:
    """A consent store with no records."""

    async def acts_for(self, advertiser: str, e164: str) -> tuple[tuple[Act, ...], tuple[Act, ...]]:
        """Nothing for anyone."""
        del advertiser, e164
        return (), ()


@pytest.fixture
def live(tmp_path: Path) -> LiveSettings:
    """The example config with the sample list imported today."""
    settings = LiveSettings(
        write_run_config(tmp_path, agi_port=4573, ami_port=5038, ami_secret="s")
    )
    import_list_file(
        settings.current().data_dir / "dncm", SAMPLE_LIST, source="t", list_date=today()
    )
    return settings


async def test_stalled_log_turns_an_allow_into_a_block_within_the_deadline(
    live: LiveSettings,
) -> None:
    """An unlisted number, the log hangs: BLOCK internal_error, answered before the deadline."""
    index = ListIndex(live.current().data_dir / "dncm")
    checker = Checker(live.current, index, NoActs(), StalledDisk())
    try:
        async with asyncio.timeout(CHECK_DEADLINE_S + 0.5):
            result = await checker.check(CallRequest("0470999999", "spring-promo", "test"))
    finally:
        index.close()
    assert (result.decision.reason.value, result.decision_id, checker.record_failure is None) == (
        "internal_error",
        None,
        False,
    )


async def test_the_record_deadline_given_is_the_one_in_force(live: LiveSettings) -> None:
    """A checker given `record_deadline_s=0.05` blocks a hung log's ALLOW after 0.05 s, not 1 s."""
    index = ListIndex(live.current().data_dir / "dncm")
    checker = Checker(live.current, index, NoActs(), StalledDisk(), record_deadline_s=0.05)
    try:
        async with asyncio.timeout(0.5):
            result = await checker.check(CallRequest("0470999999", "spring-promo", "test"))
    finally:
        index.close()
    assert (result.decision.reason.value, checker.record_failure) == (
        "internal_error",
        "no commit within 0.05 s (decision log locked or slow)",
    )


async def test_the_facts_deadline_given_is_the_one_in_force(live: LiveSettings) -> None:
    """A checker given `facts_deadline_s=0.05` blocks when the acts stall past 0.05 s, not 0.5 s."""
    index = ListIndex(live.current().data_dir / "dncm")
    recorded = Recorded()
    checker = Checker(live.current, index, StalledActs(), recorded, facts_deadline_s=0.05)
    try:
        async with asyncio.timeout(0.4):
            result = await checker.check(CallRequest("0470999999", "spring-promo", "test"))
    finally:
        index.close()
    assert (result.decision.reason.value, result.decision.rule) == (
        "internal_error",
        "facts unavailable: TimeoutError()",
    )


async def test_any_error_gathering_facts_blocks_and_is_recorded(live: LiveSettings) -> None:
    """A consent store raising an unexpected error: BLOCK internal_error, and the block recorded."""
    index = ListIndex(live.current().data_dir / "dncm")
    recorded = Recorded()
    checker = Checker(live.current, index, BrokenStore(), recorded)
    try:
        result = await checker.check(CallRequest("0470999999", "spring-promo", "test"))
    finally:
        index.close()
    assert (result.decision.reason.value, [e.reason for e in recorded.entries]) == (
        "internal_error",
        ["internal_error"],
    )
