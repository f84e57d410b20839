"""`BatchDecider`: every row's decision equal to `Checker.decide_at_hand` and `decide_only`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
import structlog
from gatekeeper.audit import DecisionEntry
from gatekeeper.check.batch import BatchDecider, BlockLookup, RowDecision
from gatekeeper.check.checker import CallRequest, Checker, CheckResult
from gatekeeper.cli import main
from gatekeeper.common import IndexUnavailableError
from gatekeeper.config import Settings, load_settings
from gatekeeper.dncm import ListAnswer
from gatekeeper.rules import Act, ActKind, Decision, Reason, SnapshotInfo
from gatekeeper.rules.policy import describe
from gatekeeper.scrub.batch import PinnedList, PreloadedActs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CONFIG = """\
licensee: {name: Example Contact NV, role: service_provider, licence_valid_until: 2026-06-30}
data_dir: data
dncm: {source: {file: dncm.txt}, max_age_days: 5}
advertisers: {acme: {name: ACME Energy BV}}
campaigns:
  spring-promo: {purpose: commercial, advertiser: acme, aliases: [vici-7]}
  outside-line: {purpose: commercial, advertiser: acme, strip_prefix: "0"}
  abroad: {purpose: commercial, advertiser: acme, foreign_numbers: allow}
  delivery-notice: {purpose: informational, advertiser: acme}
"""
LIST_DATE = date(2026, 3, 2)
LISTED = {
    "0470123456": "2019-03-14",
    "0486993908": "2015-02-19",
    "025112233": "2026-03-01",
    "0470000001": "2024-01-05",
    "0470000002": "2026-02-28",
}
UNLISTED = ("0470999999", "0471234567", "025001122", "0800 12 345", "0470000003")
CAMPAIGNS = ("spring-promo", "vici-7", "outside-line", "abroad", "delivery-notice", "nope", "")
MOMENTS = (
    datetime(2026, 3, 2, 10, tzinfo=UTC),
    datetime(2026, 3, 6, 22, tzinfo=UTC),
    datetime(2026, 3, 12, 9, tzinfo=UTC),
    datetime(2026, 2, 20, 9, tzinfo=UTC),
    datetime(2026, 7, 1, 9, tzinfo=UTC),
)
"""A fresh list, its last fresh day, a stale one, a list dated after the day, licence ended."""
HOSTILE = ("=cmd|' /C calc'!A0", "+32 470 12 34 56\x00", "tel:+32-470-12-34-56", "\u202e0470")
FOREIGN = ("+33 1 23 45 67 89", "0033123456789", "+1 212 555 0100")


@pytest.fixture(autouse=True)
def _default_logging() -> Iterator[None]:
    """`cli.main` points structlog at this test's captured stderr: put the default back after."""
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config with a list of `LISTED` imported as of `LIST_DATE`."""
    path = tmp_path_factory.mktemp("batch")
    (path / "gatekeeper.yaml").write_text(CONFIG, encoding="utf-8")
    lines = "".join(f"{number};{day}\n" for number, day in LISTED.items())
    (path / "dncm.txt").write_text(lines, encoding="utf-8")
    argv = ["-c", str(path / "gatekeeper.yaml"), "sync", "--list-date", LIST_DATE.isoformat()]
    assert main(argv) == 0
    structlog.reset_defaults()
    return path


class NoRecorder:
    """A decision log that is never asked: batches and `decide_*` do not record."""

    async def record(self, entry: DecisionEntry) -> str:
        """Refused."""
        raise AssertionError(entry)

    def record_late(self, entry: DecisionEntry, why: str) -> bool:
        """Refused."""
        raise AssertionError((entry, why))


def written(number: str) -> st.SearchStrategy[str]:
    """A number in one of the forms a calling list holds it in, outside-line prefix or not."""
    nsn = number.lstrip("0")
    forms = (number, f"+32{nsn}", f"0032{nsn}", f"+32 (0){nsn}", f"0{number}", f"tel:+32{nsn}")
    return st.sampled_from(forms)


numbers = st.sampled_from(tuple(LISTED) + UNLISTED)
dialled = st.one_of(
    numbers.flatmap(written),
    st.sampled_from(HOSTILE + FOREIGN + ("", "12", "not a number", "0470 12 34 5")),
    st.text(alphabet="0123456789+ ()-./٠١٢٣٤٥٦٧٨٩", max_size=18),
    st.text(max_size=12),
)
days = st.dates(date(2015, 1, 1), date(2026, 3, 20))
times = st.none() | st.times().map(lambda t: t.replace(microsecond=0))


@st.composite
def acts(draw: st.DrawFn) -> dict[str, tuple[tuple[Act, ...], tuple[Act, ...]]]:
    """Consents and objections on various days, some with a time, for some of the numbers."""
    chosen = draw(st.lists(numbers, max_size=6, unique=True))
    result = {}
    for number in chosen:
        e164 = "+32" + number.replace(" ", "").lstrip("0")

        def kind_of(kind: ActKind) -> st.SearchStrategy[tuple[Act, ...]]:
            one = st.builds(Act, st.just(kind), days, times, st.sampled_from(("", "r1", "r2")))
            return st.lists(one, max_size=2).map(tuple)

        result[e164] = (draw(kind_of(ActKind.OBJECTION)), draw(kind_of(ActKind.CONSENT)))
    return result


def expected_of(result: CheckResult) -> RowDecision:
    """What the batch answers for the checker's result: None for a bare `not_listed`/`listed`."""
    decision = result.decision
    not_listed = Decision(Reason.NOT_LISTED, f"{result.e164} is not listed and has no objection")
    listing = decision.decisive
    listed = (
        listing is not None
        and listing.kind is ActKind.LISTING
        and decision
        == Decision(
            Reason.LISTED, f"{describe(listing)} is the latest act, no consent", (listing,), listing
        )
    )
    bare = decision == not_listed or listed
    return decision.reason, result.e164, None if bare else decision


