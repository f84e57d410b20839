"""Which nodes `audit nodes --central` flags, from what the central copy shows of each."""

from __future__ import annotations

from datetime import UTC, date, datetime

from gatekeeper.stores.postgres.nodes import Flag, LiveList, NodeReading, compare

NEWEST = date(2026, 11, 30)


def node(name: str, list_date: date | None, sha: str = "a", silent_s: float = 0.0) -> NodeReading:
    """A node showing this list (none when `list_date` is None)."""
    live = None if list_date is None else LiveList(list_date, sha * 64, 10, None, 1)
    received = datetime(2026, 12, 1, tzinfo=UTC)
    return NodeReading(name, (), 5, received, silent_s, live, ())


def test_two_nodes_on_the_newest_date_that_disagree_are_both_flagged() -> None:
    """On a tie nobody's sha256 is the reference: every node on the newest date DIFFERS."""
    view = compare([node("a", NEWEST, "a"), node("b", NEWEST, "b")])
    assert view.flags == {"a": (Flag.DIFFERS,), "b": (Flag.DIFFERS,)}
    assert view.reference_sha256 is None


def test_an_older_node_is_behind_not_compared_on_its_sha256() -> None:
    """A node on an older date is BEHIND only; the newest date's nodes agree among themselves."""
    view = compare([node("a", NEWEST, "a"), node("b", date(2026, 11, 1), "b")])
    assert view.flags == {"a": (), "b": (Flag.BEHIND,)}


def test_no_list_and_silence_are_flagged_together() -> None:
    """A node with no list past the silence bound carries both flags; the silence is opt-in."""
    readings = [node("a", NEWEST), node("b", None, silent_s=900.0)]
    assert compare(readings).flags["b"] == (Flag.NO_LIST,)
    assert compare(readings, max_silence_s=600).flags["b"] == (Flag.NO_LIST, Flag.SILENT)
