"""Head anchors: a decision log cut at its end, with its head moved back, no longer verifies."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gatekeeper.audit.anchor import FileAnchor, anchor_dir
from gatekeeper.audit.anchoring import HeadAnchorer
from gatekeeper.audit.chain import AnchoredHead, record_hash
from gatekeeper.audit.log import DecisionLog
from gatekeeper.audit.purge import purge_before
from gatekeeper.audit.report_data import gather
from gatekeeper.audit.report_html import render
from gatekeeper.audit.schema import log_path
from gatekeeper.audit.store import quick_check, verify_log
from gatekeeper.common.clock import today
from gatekeeper.common.errors import AuditError
from structlog.testing import capture_logs
from tools.calls import CallSpec, place_through
from tools.gatekeeper_run import GatekeeperRun, gatekeeper, write_run_config

from audit_support import NOT_LISTED

ENTRY = dataclasses.replace(NOT_LISTED, snapshot=None, uniqueid="")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The example config with the sample list and three decisions taken by `gatekeeper check`."""
    path = write_run_config(tmp_path, agi_port=4573, ami_port=5038, ami_secret="unused")
    gatekeeper(path, "sync", "--list-date", today().isoformat())
    for number in ("0470999991", "0470999992", "0470999993"):
        gatekeeper(path, "check", number, "--campaign", "spring-promo")
    return path


def _log_of(config: Path) -> Path:
    return log_path(config.parent / "data")


def _cut_tail(log_file: Path, keep: int) -> None:
    """Delete every record after `keep` and move the head back to it: no hash recomputed."""
    with sqlite3.connect(log_file) as conn:
        conn.execute("DELETE FROM chain WHERE seq > ?", (keep,))
        (digest,) = conn.execute("SELECT hash FROM chain WHERE seq = ?", (keep,)).fetchone()
        conn.execute("UPDATE head SET seq = ?, hash = ?", (keep, digest))


def _last_seq(log_file: Path) -> int:
    with sqlite3.connect(log_file) as conn:
        (last,) = conn.execute("SELECT MAX(seq) FROM chain").fetchone()
    return int(last)


def test_cut_tail_fails_verify_naming_the_anchored_record(config: Path) -> None:
    """Records removed from the end, head moved back: `verify` exits 1 naming the anchored seq."""
    log_file = _log_of(config)
    last = _last_seq(log_file)
    _cut_tail(log_file, last - 2)
    done = gatekeeper(config, "audit", "verify", check=False)
    assert (done.returncode, f"record {last} was anchored at" in done.stdout) == (1, True)


def test_intact_log_verifies_and_says_how_far_it_vouches(config: Path) -> None:
    """Without a cut, `verify` exits 0 and says records after the last anchor are unvouched."""
    last = _last_seq(_log_of(config))
    done = gatekeeper(config, "audit", "verify")
    assert f"(seq {last}) cannot be vouched for against truncation" in done.stdout


@pytest.mark.parametrize("command", [("show",), ("export", "--format", "csv")])
def test_show_and_export_warn_on_a_cut_tail(config: Path, command: tuple[str, ...]) -> None:
    """`audit show` and `audit export` warn on stderr when the log ends before its last anchor."""
    _cut_tail(_log_of(config), _last_seq(_log_of(config)) - 1)
    done = gatekeeper(config, "audit", *command)
    assert "WARNING: the decision log does not verify" in done.stderr


@pytest.mark.parametrize("command", [("show",), ("export", "--format", "csv")])
def test_show_and_export_are_quiet_on_an_intact_log(config: Path, command: tuple[str, ...]) -> None:
    """On an intact, anchored log `show` and `export` write nothing on stderr."""
    assert gatekeeper(config, "audit", *command).stderr == ""


def _fill(path: Path, count: int) -> None:
    async def fill() -> None:
        log = await DecisionLog.open(path)
        try:
            for minute in range(count):
                at = ENTRY.at + timedelta(minutes=minute)
                await log.record(dataclasses.replace(ENTRY, at=at, dialled=f"0470{minute}"))
        finally:
            await log.close()

    asyncio.run(fill())


@pytest.fixture
def anchored_log(tmp_path: Path) -> Path:
    """Six decisions by the real writer, the head anchored after the fourth and the sixth."""
    path = tmp_path / "audit" / "decisions.sqlite"
    _fill(path, 4)
    HeadAnchorer(path).anchor_now()
    _fill(path, 2)
    HeadAnchorer(path).anchor_now()
    return path


def test_report_names_a_cut_tail(anchored_log: Path) -> None:
    """The HTML report's chain section says the log ends before its anchored record 6."""
    _cut_tail(anchored_log, 4)
    data = gather(anchored_log, ENTRY.at - timedelta(days=1), ENTRY.at + timedelta(days=1))
    page = render(data, max_age_days=5)
    assert "CHAIN BROKEN)</span>: record 6: record 6 was anchored at" in page


def test_rewritten_chain_with_recomputed_hashes_fails_at_the_anchor(anchored_log: Path) -> None:
    """Record 3 changed and every later hash and the head recomputed: caught at anchored seq 4."""
    with sqlite3.connect(anchored_log) as conn:
        conn.execute("UPDATE chain SET verdict = 'block' WHERE seq = 3")
        prev = conn.execute("SELECT hash FROM chain WHERE seq = 2").fetchone()[0]
        for seq in range(3, 7):
            row = conn.execute("SELECT * FROM chain WHERE seq = ?", (seq,)).fetchone()
            content = (*row[:11], prev)
            prev = record_hash(content)
            conn.execute(
                "UPDATE chain SET prev_hash = ?, hash = ? WHERE seq = ?", (content[11], prev, seq)
            )
        conn.execute("UPDATE head SET hash = ?", (prev,))
    result = verify_log(anchored_log)
    assert (result.ok, result.bad_seq, "rewritten" in result.problem) == (False, 4, True)


