"""`gatekeeper scrub` on real files: a real imported index, act store and decision log."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import os
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from gatekeeper.audit.schema import log_path
from gatekeeper.audit.store import iter_events, reading
from gatekeeper.check.batch import BLOCK_ROWS
from gatekeeper.cli import main
from gatekeeper.common.clock import today
from gatekeeper.common.untrusted import plain_cell
from gatekeeper.config import load_settings
from gatekeeper.scrub import ScrubRequest, scrub
from tools.gatekeeper_run import GATEKEEPER

CONFIG = """\
licensee: {name: Example Contact NV, role: service_provider, licence_valid_until: 2099-06-30}
data_dir: data
dncm: {source: {file: dncm.txt}, max_age_days: 5}
advertisers:
  acme: {name: ACME Energy BV}
  globex: {name: Globex Telecom NV}
campaigns:
  spring-promo: {purpose: commercial, advertiser: acme}
  globex-promo: {purpose: commercial, advertiser: globex}
  outside-line: {purpose: commercial, advertiser: acme, strip_prefix: "9"}
  abroad: {purpose: commercial, advertiser: acme, foreign_numbers: allow}
  delivery-notice: {purpose: informational, advertiser: acme}
"""
LISTED = "0470123456"
LISTED_TOO = "0486993908"
LISTED_ON = "2019-03-14"
DNCM_LIST = f"numero;date_inscription\n{LISTED};{LISTED_ON}\n{LISTED_TOO};2015-02-19\n"

GK_COLUMNS = ["gk_decision", "gk_reason", "gk_number", "gk_scrub_id"]
DIALLED = (
    "0470 12 34 56",
    "+32 470 12 34 56",
    "0032470123456",
    "0486/99.39.08",
    "0470 99 99 99",
    "02 511 22 33",
    "+33 1 23 45 67 89",
    "12",
    "",
    "not a number",
    "0800 12 345",
)


@dataclass
class Gatekeeper:
    """Runs `gatekeeper -c CONFIG ...` in this process, keeping stdout and stderr."""

    config: Path
    capsys: pytest.CaptureFixture[str]
    out: str = ""
    err: str = ""

    @property
    def folder(self) -> Path:
        """The folder of the config, its data and the test's files."""
        return self.config.parent

    def __call__(self, *argv: str) -> int:
        """Run one command; returns its exit code."""
        self.capsys.readouterr()
        code = main(["-c", str(self.config), *argv])
        captured = self.capsys.readouterr()
        self.out, self.err = captured.out, captured.err
        return code

    def sync(self, list_date: str | None = None) -> None:
        """Import the test list, dated today unless told."""
        assert self("sync", "--list-date", list_date or today().isoformat()) == 0, self.err

    def check(self, number: str, campaign: str = "spring-promo") -> dict[str, Any]:
        """`check --json` for one number."""
        assert self("check", number, "--campaign", campaign, "--json") == 0, self.err
        answer: dict[str, Any] = json.loads(self.out)
        return answer

    def scrub(self, source: Path, *options: str, campaign: str = "spring-promo") -> int:
        """Scrub `source` into out.csv."""
        output = str(self.folder / "out.csv")
        return self("scrub", str(source), "--campaign", campaign, "--output", output, *options)

    def output(self, delimiter: str = ",") -> list[dict[str, str]]:
        """The rows of out.csv."""
        text = (self.folder / "out.csv").read_text(encoding="utf-8-sig")
        return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))

    def scrub_events(self) -> list[dict[str, Any]]:
        """The details of every scrub record in the decision log."""
        path = log_path(self.folder / "data")
        if not path.exists():
            return []
        with reading(path) as conn:
            return [event.details for event in iter_events(conn, ("scrub",))]


@pytest.fixture(autouse=True)
def _default_logging() -> Iterator[None]:
    """`cli.main` points structlog at this test's captured stderr: put the default back after."""
    yield
    structlog.reset_defaults()


@pytest.fixture
def gk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Gatekeeper:
    """A config with its own list file; nothing imported yet."""
    config = tmp_path / "gatekeeper.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    (tmp_path / "dncm.txt").write_text(DNCM_LIST, encoding="utf-8")
    return Gatekeeper(config, capsys)


@pytest.fixture
def synced(gk: Gatekeeper) -> Gatekeeper:
    """The test list imported, dated today."""
    gk.sync()
    return gk


