"""`gatekeeper sync` and the scheduled sync of `serve`, against real files and real configs."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from gatekeeper.common.clock import today as legal_today
from gatekeeper.config import load_settings
from gatekeeper.dncm.__main__ import main
from gatekeeper.dncm.history import sync_history
from gatekeeper.dncm.index import ListIndex
from gatekeeper.dncm.sync import SyncStatus, sync_forever, sync_now

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "sample-dncm.txt"
GATEKEEPER = str(Path(sys.executable).parent / "gatekeeper")


def _config(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "gatekeeper.yaml"
    path.write_text(
        "licensee: {name: Test NV, role: service_provider, licence_valid_until: 2099-01-01}\n"
        "data_dir: data\n"
        f"dncm:\n  source: {source}\n  max_rejected_lines: 0\n"
        "  layout: {separator: ';', header: true}\n"
    )
    return path


def test_sync_prints_one_summary_line_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A good import prints rows, changes, sha256 and list date on one stdout line."""
    config = _config(tmp_path, f"{{file: {SAMPLE}}}")
    assert main(["-c", str(config), "sync", "--list-date", "2024-05-01"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert "30 rows" in out[0]
    assert "list date 2024-05-01" in out[0]
    assert "sha256 " in out[0]


def test_sync_never_prints_list_content(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No number of the list appears in the command's output."""
    config = _config(tmp_path, f"{{file: {SAMPLE}}}")
    main(["-c", str(config), "sync", "--json"])
    output = "".join(capsys.readouterr())
    numbers = [line.split(";")[0] for line in SAMPLE.read_text().splitlines()[1:]]
    assert not [n for n in numbers if n[1:] in output]


def test_refused_file_exits_1_and_keeps_the_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refused file exits 1, says why on stderr, and the previous list stays live."""
    config = _config(tmp_path, f"{{file: {SAMPLE}}}")
    assert main(["-c", str(config), "sync"]) == 0
    bad = tmp_path / "bad.txt"
    bad.write_text(SAMPLE.read_text() + "not-a-number;2020-01-01\n")
    assert main(["-c", str(config), "sync", "--file", str(bad)]) == 1
    assert "line 32" in capsys.readouterr().err
    assert ListIndex(tmp_path / "data" / "dncm").snapshot().rows == 30  # type: ignore[union-attr]


def test_configuration_error_exits_2(tmp_path: Path) -> None:
    """A broken configuration is exit code 2."""
    config = tmp_path / "gatekeeper.yaml"
    config.write_text("licensee: {}\n")
    assert main(["-c", str(config), "sync"]) == 2


def test_no_configured_source_exits_2(tmp_path: Path) -> None:
    """Without --file and without dncm.source there is nothing to sync: a config error."""
    config = tmp_path / "gatekeeper.yaml"
    config.write_text(
        "licensee: {name: T, role: advertiser, licence_valid_until: 2099-01-01}\ndata_dir: d\n"
    )
    assert main(["-c", str(config), "sync"]) == 2


def test_drop_folder_imports_the_newest_complete_file(tmp_path: Path) -> None:
    """From a drop folder the newest file is imported; files still uploading are ignored."""
    drop = tmp_path / "drop"
    drop.mkdir()
    old = drop / "dncm-old.txt"
    old.write_text("numero;date\n0470000001;2019-01-01\n")
    new = drop / "dncm-new.txt"
    new.write_text(SAMPLE.read_text())
    uploading = drop / "dncm-next.txt.part"
    uploading.write_text("numero;date\n0470000002;2019-01-01\n")
    for age, file in ((300, old), (100, new), (0, uploading)):
        stamp = 1_714_600_000 - age
        os.utime(file, (stamp, stamp))
    settings = load_settings(_config(tmp_path, f"{{drop_folder: {drop}}}"))
    report = sync_now(settings)
    assert (report.record.rows, report.record.source) == (30, f"drop:{new}")


@pytest.mark.asyncio
async def test_scheduled_sync_imports_at_start_when_no_list(tmp_path: Path) -> None:
    """`serve` syncs at once when it has no list, in a child process, and the index follows."""
    settings = load_settings(_config(tmp_path, f"{{file: {SAMPLE}}}"))
    index = ListIndex(settings.data_dir / "dncm")
    stop = asyncio.Event()
    status = SyncStatus()
    task = asyncio.create_task(sync_forever(lambda: settings, index, stop, status=status))
    try:
        async with asyncio.timeout(60):
            while not (status.last_report or status.failures):
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    assert (status.failures, status.last_report["rows"]) == (0, 30)
    assert index.listing_date(32470123456) == date(2019, 3, 14)


@pytest.mark.asyncio
async def test_failed_scheduled_sync_alerts_and_keeps_the_list(tmp_path: Path) -> None:
    """A failing source counts a failure, records the error, and leaves the last good list."""
    missing = tmp_path / "missing.txt"
    good = load_settings(_config(tmp_path, f"{{file: {SAMPLE}}}"))
    sync_now(good, list_date=date(2025, 1, 1))
    settings = load_settings(_config(tmp_path, f"{{file: {missing}}}"))
    index = ListIndex(settings.data_dir / "dncm")
    stop = asyncio.Event()
    status = SyncStatus()
    task = asyncio.create_task(sync_forever(lambda: settings, index, stop, status=status))
    try:
        async with asyncio.timeout(60):
            while status.failures == 0:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    assert status.consecutive_failures == 1
    assert "missing.txt" in (status.last_error or "")
    assert [r.snapshot_id for r in sync_history(settings.data_dir / "dncm")] == [1]
    assert index.listing_date(32470123456) == date(2019, 3, 14)
    assert json.dumps(status.last_report) == "{}"


def test_folder_given_as_the_file_is_a_clear_failure(tmp_path: Path) -> None:
    """`sync --file FOLDER` exits 1 with a message naming it, not a traceback."""
    config = _config(tmp_path, f"{{file: {SAMPLE}}}")
    done = subprocess.run(
        [GATEKEEPER, "-c", str(config), "sync", "--file", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, "not a list file" in done.stderr, "Traceback" in done.stderr) == (
        1,
        True,
        False,
    )


def test_list_date_in_the_future_is_refused(tmp_path: Path) -> None:
    """A list dated after tomorrow cannot be right: the sync is refused and nothing replaced."""
    config = _config(tmp_path, f"{{file: {SAMPLE}}}")
    future = (legal_today() + timedelta(days=30)).isoformat()
    done = subprocess.run(
        [GATEKEEPER, "-c", str(config), "sync", "--file", str(SAMPLE), "--list-date", future],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, "in the future" in done.stderr) == (1, True)
