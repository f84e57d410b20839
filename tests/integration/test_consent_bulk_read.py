"""`SqliteActStore.acts_by_number`: one read giving what `acts_for` gives for every number."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest
from gatekeeper.consent import ActRecord, RecordKind, open_act_store

RECORDS = (
    ActRecord(RecordKind.CONSENT, "acme", "+32470123456", date(2024, 1, 5), time(10, 30)),
    ActRecord(RecordKind.OBJECTION, "acme", "+32470123456", date(2024, 1, 5)),
    ActRecord(RecordKind.CONSENT, "acme", "+32470123456", date(2023, 1, 5), reference="b"),
    ActRecord(RecordKind.OBJECTION, "acme", "+3225112233", date(2022, 2, 2)),
    ActRecord(RecordKind.CONSENT, "globex", "+32470999999", date(2022, 2, 2)),
    ActRecord(RecordKind.CONSENT, "acme", "+32470888888", date(2022, 2, 2)),
)


@pytest.mark.asyncio
async def test_acts_by_number_equals_acts_for_each_number(tmp_path: Path) -> None:
    """Per number, the bulk read holds exactly acts_for's (objections, consents), in order."""
    async with await open_act_store(tmp_path / "acts.sqlite") as store:
        await store.add_all(RECORDS)
        revoked = await store.add(
            ActRecord(RecordKind.CONSENT, "acme", "+32470888888", date(2024, 3, 3))
        )
        await store.revoke(revoked.stored.record_id, RecordKind.CONSENT)
        bulk = await store.acts_by_number("acme")
        numbers = {record.e164 for record in RECORDS}
        one_by_one = {e164: await store.acts_for("acme", e164) for e164 in numbers}
    expected = {e164: acts for e164, acts in one_by_one.items() if acts != ((), ())}
    assert bulk == expected
    assert "+32470999999" not in bulk
