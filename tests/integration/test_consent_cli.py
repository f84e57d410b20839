"""`gatekeeper consent|objection ...` and `config check` against real config files and stores."""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
from datetime import date, time, timedelta
from pathlib import Path

import pytest
from gatekeeper.cli import main
from gatekeeper.common.clock import today as legal_today
from gatekeeper.common.errors import ConfigError
from gatekeeper.config import cli as config_cli
from gatekeeper.config import load_settings
from gatekeeper.consent import StoredRecord, act_store_path, open_act_store
from gatekeeper.consent import cli as consent_cli
from gatekeeper.rules.policy import Act

CONFIG = """\
licensee: {name: Example Contact NV, role: service_provider, licence_valid_until: 2099-06-30}
data_dir: data
advertisers:
  acme: {name: ACME Energy BV}
  globex: {name: Globex Telecom NV}
campaigns:
  spring-promo: {purpose: commercial, advertiser: acme}
"""
NUMBER = "0470 12 34 56"
E164 = "+32470123456"


def build_parser() -> argparse.ArgumentParser:
    """The command line as cli.py builds it, with only this branch's command groups."""
    parser = argparse.ArgumentParser(prog="gatekeeper")
    parser.add_argument("-c", "--config")
    subparsers = parser.add_subparsers(dest="command", required=True)
    consent_cli.register(subparsers)
    config_cli.register(subparsers)
    return parser


