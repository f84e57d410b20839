"""CSV import reports a bad row at the line where that row starts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from gatekeeper.common.errors import RecordRejectedError
from gatekeeper.consent import RecordKind
from gatekeeper.consent.acts_input import read_csv

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_bad_row_after_a_multi_line_field_is_named_by_its_own_line(tmp_path: Path) -> None:
    """A quoted reference spanning lines 2-3 does not shift the line of the bad row after it."""
    path = tmp_path / "consents.csv"
    path.write_text(
        "number,advertiser,date,source,reference\n"
        '0470123456,acme,2026-01-05,web,"form 12\nsecond line"\n'
        "0470123457,acme,2026-13-40,web,ref\n",
        encoding="utf-8",
    )
    with pytest.raises(RecordRejectedError) as refused:
        read_csv(path, RecordKind.CONSENT, {"acme"}, NOW)
    assert f"{path}:4: date" in str(refused.value)


def test_bad_multi_line_row_is_named_by_its_first_line(tmp_path: Path) -> None:
    """A bad row whose field spans two lines is named by the line it starts on."""
    path = tmp_path / "consents.csv"
    path.write_text(
        "number,advertiser,date,source,reference\n"
        '0470123456,acme,2026-13-40,web,"form 12\nsecond line"\n',
        encoding="utf-8",
    )
    with pytest.raises(RecordRejectedError) as refused:
        read_csv(path, RecordKind.CONSENT, {"acme"}, NOW)
    assert f"{path}:2: date" in str(refused.value)