def write_list(
    folder: Path, numbers: tuple[str, ...], *, delimiter: str = ",", header: str = "phone"
) -> Path:
    """A calling list with a name column, the number column and a city column."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(["name", header, "city"])
    writer.writerows([f"Person {i}", number, "Gent"] for i, number in enumerate(numbers))
    path = folder / "list.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


@pytest.mark.parametrize("campaign", ["spring-promo", "outside-line", "abroad", "delivery-notice"])
def test_each_row_gets_the_decision_check_gives(synced: Gatekeeper, campaign: str) -> None:
    """Every row's verdict, reason and number equal `gatekeeper check`'s for the same string."""
    synced("consent", "add", "0470 12 34 56", "--advertiser", "acme", "--date", "2024-01-05")
    synced("objection", "add", "02 511 22 33", "--advertiser", "acme", "--date", "2023-06-01")
    dialled = (*DIALLED, "90470999999", "9 0486 99 39 08")
    source = write_list(synced.folder, dialled)
    assert synced.scrub(source, campaign=campaign) == 0, synced.err
    scrubbed = [
        (r["gk_decision"], r["gk_reason"], plain_cell(r["gk_number"])) for r in synced.output()
    ]
    checked = []
    for number in dialled:
        answer = synced.check(number, campaign)
        checked.append((answer["decision"].upper(), answer["reason"], answer["number"] or ""))
    assert scrubbed == checked


def test_rows_across_blocks_keep_their_order_and_decisions(synced: Gatekeeper) -> None:
    """A list longer than two decision blocks: every row, in order, with `check`'s decision."""
    synced("consent", "add", "0470 12 34 56", "--advertiser", "acme", "--date", "2024-01-05")
    dialled = tuple(DIALLED[i % len(DIALLED)] for i in range(2 * BLOCK_ROWS + 7))
    assert synced.scrub(write_list(synced.folder, dialled)) == 0, synced.err
    checked = {}
    for number in DIALLED:
        answer = synced.check(number, "spring-promo")
        checked[number] = (answer["decision"].upper(), answer["reason"], answer["number"] or "")
    scrubbed = [
        (r["name"], r["gk_decision"], r["gk_reason"], plain_cell(r["gk_number"]))
        for r in synced.output()
    ]
    assert scrubbed == [(f"Person {i}", *checked[n]) for i, n in enumerate(dialled)]


def test_consent_after_listing_allows_and_a_later_listing_does_not(synced: Gatekeeper) -> None:
    """A consent dated after the listing allows the row; one dated before it does not."""
    synced("consent", "add", LISTED, "--advertiser", "acme", "--date", "2024-01-05")
    synced("consent", "add", LISTED_TOO, "--advertiser", "acme", "--date", "2010-01-05")
    source = write_list(synced.folder, (LISTED, LISTED_TOO))
    assert synced.scrub(source) == 0, synced.err
    assert [r["gk_reason"] for r in synced.output()] == [
        "consent_after_listing",
        "listing_after_consent",
    ]


def test_consent_belongs_to_its_advertiser(synced: Gatekeeper) -> None:
    """Acme's consent does not allow a listed number for Globex's campaign."""
    synced("consent", "add", LISTED, "--advertiser", "acme", "--date", "2024-01-05")
    source = write_list(synced.folder, (LISTED,))
    assert synced.scrub(source, campaign="globex-promo") == 0, synced.err
    assert [r["gk_reason"] for r in synced.output()] == ["listed"]


def test_objection_blocks_an_unlisted_number(synced: Gatekeeper) -> None:
    """A company-level objection blocks the row although the number is not on the list."""
    synced("objection", "add", "0470999999", "--advertiser", "acme", "--date", "2024-01-05")
    source = write_list(synced.folder, ("0470 99 99 99",))
    assert synced.scrub(source) == 0, synced.err
    assert [r["gk_reason"] for r in synced.output()] == ["objection"]


def test_output_cells_are_never_formulas(synced: Gatekeeper) -> None:
    """Input cells starting = + - @ and our E.164 gk_number are written as text: a leading quote."""
    source = synced.folder / "list.csv"
    source.write_text(
        'name,phone,city\n=HYPERLINK("http://x"),+32 470 99 99 99,@SUM(1)\n'
        '-1+1,0470 99 99 98,"nul\x00"\n',
        encoding="utf-8",
    )
    assert synced.scrub(source) == 0, synced.err
    rows = [(r["name"], r["phone"], r["city"], r["gk_number"]) for r in synced.output()]
    assert rows == [
        ('\'=HYPERLINK("http://x")', "'+32 470 99 99 99", "'@SUM(1)", "'+32470999999"),
        ("'-1+1", "0470 99 99 98", "nul\\x00", "'+32470999998"),
    ]