def compare(
    config: Settings,
    index: BlockLookup,
    campaign: str,
    at: datetime,
    rows: list[str],
    *,
    preloaded: PreloadedActs | None = None,
) -> None:
    """Each row through the batch, `decide_at_hand` and `decide_only`: the same answer."""
    preloaded = preloaded or PreloadedActs("acme", {})
    batch = BatchDecider(config, index, preloaded, campaign, at=at, source="scrub")
    checker = Checker(lambda: config, index, preloaded, NoRecorder(), clock=lambda: at)
    requests = [CallRequest(row, campaign, "scrub") for row in rows]

    async def alone() -> list[CheckResult]:
        return [await checker.decide_only(request) for request in requests]

    at_hand = [expected_of(checker.decide_at_hand(r, preloaded)) for r in requests]
    only = [expected_of(result) for result in asyncio.run(alone())]
    one_by_one = [batch.decide(row) for row in rows]
    assert (one_by_one, batch.decide_all(rows)) == (at_hand, at_hand)
    assert only == at_hand


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(CAMPAIGNS),
    st.sampled_from(MOMENTS),
    acts(),
    st.lists(dialled, min_size=1, max_size=12),
)
def test_batch_decides_every_row_as_the_checker(
    folder: Path,
    campaign: str,
    at: datetime,
    by_number: dict[str, tuple[tuple[Act, ...], tuple[Act, ...]]],
    rows: list[str],
) -> None:
    """Listed or not, with acts or not, any string, campaign and moment: the checker's answer."""
    config = load_settings(folder / "gatekeeper.yaml")
    index = PinnedList.open(folder / "data" / "dncm")
    try:
        preloaded = PreloadedActs("acme", by_number)
        with_acts = [*rows, *by_number, *rows]
        compare(config, index, campaign, at, with_acts, preloaded=preloaded)
    finally:
        index.close()


@pytest.mark.parametrize("campaign", ["spring-promo", "delivery-notice"])
def test_batch_without_a_list_decides_as_the_checker(tmp_path: Path, campaign: str) -> None:
    """No list imported: `list_missing` for a commercial campaign's numbers, as the checker."""
    (tmp_path / "gatekeeper.yaml").write_text(CONFIG, encoding="utf-8")
    config = load_settings(tmp_path / "gatekeeper.yaml")
    index = PinnedList.open(tmp_path / "data" / "dncm")
    rows = ["0470123456", "0470999999", "+33 1 23 45 67 89", "12", "0470999999"]
    compare(config, index, campaign, MOMENTS[0], rows)


class FailingIndex:
    """A list whose snapshot or lookups fail: impossible to make a real index do on demand."""

    def __init__(self, *, snapshot_fails: bool, failing_key: int) -> None:
        self._snapshot_fails = snapshot_fails
        self._failing_key = failing_key
        self._info = SnapshotInfo(1, LIST_DATE, "0" * 64, 5)

    def snapshot(self) -> SnapshotInfo | None:
        """The snapshot, or the failure."""
        if self._snapshot_fails:
            raise IndexUnavailableError("list snapshot unreadable: disk I/O error")
        return self._info

    def lookup(self, key: int) -> ListAnswer:
        """Listed on a fixed day, except the failing key."""
        if key == self._failing_key:
            raise IndexUnavailableError(
                "list snapshot unreadable: database disk image is malformed"
            )
        return ListAnswer(self._info, date(2020, 1, 1) if key % 2 else None)

    def lookup_many(self, keys: Sequence[int]) -> dict[int, ListAnswer]:
        """`lookup` of each listed key; fails as a whole when the failing key is among them."""
        answers = {key: self.lookup(key) for key in keys}
        return {key: answer for key, answer in answers.items() if answer.listing_date}


@pytest.mark.parametrize("snapshot_fails", [False, True])
def test_batch_fails_rows_closed_as_the_checker(tmp_path: Path, snapshot_fails: bool) -> None:
    """A snapshot or a lookup that fails: `internal_error` for the same rows, the same text."""
    (tmp_path / "gatekeeper.yaml").write_text(CONFIG, encoding="utf-8")
    config = load_settings(tmp_path / "gatekeeper.yaml")
    index = FailingIndex(snapshot_fails=snapshot_fails, failing_key=32470999999)
    rows = ["0470999999", "0470123456", "0471234567", "12", "+33 1 23 45 67 89", "0470999999"]
    compare(config, index, "spring-promo", MOMENTS[0], rows)


def test_batch_acts_of_another_advertiser_fail_as_the_checker(folder: Path) -> None:
    """Acts read for another advertiser: every Belgian row an `internal_error`, as the checker."""
    config = load_settings(folder / "gatekeeper.yaml")
    index = PinnedList.open(folder / "data" / "dncm")
    consent = Act(ActKind.CONSENT, date(2025, 1, 1), time(9), "c1")
    preloaded = PreloadedActs("globex", {"+32470123456": ((), (consent,))})
    try:
        rows = ["0470123456", "0470999999", "12"]
        compare(config, index, "spring-promo", MOMENTS[0], rows, preloaded=preloaded)
    finally:
        index.close()