def test_quick_check_sees_a_cut_tail(anchored_log: Path) -> None:
    """The bounded check of `show`/`export` catches a log cut before its newest anchor."""
    _cut_tail(anchored_log, 5)
    result = quick_check(anchored_log)
    assert (result.ok, result.bad_seq) == (False, 6)


def test_quick_check_passes_an_intact_log(anchored_log: Path) -> None:
    """The bounded check passes the untouched log and names its newest anchor."""
    result = quick_check(anchored_log)
    assert (result.ok, result.anchored.seq if result.anchored else None) == (True, 6)


def test_anchor_is_written_only_when_the_head_moved(anchored_log: Path) -> None:
    """A second anchoring with no new record writes nothing."""
    assert HeadAnchorer(anchored_log).anchor_now() is None


def test_anchorer_does_not_anchor_over_a_cut_chain(anchored_log: Path) -> None:
    """After a cut the anchorer logs `audit_anchor_broken` and writes no anchor over it."""
    _cut_tail(anchored_log, 3)
    _fill(anchored_log, 5)
    with capture_logs() as logs:
        written = HeadAnchorer(anchored_log).anchor_now()
    events = [entry["event"] for entry in logs]
    assert (written, "audit_anchor_broken" in events) == (None, True)


def test_anchors_before_a_purge_are_passed_over(anchored_log: Path) -> None:
    """An anchor naming a record a purge removed does not fail the chain; later ones still hold."""
    anchor = FileAnchor(anchor_dir(anchored_log))
    anchor.append(AnchoredHead(1, "f" * 64, datetime.now(UTC)))
    purge_before(anchored_log, ENTRY.at + timedelta(minutes=2))
    result = verify_log(anchored_log, anchor)
    assert (result.ok, result.first_seq, result.anchors_checked) == (True, 3, 2)


def test_unreadable_anchor_line_is_named_and_skipped(anchored_log: Path) -> None:
    """A torn anchor line is named in the problems; the next anchor starts on a line of its own."""
    anchor = FileAnchor(anchor_dir(anchored_log))
    (path,) = anchor.folder.iterdir()
    with path.open("a", encoding="ascii") as out:
        out.write('{"seq": 7, "ha')
    _fill(anchored_log, 1)
    HeadAnchorer(anchored_log, anchor).anchor_now()
    seqs = [head.seq for head in anchor.heads()]
    assert (seqs, len(anchor.problems)) == ([4, 6, 7], 1)


def test_run_anchors_while_the_service_runs(anchored_log: Path) -> None:
    """The service's loop anchors a head that moved, without waiting for the stop."""
    anchor = FileAnchor(anchor_dir(anchored_log))

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(HeadAnchorer(anchored_log, anchor).run(stop, interval_s=0.05))
        log = await DecisionLog.open(anchored_log)
        try:
            await log.record(ENTRY)
        finally:
            await log.close()
        for _ in range(100):
            if anchor.latest() is not None and anchor.latest().seq == 7:  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task

    asyncio.run(scenario())
    assert [head.seq for head in anchor.heads()] == [4, 6, 7]


@pytest.mark.asterisk
@pytest.mark.asyncio
async def test_serve_anchors_its_head_at_stop(gatekeeper_run: GatekeeperRun) -> None:
    """After a call through Asterisk and SIGTERM, the newest anchor is the chain's last record."""
    [call] = await place_through(
        gatekeeper_run.sandbox, [CallSpec("0470999999", "spring-promo")], limit_s=60
    )
    gatekeeper_run.stop_gatekeeper()
    log_file = log_path(gatekeeper_run.run_dir / "data")
    latest = FileAnchor(anchor_dir(log_file)).latest()
    served = (gatekeeper_run.run_dir / "serve.log").read_text(encoding="utf-8")
    assert (call.decision, latest.seq if latest else None, '"audit_anchor"' in served) == (
        "ALLOW",
        _last_seq(log_file),
        True,
    )


class _FullDisk(FileAnchor):
    """An anchor store whose writes fail, as on a full disk (root ignores folder modes here)."""

    def append(self, head: AnchoredHead) -> None:
        raise AuditError(f"{self.folder}: cannot write the head anchor: No space left on device")


def test_an_anchor_that_cannot_be_written_is_logged_not_raised(anchored_log: Path) -> None:
    """A failing anchor write is an `audit_anchor_failed` error line; the service goes on."""
    _fill(anchored_log, 1)
    with capture_logs() as logs:
        HeadAnchorer(anchored_log, _FullDisk(anchor_dir(anchored_log))).try_anchor()
    assert [entry["log_level"] for entry in logs if entry["event"] == "audit_anchor_failed"] == [
        "error"
    ]


def test_run_anchors_the_head_it_finds_at_once(anchored_log: Path) -> None:
    """A head that moved before the service started is anchored at start, not an interval later."""
    anchor = FileAnchor(anchor_dir(anchored_log))
    _fill(anchored_log, 1)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(HeadAnchorer(anchored_log, anchor).run(stop, interval_s=3600))
        for _ in range(100):
            if anchor.latest() is not None and anchor.latest().seq == 7:  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task

    asyncio.run(scenario())
    assert [head.seq for head in anchor.heads()] == [4, 6, 7]
