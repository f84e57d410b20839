"""The central reader's page cursor: `node:seq`, anything else refused naming `before`."""

from __future__ import annotations

import pytest
from gatekeeper.console.central_reader import node_cursor, parse_node_cursor
from gatekeeper.console.reader import CursorError


def test_a_cursor_reads_back_its_node_and_seq() -> None:
    """A cursor written for a row (a node name may hold dots) reads back as that row."""
    assert parse_node_cursor(node_cursor("pbx.a-1", 42)) == ("pbx.a-1", 42)


@pytest.mark.parametrize("cursor", ["42", ":42", "pbx_a:", "pbx_a:-1", "-x:1", "pbx_a:4e2"])
def test_a_cursor_of_another_form_is_refused(cursor: str) -> None:
    """A local seq cursor, a missing node or seq, or a bad one is refused naming the field."""
    with pytest.raises(CursorError, match=r"^before:"):
        parse_node_cursor(cursor)
