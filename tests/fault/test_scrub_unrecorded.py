"""A scrub whose record cannot be committed leaves no scrubbed list behind."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from gatekeeper.audit.schema import log_path
from gatekeeper.cli import main
from gatekeeper.common.clock import today

CONFIG = """\
licensee: {name: Example Contact NV, role: service_provider, licence_valid_until: 2099-06-30}
data_dir: data
dncm: {source: {file: dncm.txt}}
advertisers: {acme: {name: ACME Energy BV}}
campaigns: {spring-promo: {purpose: commercial, advertiser: acme}}
"""


@pytest.fixture(autouse=True)
def _default_logging() -> Iterator[None]:
    """`cli.main` points structlog at this test's captured stderr: put the default back after."""
    yield
    structlog.reset_defaults()


def test_unrecordable_scrub_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """When the log refuses the scrub record, exit 1 and the old output stays as it was."""
    config = tmp_path / "gatekeeper.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    (tmp_path / "dncm.txt").write_text("0470123456;2019-03-14\n", encoding="utf-8")
    assert main(["-c", str(config), "sync", "--list-date", today().isoformat()]) == 0
    with sqlite3.connect(log_path(tmp_path / "data")) as conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON chain "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    conn.close()
    source = tmp_path / "list.csv"
    source.write_text("phone\n0470123456\n0470999999\n", encoding="utf-8")
    output = tmp_path / "out.csv"
    output.write_text("yesterday's list\n", encoding="utf-8")
    capsys.readouterr()
    argv = ["scrub", str(source), "--campaign", "spring-promo", "--output", str(output)]
    assert main(["-c", str(config), *argv]) == 1
    captured = capsys.readouterr()
    assert (captured.out, "disk full" in captured.err) == ("", True)
    assert output.read_text(encoding="utf-8") == "yesterday's list\n"
    assert sorted(p.name for p in tmp_path.iterdir() if "out.csv" in p.name) == ["out.csv"]