class Cli:
    """Runs commands against one config file, like `gatekeeper -c PATH ...`."""

    def __init__(self, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.config = config
        self.capsys = capsys
        self.out = ""
        self.err = ""

    def __call__(self, *argv: str) -> int:
        """Run one command; keep its stdout and stderr; return its exit code."""
        args = build_parser().parse_args(["-c", str(self.config), *argv])
        code: int = args.handler(args)
        captured = self.capsys.readouterr()
        self.out, self.err = captured.out, captured.err
        return code

    def records(self) -> tuple[StoredRecord, ...]:
        """Every record of the test number, read straight from the store."""
        return asyncio.run(_records(self.config))

    def acts(self, advertiser: str) -> tuple[tuple[Act, ...], tuple[Act, ...]]:
        """What the hot path would get for the test number."""
        return asyncio.run(_acts(self.config, advertiser))


async def _records(config: Path) -> tuple[StoredRecord, ...]:
    async with await open_act_store(act_store_path(load_settings(config))) as store:
        return await store.records(E164)


async def _acts(config: Path, advertiser: str) -> tuple[tuple[Act, ...], tuple[Act, ...]]:
    async with await open_act_store(act_store_path(load_settings(config))) as store:
        return await store.acts_for(advertiser, E164)


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """A command runner with a fresh config and data folder."""
    config = tmp_path / "gatekeeper.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    return Cli(config, capsys)


def write_csv(tmp_path: Path, text: str, name: str = "acts.csv") -> Path:
    """Write a CSV file for import."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_consent_add_stores_record(cli: Cli) -> None:
    """`consent add` stores a consent in data_dir/consent/acts.sqlite and says so on stdout."""
    code = cli("consent", "add", NUMBER, "--advertiser", "acme", "--date", "2026-03-01",
               "--source", "web form", "--reference", "R-1")  # fmt: skip
    assert code == 0
    assert cli.out.startswith("consent 1 stored: +32470123456 for acme on 2026-03-01")
    (stored,) = cli.records()
    assert (stored.record.source, stored.record.reference) == ("web form", "R-1")
    assert (cli.config.parent / "data" / "consent" / "acts.sqlite").is_file()


def test_datetime_with_offset_is_stored_in_brussels_time(cli: Cli) -> None:
    """A time with an offset is converted to Belgian civil time (UTC+1 in winter)."""
    assert cli("consent", "add", NUMBER, "--advertiser", "acme",
               "--date", "2026-01-10T23:30:00Z") == 0  # fmt: skip
    (stored,) = cli.records()
    assert (stored.record.day, stored.record.at) == (date(2026, 1, 11), time(0, 30))


def test_local_datetime_is_taken_as_brussels_time(cli: Cli) -> None:
    """A time without an offset is Belgian civil time, kept as given."""
    assert cli("objection", "add", NUMBER, "--advertiser", "acme",
               "--date", "2026-07-01 09:15") == 0  # fmt: skip
    (stored,) = cli.records()
    assert (stored.record.day, stored.record.at) == (date(2026, 7, 1), time(9, 15))


@pytest.mark.parametrize(
    ("number", "advertiser", "when", "problem"),
    [
        ("0470 12", "acme", "2026-03-01", "number: '0470 12' is not a callable number"),
        ("+33 6 12 34 56 78", "acme", "2026-03-01", "number: +33612345678 is not Belgian"),
        (NUMBER, "initech", "2026-03-01", "advertiser: unknown advertiser 'initech'"),
        (NUMBER, "acme", "01/03/2026", "date: expected YYYY-MM-DD"),
        (NUMBER, "acme", "2026-02-30", "date:"),
        (NUMBER, "acme", "2026-03-29T02:30", "does not exist in Belgium"),
        (NUMBER, "acme", "2999-01-01", "date: 2999-01-01 is after today"),
    ],
    ids=["short", "foreign", "advertiser", "date-form", "no-such-day", "dst-gap", "future"],
)
def test_add_refuses_bad_input(
    cli: Cli, number: str, advertiser: str, when: str, problem: str
) -> None:
    """Bad input is refused with exit 2, the field named on stderr, and nothing stored."""
    code = cli("consent", "add", number, "--advertiser", advertiser, "--date", when)
    assert code == 2
    assert problem in cli.err
    assert cli.out == ""
    assert cli.records() == ()


def test_add_twice_reports_existing_record(cli: Cli) -> None:
    """Adding the same consent twice keeps one record and names it."""
    argv = ("consent", "add", NUMBER, "--advertiser", "acme", "--date", "2026-03-01")
    cli(*argv)
    assert cli(*argv) == 0
    assert cli.out.startswith("consent 1 already stored:")
    assert len(cli.records()) == 1


def test_consent_is_kept_per_advertiser(cli: Cli) -> None:
    """A consent added for globex is not returned for acme."""
    cli("consent", "add", NUMBER, "--advertiser", "globex", "--date", "2026-03-01")
    assert cli.acts("acme") == ((), ())
    assert len(cli.acts("globex")[1]) == 1


def test_import_stores_every_row(cli: Cli, tmp_path: Path) -> None:
    """A valid CSV is imported whole, with optional columns."""
    path = write_csv(
        tmp_path,
        "number,advertiser,date,source,reference\n"
        "0470 12 34 56,acme,2026-03-01,web,R1\n"
        "+32470123456,globex,2026-03-02T10:00,phone,R2\n"
        "\n"
        "0032470123456,acme,2026-03-03,,\n",
    )
    assert cli("consent", "import", str(path)) == 0
    assert cli.out == f"imported 3 consents from {path} (0 already stored)\n"
    assert [r.record.reference for r in cli.records()] == ["R1", "R2", ""]


def test_import_with_semicolons_and_bom(cli: Cli, tmp_path: Path) -> None:
    """A spreadsheet export with a byte-order mark and semicolons is read."""
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffDate;Number;Advertiser\r\n2026-03-01;0470123456;acme\r\n".encode())
    assert cli("objection", "import", str(path)) == 0
    assert len(cli.acts("acme")[0]) == 1


def test_import_twice_adds_nothing(cli: Cli, tmp_path: Path) -> None:
    """Importing the same file again stores nothing new and says so."""
    path = write_csv(tmp_path, "number,advertiser,date\n0470123456,acme,2026-03-01\n")
    cli("consent", "import", str(path))
    assert cli("consent", "import", str(path)) == 0
    assert "imported 0 consents" in cli.out
    assert "(1 already stored)" in cli.out


def test_import_rejects_by_line_and_stores_nothing(cli: Cli, tmp_path: Path) -> None:
    """Any bad row rejects the whole file; every problem is named by file, line and field."""
    path = write_csv(
        tmp_path,
        "number,advertiser,date\n"
        "0470123456,acme,2026-03-01\n"
        "0470 12,acme,2026-03-01\n"
        "0470123456,initech,2026-03-01\n"
        "0470123456,acme,2026-13-01\n"
        "0470123456,acme,2026-03-02\n",
    )
    assert cli("consent", "import", str(path)) == 2
    assert f"{path}:3: number:" in cli.err
    assert f"{path}:4: advertiser: unknown advertiser 'initech'" in cli.err
    assert f"{path}:5: date:" in cli.err
    assert "nothing imported (3 problems)" in cli.err
    assert cli.records() == ()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("number,date\n0470123456,2026-03-01\n", ":1: header: missing column 'advertiser'"),
        ("number,advertiser,date,note\n", ":1: header: unknown column 'note'"),
        ("number,advertiser,date,date\n", ":1: header: a column is named twice"),
        ("", ":1: header: expected number,advertiser,date[,source][,reference]"),
        ("number,advertiser,date\n0470123456,acme\n", ":2: row: expected 3 fields, got 2"),
        ('number,advertiser,date\n"0470123456,acme,2026-03-01\n', "not valid CSV"),
    ],
    ids=["missing-column", "unknown-column", "twice", "empty", "short-row", "open-quote"],
)
def test_import_refuses_bad_layout(cli: Cli, tmp_path: Path, text: str, problem: str) -> None:
    """A CSV file with a bad header or row shape is refused with its place."""
    path = write_csv(tmp_path, text)
    assert cli("consent", "import", str(path)) == 2
    assert problem in cli.err
    assert cli.records() == ()


def test_import_refuses_non_utf8(cli: Cli, tmp_path: Path) -> None:
    """A file in another encoding is refused at the line of the first bad byte."""
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"number,advertiser,date,source\n0470123456,acme,2026-03-01,caf\xe9\n")
    assert cli("consent", "import", str(path)) == 2
    assert f"{path}:2: not UTF-8 text" in cli.err


def test_revoke_stops_a_consent_counting(cli: Cli) -> None:
    """A revoked consent is no longer weighed, and show marks it revoked with the reason."""
    cli("consent", "add", NUMBER, "--advertiser", "acme", "--date", "2026-03-01")
    assert cli("consent", "revoke", "1", "--reason", "entered for the wrong number") == 0
    assert cli.out.startswith("consent 1 revoked:")
    assert cli.acts("acme") == ((), ())
    cli("consent", "show", NUMBER)
    row = cli.out.splitlines()[1].split("\t")
    assert row[-1].endswith("(entered for the wrong number)")


def test_objection_revoke_refuses_a_consent(cli: Cli) -> None:
    """`objection revoke` on a consent's id is refused and the consent stays."""
    cli("consent", "add", NUMBER, "--advertiser", "acme", "--date", "2026-03-01")
    assert cli("objection", "revoke", "1") == 2
    assert "record 1 is a consent" in cli.err
    assert len(cli.acts("acme")[1]) == 1


def test_show_lists_own_kind_with_header(cli: Cli) -> None:
    """`consent show` prints a tab-separated table of the number's consents only."""
    cli("consent", "add", NUMBER, "--advertiser", "acme", "--date", "2026-03-01T10:00")
    cli("objection", "add", NUMBER, "--advertiser", "acme", "--date", "2026-04-01")
    assert cli("consent", "show", "+32 470 12 34 56") == 0
    header, *rows = cli.out.splitlines()
    assert header.split("\t") == list(consent_cli.SHOW_COLUMNS)
    assert len(rows) == 1
    assert rows[0].split("\t")[:6] == ["1", "consent", "acme", E164, "2026-03-01", "10:00:00"]


def test_show_filters_by_advertiser(cli: Cli) -> None:
    """`--advertiser` limits the table to one advertiser's records."""
    cli("objection", "add", NUMBER, "--advertiser", "acme", "--date", "2026-03-01")
    cli("objection", "add", NUMBER, "--advertiser", "globex", "--date", "2026-03-01")
    cli("objection", "show", NUMBER, "--advertiser", "globex")
    rows = cli.out.splitlines()[1:]
    assert [row.split("\t")[2] for row in rows] == ["globex"]


def test_show_refuses_invalid_number(cli: Cli) -> None:
    """`show` of something that is not a Belgian number is a usage error."""
    assert cli("consent", "show", "hello") == 2
    assert "not a Belgian number" in cli.err


def test_broken_config_raises_config_error(cli: Cli) -> None:
    """With a broken config the command raises ConfigError (cli.main turns it into exit 2)."""
    cli.config.write_text("licensee: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        cli("consent", "show", NUMBER)


def test_config_check_ok(cli: Cli) -> None:
    """`config check` prints the summary line, then only passed deployment checks, and exits 0."""
    assert cli("config", "check") == 0
    summary, *checks = cli.out.splitlines()
    assert summary == "configuration OK: 1 campaign, 2 advertisers, licence valid until 2099-06-30"
    assert [line for line in checks if not line.startswith("ok: ")] == []
    assert cli.err == ""


def test_config_check_error(cli: Cli) -> None:
    """`config check` of a broken file prints the error with line and key, and exits 2."""
    cli.config.write_text(CONFIG.replace("advertiser: acme}", "advertiser: acne}"))
    assert cli("config", "check") == 2
    assert cli.out == ""
    assert f"{cli.config}:7: campaigns.spring-promo.advertiser: unknown advertiser" in cli.err


def test_config_check_warns_before_licence_ends(cli: Cli) -> None:
    """`config check` warns on stderr when the licence ends within 30 days."""
    soon = (legal_today() + timedelta(days=10)).isoformat()
    cli.config.write_text(CONFIG.replace("2099-06-30", soon))
    assert cli("config", "check") == 0
    assert "in 10 days" in cli.err
    assert cli.out.startswith("configuration OK:")


def test_example_config_checks_ok(capsys: pytest.CaptureFixture[str]) -> None:
    """The shipped example passes `config check`."""
    example = Path(__file__).resolve().parents[2] / "config" / "gatekeeper.yaml"
    runner = Cli(example, capsys)
    assert runner("config", "check") == 0
    assert runner.out.startswith("configuration OK: 2 campaigns, 1 advertiser, licence valid")


def test_show_prints_stored_control_characters_escaped(cli: Cli) -> None:
    """A source slipped into the store with ESC, BEL and a tab is shown escaped, on its own row."""
    cli("consent", "add", NUMBER, "--advertiser", "acme", "--date", "2026-03-01")
    store = act_store_path(load_settings(cli.config))
    with sqlite3.connect(store) as conn:
        conn.execute(
            "INSERT INTO acts (kind, advertiser, e164, day, source, reference, created_at)"
            " SELECT kind, advertiser, e164, '2026-03-02', ?, ?, created_at FROM acts",
            ("w\x1b]0;x\x07", "R\t\x1b[2J"),
        )
    cli("consent", "show", NUMBER)
    assert (
        [c for c in cli.out if not c.isprintable() and c not in "\t\n"],
        [row.count("\t") for row in cli.out.splitlines()[1:]],
    ) == ([], [len(consent_cli.SHOW_COLUMNS) - 1] * 2)


@pytest.mark.parametrize("record_id", ["99999999999999999999999", "9223372036854775808", "\u0665"])
@pytest.mark.parametrize("noun", ["consent", "objection"])
def test_revoke_id_out_of_range_is_a_usage_error(
    cli: Cli, capsys: pytest.CaptureFixture[str], noun: str, record_id: str
) -> None:
    """An id too big for the store, or not in ASCII digits, is a usage error (exit 2)."""
    code = main(["-c", str(cli.config), noun, "revoke", record_id])
    assert (code, "expected a whole number" in capsys.readouterr().err) == (2, True)


@pytest.mark.parametrize("limit", ["99999999999999999999999", "\u0665"])
def test_audit_limit_out_of_range_is_a_usage_error(
    cli: Cli, capsys: pytest.CaptureFixture[str], limit: str
) -> None:
    """`audit show --limit` too big for the store, or not in ASCII digits, is exit 2."""
    code = main(["-c", str(cli.config), "audit", "show", "--limit", limit])
    assert (code, "expected a whole number" in capsys.readouterr().err) == (2, True)