def test_invalid_rows_are_blocked_not_errors(synced: Gatekeeper) -> None:
    """Rows without a callable number get BLOCK invalid_number and an empty gk_number."""
    source = write_list(synced.folder, ("", "12", "call me", "0470 99 99 99"))
    assert synced.scrub(source) == 0, synced.err
    assert [(r["gk_decision"], r["gk_reason"], r["gk_number"]) for r in synced.output()] == [
        ("BLOCK", "invalid_number", ""),
        ("BLOCK", "invalid_number", ""),
        ("BLOCK", "invalid_number", ""),
        ("ALLOW", "not_listed", "'+32470999999"),
    ]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_separator_is_detected_and_kept(synced: Gatekeeper, delimiter: str) -> None:
    """Comma, semicolon and tab lists are read, and the output uses the input's separator."""
    source = write_list(synced.folder, ("0470 12 34 56", "0470 99 99 99"), delimiter=delimiter)
    assert synced.scrub(source) == 0, synced.err
    rows = synced.output(delimiter)
    assert [(r["name"], r["city"], r["gk_reason"]) for r in rows] == [
        ("Person 0", "Gent", "listed"),
        ("Person 1", "Gent", "not_listed"),
    ]


def test_every_input_column_is_kept_in_order(synced: Gatekeeper) -> None:
    """The output header is the input's, then gk_decision, gk_reason, gk_number, gk_scrub_id."""
    source = write_list(synced.folder, ("0470 12 34 56",))
    assert synced.scrub(source) == 0, synced.err
    header = (synced.folder / "out.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == ["name", "phone", "city", *GK_COLUMNS]


def test_a_byte_order_mark_is_read_and_kept(synced: Gatekeeper) -> None:
    """A UTF-8 list with a byte-order mark is read, and the output carries one too."""
    source = synced.folder / "list.csv"
    source.write_bytes("\ufeffGSM;naam\n0470 12 34 56;Émile\n".encode())
    assert synced.scrub(source) == 0, synced.err
    data = (synced.folder / "out.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbfGSM;naam;gk_decision")
    assert [(r["naam"], r["gk_reason"]) for r in synced.output(";")] == [("Émile", "listed")]


def test_latin1_list_is_read_and_said_so(synced: Gatekeeper) -> None:
    """A list that is not UTF-8 is read as Latin-1, stderr says so, and the output is UTF-8."""
    source = synced.folder / "list.csv"
    source.write_bytes("nom;numéro\nRené;0470 12 34 56\n".encode("latin-1"))
    assert synced.scrub(source) == 0, synced.err
    assert "Latin-1" in synced.err
    assert [(r["nom"], r["numéro"], r["gk_reason"]) for r in synced.output(";")] == [
        ("René", "0470 12 34 56", "listed")
    ]


def test_column_option_names_the_number_column(synced: Gatekeeper) -> None:
    """--column picks a column whose header is not a known phone header."""
    source = write_list(synced.folder, ("0470 12 34 56",), header="Contact")
    assert synced.scrub(source, "--column", "contact") == 0, synced.err
    assert [r["gk_reason"] for r in synced.output()] == ["listed"]


@pytest.mark.parametrize(
    ("header", "options", "message"),
    [
        ("contact", (), "no column is named like a phone number"),
        ("phone", ("--column", "mobile"), "no column named 'mobile'"),
    ],
)
def test_missing_number_column_is_a_usage_error(
    synced: Gatekeeper, header: str, options: tuple[str, ...], message: str
) -> None:
    """Without a number column the scrub exits 2, naming file:1, and writes nothing."""
    source = write_list(synced.folder, ("0470 12 34 56",), header=header)
    assert synced.scrub(source, *options) == 2
    assert f"{source}:1: {message}" in synced.err
    assert (synced.out, (synced.folder / "out.csv").exists()) == ("", False)


def test_two_number_columns_are_ambiguous(synced: Gatekeeper) -> None:
    """A list with both `phone` and `gsm` columns asks for --column (exit 2)."""
    source = synced.folder / "list.csv"
    source.write_text("phone,gsm\n0470123456,0470999999\n", encoding="utf-8")
    assert synced.scrub(source) == 2
    assert "several columns could hold the number ('phone', 'gsm')" in synced.err


def test_a_row_with_a_wrong_field_count_fails_naming_its_line(synced: Gatekeeper) -> None:
    """A row whose fields do not match the header exits 1 with file:line and writes nothing."""
    source = synced.folder / "list.csv"
    source.write_text("name,phone\nA,0470999999\nB,Street 1, 0470123456\n", encoding="utf-8")
    assert synced.scrub(source) == 1
    assert f"{source}:3: expected 2 fields, got 3" in synced.err
    assert list(synced.folder.glob("*out.csv*")) == []
    assert synced.scrub_events() == []


def test_unreadable_input_exits_1(synced: Gatekeeper) -> None:
    """An input file that does not exist exits 1 naming it."""
    missing = synced.folder / "missing.csv"
    assert synced.scrub(missing) == 1
    assert str(missing) in synced.err


def test_empty_input_exits_1_naming_line_1(synced: Gatekeeper) -> None:
    """An empty file has no header: exit 1, `file:1`."""
    source = synced.folder / "list.csv"
    source.write_text("", encoding="utf-8")
    assert synced.scrub(source) == 1
    assert f"{source}:1:" in synced.err


def test_list_missing_blocks_every_commercial_row(gk: Gatekeeper) -> None:
    """With no list imported, every row of a commercial campaign is BLOCK list_missing."""
    source = write_list(gk.folder, ("0470 12 34 56", "0470 99 99 99", "02 511 22 33"))
    assert gk.scrub(source) == 0, gk.err
    assert {(r["gk_decision"], r["gk_reason"]) for r in gk.output()} == {("BLOCK", "list_missing")}


def test_stale_list_blocks_every_commercial_row(gk: Gatekeeper) -> None:
    """A list older than max_age_days blocks every row with list_stale."""
    gk.sync((today() - timedelta(days=6)).isoformat())
    source = write_list(gk.folder, ("0470 99 99 99", "02 511 22 33"))
    assert gk.scrub(source) == 0, gk.err
    assert {r["gk_reason"] for r in gk.output()} == {"list_stale"}


def test_informational_campaign_allows_every_row_without_a_list(gk: Gatekeeper) -> None:
    """An informational campaign is outside the list: every row is ALLOW, even with no list."""
    source = write_list(gk.folder, ("0470 12 34 56", "0470 99 99 99"))
    assert gk.scrub(source, campaign="delivery-notice") == 0, gk.err
    assert {r["gk_reason"] for r in gk.output()} == {"informational_campaign"}


def test_allowed_only_writes_the_callable_rows(synced: Gatekeeper) -> None:
    """--allowed-only leaves out every blocked row; the summary still counts them."""
    source = write_list(synced.folder, ("0470 12 34 56", "0470 99 99 99", "12"))
    assert synced.scrub(source, "--allowed-only") == 0, synced.err
    assert [r["phone"] for r in synced.output()] == ["0470 99 99 99"]
    (event,) = synced.scrub_events()
    assert (event["rows"], event["output"]["rows"]) == (3, 1)


def test_summary_record_is_in_the_chain_and_describes_the_files(synced: Gatekeeper) -> None:
    """One scrub record holds both files' sha256, the snapshot, the counts and the scrub id."""
    source = write_list(synced.folder, ("0470 12 34 56", "0470 99 99 99", "12"))
    assert synced.scrub(source) == 0, synced.err
    output = synced.folder / "out.csv"
    (event,) = synced.scrub_events()
    assert event["input"]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert event["output"]["sha256"] == hashlib.sha256(output.read_bytes()).hexdigest()
    assert {row["gk_scrub_id"] for row in synced.output()} == {event["scrub_id"]}
    assert event["snapshot"]["list_date"] == today().isoformat()
    assert (event["campaign"], event["purpose"], event["advertiser"]) == (
        "spring-promo",
        "commercial",
        "acme",
    )
    assert event["verdicts"] == {"allow": 1, "block": 2}
    assert event["reasons"] == {"invalid_number": 1, "listed": 1, "not_listed": 1}


def test_audit_verify_passes_after_a_scrub(synced: Gatekeeper) -> None:
    """The scrub record is the chain's newest, named in the summary, and `audit verify` passes."""
    synced.check("0470 12 34 56")
    source = write_list(synced.folder, ("0470 12 34 56",))
    assert synced.scrub(source) == 0, synced.err
    record_id = synced.out.split("record ")[-1].strip()
    assert synced("audit", "events", "--json") == 0
    last = json.loads(synced.out.splitlines()[-1])
    assert (last["kind"], last["id"]) == ("scrub", record_id)
    assert synced("audit", "verify") == 0, synced.out
    assert synced.out.startswith("OK: ")


def test_stdout_is_one_summary_line(synced: Gatekeeper) -> None:
    """Standard output is one line: rows, allowed, blocked by reason, scrub and record ids."""
    source = write_list(synced.folder, ("0470 12 34 56", "0470 99 99 99", "12"))
    assert synced.scrub(source) == 0, synced.err
    (event,) = synced.scrub_events()
    (line,) = synced.out.splitlines()
    assert line.startswith("3 rows: 1 allowed, 2 blocked (invalid_number 1, listed 1);")
    assert f"scrub {event['scrub_id']}" in line


def test_output_is_private_even_over_an_existing_file(synced: Gatekeeper) -> None:
    """The output is created 0600, replacing a world-readable file of the same name."""
    output = synced.folder / "out.csv"
    output.write_text("old\n", encoding="utf-8")
    output.chmod(0o644)
    source = write_list(synced.folder, ("0470 12 34 56",))
    assert synced.scrub(source) == 0, synced.err
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    assert [p.name for p in synced.folder.glob("*out.csv*")] == ["out.csv"]


def test_unknown_campaign_is_a_usage_error(synced: Gatekeeper) -> None:
    """An unknown campaign exits 2 naming it and the known ones; no output, no record."""
    source = write_list(synced.folder, ("0470 12 34 56",))
    assert synced.scrub(source, campaign="winter-promo") == 2
    assert "unknown campaign 'winter-promo'" in synced.err
    assert "spring-promo" in synced.err
    assert ((synced.folder / "out.csv").exists(), synced.out) == (False, "")


def test_output_must_not_be_the_input(synced: Gatekeeper) -> None:
    """Writing the scrub over its own input is refused (exit 2) and the input is unchanged."""
    source = write_list(synced.folder, ("0470 12 34 56",))
    before = source.read_bytes()
    code = synced("scrub", str(source), "--campaign", "spring-promo", "--output", str(source))
    assert (code, source.read_bytes()) == (2, before)


def test_output_to_standard_output_is_refused(synced: Gatekeeper) -> None:
    """`--output -` is a usage error (exit 2), not a file named `-` nor personal data on stdout."""
    source = write_list(synced.folder, ("0470 12 34 56",))
    code = synced("scrub", str(source), "--campaign", "spring-promo", "--output", "-")
    assert (code, (synced.folder / "-").exists(), Path("-").exists()) == (2, False, False)


def test_earlier_gk_columns_are_replaced(synced: Gatekeeper) -> None:
    """Scrubbing a scrubbed list replaces its gk_ columns instead of adding a second set."""
    source = write_list(synced.folder, ("0470 12 34 56", "0470 99 99 99"))
    assert synced.scrub(source) == 0, synced.err
    again = synced.folder / "again.csv"
    (synced.folder / "out.csv").rename(again)
    assert synced.scrub(again) == 0, synced.err
    header = (synced.folder / "out.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == ["name", "phone", "city", *GK_COLUMNS]
    assert "replaced" in synced.err


def test_unreadable_index_stops_a_commercial_scrub(synced: Gatekeeper) -> None:
    """A list index that cannot be read exits 1 naming it, instead of internal_error rows."""
    (synced.folder / "data" / "dncm" / "CURRENT").write_text("garbage\n", encoding="ascii")
    source = write_list(synced.folder, ("0470 99 99 99",))
    assert synced.scrub(source) == 1
    assert "CURRENT" in synced.err
    assert ((synced.folder / "out.csv").exists(), synced.scrub_events()) == (False, [])


def test_expired_licence_blocks_every_commercial_row(synced: Gatekeeper) -> None:
    """After the licence's end every commercial row is BLOCK licence_expired."""
    synced.config.write_text(
        CONFIG.replace("licence_valid_until: 2099-06-30", "licence_valid_until: 2020-01-01"),
        encoding="utf-8",
    )
    source = write_list(synced.folder, ("0470 99 99 99", "0470 12 34 56"))
    assert synced.scrub(source) == 0, synced.err
    assert {r["gk_reason"] for r in synced.output()} == {"licence_expired"}


def test_pinned_list_keeps_its_snapshot_across_a_sync(synced: Gatekeeper) -> None:
    """A scrub's list is the snapshot in force when it started, even if a sync swaps another in."""
    from gatekeeper.scrub import PinnedList  # noqa: PLC0415 - the unit under test

    pinned = PinnedList.open(synced.folder / "data" / "dncm")
    try:
        (synced.folder / "dncm.txt").write_text(f"{DNCM_LIST}0470999999;2020-01-01\n")
        synced.sync()
        fresh = PinnedList.open(synced.folder / "data" / "dncm")
        listed_now = fresh.listing_date(32470999999)
        fresh.close()
        assert (pinned.listing_date(32470999999), listed_now) == (None, date(2020, 1, 1))
    finally:
        pinned.close()


def _scrub_process(synced: Gatekeeper, source: str, **run: Any) -> subprocess.CompletedProcess[str]:
    """`gatekeeper scrub SOURCE` as a child process, through bash, bounded in time."""
    output = synced.folder / "out.csv"
    command = (
        f"{GATEKEEPER} -c {synced.config} scrub {source} --campaign spring-promo --output {output}"
    )
    return subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=30, check=False, **run
    )


def test_a_fifo_is_refused_without_waiting(synced: Gatekeeper) -> None:
    """A named pipe as input is refused at once (exit 2, saying so); nothing is written."""
    fifo = synced.folder / "list.fifo"
    os.mkfifo(fifo)
    done = _scrub_process(synced, str(fifo))
    assert (done.returncode, "is a pipe, not a regular file" in done.stderr) == (2, True)
    assert (synced.folder / "out.csv").exists() is False


@pytest.mark.parametrize("source", ["/dev/stdin", "<(cat list.csv)"])
def test_piped_input_is_refused_with_the_reason(synced: Gatekeeper, source: str) -> None:
    """Standard input from a pipe, or a process substitution: exit 2, save it to a file first."""
    write_list(synced.folder, ("0470 99 99 99",))
    csv_text = (synced.folder / "list.csv").read_text(encoding="utf-8")
    done = _scrub_process(synced, source, input=csv_text, cwd=synced.folder)
    assert (done.returncode, "save the list to a file first" in done.stderr) == (2, True)


def test_stdin_redirected_from_a_file_is_scrubbed(synced: Gatekeeper) -> None:
    """`< list.csv` makes /dev/stdin a regular file, which is scrubbed like any file."""
    write_list(synced.folder, ("0470 99 99 99",))
    with (synced.folder / "list.csv").open("rb") as stdin:
        done = _scrub_process(synced, "/dev/stdin", stdin=stdin)
    assert done.returncode == 0, done.stderr
    assert [row["gk_reason"] for row in synced.output()] == ["not_listed"]


@pytest.mark.parametrize(
    ("encoding", "said"),
    [
        ("utf-16", "file is UTF-16; save it as UTF-8"),
        ("utf-32", "file is UTF-32; save it as UTF-8"),
        ("utf-16-le", "likely UTF-16 or UTF-32; save it as UTF-8"),
        ("utf-16-be", "likely UTF-16 or UTF-32; save it as UTF-8"),
    ],
)
def test_wide_encodings_are_named(synced: Gatekeeper, encoding: str, said: str) -> None:
    """A UTF-16 or UTF-32 list is refused naming its encoding, not as malformed rows."""
    source = write_list(synced.folder, ("0470 99 99 99", "0470 12 34 56"))
    source.write_bytes(source.read_text(encoding="utf-8").encode(encoding))
    assert synced.scrub(source) == 1
    assert said in synced.err
    assert "fields" not in synced.err


def test_rows_leave_no_timer_on_the_event_loop(synced: Gatekeeper) -> None:
    """Deciding the rows arms no deadline per row, so nothing piles up on the event loop."""
    source = write_list(
        synced.folder, tuple(f"0470 12 {i // 100:02} {i % 100:02}" for i in range(600))
    )
    request = ScrubRequest(source, synced.folder / "out.csv", "spring-promo")
    moment = datetime.now(UTC)
    pending_at_the_end: list[int] = []

    def clock() -> datetime:
        """Called at the start and once every row is decided, before the record is written."""
        loop = asyncio.get_running_loop()
        pending_at_the_end.append(len(loop._scheduled))  # type: ignore[attr-defined]
        return moment

    result = asyncio.run(scrub(load_settings(synced.config), request, clock=clock))
    assert result.rows == 600
    assert pending_at_the_end[-1] < 50
