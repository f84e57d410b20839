"""A purge's checkpoint record read back: what it vouches for, or nothing when it is malformed."""

from __future__ import annotations

import pytest
from gatekeeper.audit import Checkpoint, purge_checkpoint


def test_a_checkpoint_body_gives_the_seq_and_hash_it_vouches_for() -> None:
    """The seq and hash of the last purged record are what the next record may link to."""
    body = '{"purged_last_hash":"ab12","purged_through_seq":41}'
    assert purge_checkpoint(body) == Checkpoint(41, "ab12")


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        '{"purged_last_hash":"ab12"}',
        '{"purged_through_seq":"forty","purged_last_hash":"ab12"}',
        "[41]",
    ],
    ids=["not_json", "no_seq", "seq_not_a_number", "not_an_object"],
)
def test_a_malformed_checkpoint_body_vouches_for_nothing(body: str) -> None:
    """A damaged checkpoint is skipped (the chain then fails to verify there), never a crash."""
    assert purge_checkpoint(body) is None
