"""`gatekeeper consent ...` and `gatekeeper objection ...`: record, import, revoke and show acts."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gatekeeper.common import RecordRejectedError, shown
from gatekeeper.config import Settings, config_path, load_settings, positive_number
from gatekeeper.consent import (
    ActStore,
    RecordKind,
    StoredRecord,
)
from gatekeeper.consent.acts_input import RawRecord, read_csv, record_from_fields
from gatekeeper.rules import BelgianNumber, normalise
from gatekeeper.stores.acts import migrate_to_postgresql, open_configured_act_store

EXIT_OK = 0
EXIT_USAGE = 2
SHOW_COLUMNS = (
    "id",
    "kind",
    "advertiser",
    "number",
    "date",
    "time",
    "source",
    "reference",
    "created",
    "revoked",
)

Handler = Callable[[argparse.Namespace], int]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `consent` and `objection` command groups."""
    for kind in RecordKind:
        _register_kind(subparsers, kind)


def _register_kind(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], kind: RecordKind
) -> None:
    noun = kind.value
    group = subparsers.add_parser(
        noun,
        help=f"record, import, revoke and show {noun}s",
        description=f"Record, import, revoke and show {noun}s (per advertiser and number).",
    )
    actions = group.add_subparsers(dest=f"{noun}_action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help=f"record one {noun}")
    add.add_argument("number", metavar="NUMBER")
    add.add_argument("--advertiser", required=True, metavar="NAME")
    add.add_argument(
        "--date",
        required=True,
        metavar="DATE",
        help="YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS] (Belgian time unless an offset is given)",
    )
    add.add_argument("--source", default="", metavar="TEXT", help="where it was given")
    add.add_argument("--reference", default="", metavar="TEXT", help="your reference")
    add.set_defaults(handler=_with_kind(kind, _add))

    import_ = actions.add_parser(
        "import",
        help=f"import {noun}s from a CSV file, all or nothing",
        description="Header required: number,advertiser,date[,source,reference].",
    )
    import_.add_argument("file", metavar="FILE.csv", type=Path)
    import_.set_defaults(handler=_with_kind(kind, _import))

    revoke = actions.add_parser(
        "revoke",
        help=f"revoke a {noun} recorded by mistake",
        description=f"Revoke a {noun} recorded by mistake: it stops counting, as if never given, "
        "and stays for the proof. A subscriber who withdraws consent is not a mistake: record "
        "that as `objection add` with its date, so the later act wins and no older consent "
        "comes back.",
    )
    revoke.add_argument("record_id", metavar="ID", type=positive_number)
    revoke.add_argument("--reason", default="", metavar="TEXT")
    revoke.set_defaults(handler=_with_kind(kind, _revoke))

    show = actions.add_parser("show", help=f"show the {noun}s of a number, revoked ones too")
    show.add_argument("number", metavar="NUMBER")
    show.add_argument("--advertiser", default=None, metavar="NAME")
    show.set_defaults(handler=_with_kind(kind, _show))

    if kind is RecordKind.CONSENT:
        _register_migrate(actions)


def _register_migrate(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    migrate = actions.add_parser(
        "migrate",
        help="copy this node's SQLite consents and objections into acts.postgresql",
        description="Copy every consent and objection of this node's SQLite act store, with "
        "its dates, source, reference, creation time and revocation, into the shared "
        "PostgreSQL store that acts.postgresql names: in one transaction, checked afterwards; "
        "a second run copies nothing twice; refused, with nothing copied, when the shared store "
        "holds conflicting records. The SQLite file is only read, and kept.",
    )
    migrate.add_argument(
        "--to-postgresql", action="store_true", required=True, help="into acts.postgresql"
    )
    migrate.add_argument(
        "--from",
        dest="source",
        type=Path,
        metavar="FILE",
        help="the SQLite act store (default: data_dir/consent/acts.sqlite)",
    )
    migrate.add_argument(
        "--keep-shared",
        action="store_true",
        help="an act the shared store already holds, live, recorded elsewhere: keep that record"
        " and leave this node's out instead of refusing",
    )
    migrate.set_defaults(handler=_with_kind(RecordKind.CONSENT, _migrate))


def _with_kind(
    kind: RecordKind,
    action: Callable[[argparse.Namespace, RecordKind, Settings], Coroutine[Any, Any, int]],
) -> Handler:
    def handler(args: argparse.Namespace) -> int:
        settings = load_settings(config_path(getattr(args, "config", None)))
        try:
            return asyncio.run(action(args, kind, settings))
        except RecordRejectedError as err:
            _say(f"gatekeeper: {err}")
            return EXIT_USAGE

    return handler


async def _add(args: argparse.Namespace, kind: RecordKind, settings: Settings) -> int:
    raw = RawRecord(args.number, args.advertiser, args.date, args.source, args.reference)
    record = record_from_fields(kind, raw, settings.advertisers.keys(), datetime.now(UTC))
    async with await _open(settings) as store:
        result = await store.add(record)
    stored = result.stored
    state = "stored" if result.created else "already stored"
    _out(f"{kind.value} {stored.record_id} {state}: {_summary(stored)}")
    return EXIT_OK


async def _import(args: argparse.Namespace, kind: RecordKind, settings: Settings) -> int:
    path: Path = args.file
    records = read_csv(path, kind, settings.advertisers.keys(), datetime.now(UTC))
    async with await _open(settings) as store:
        added = await store.add_all(records)
    already = len(records) - added
    _out(f"imported {added} {kind.value}s from {path} ({already} already stored)")
    return EXIT_OK


async def _revoke(args: argparse.Namespace, kind: RecordKind, settings: Settings) -> int:
    async with await _open(settings) as store:
        stored = await store.revoke(args.record_id, kind, args.reason.strip())
    _out(f"{kind.value} {stored.record_id} revoked: {_summary(stored)}")
    return EXIT_OK


async def _show(args: argparse.Namespace, kind: RecordKind, settings: Settings) -> int:
    number = normalise(args.number)
    if not isinstance(number, BelgianNumber):
        raise RecordRejectedError(f"number: {args.number!r} is not a Belgian number")
    async with await _open(settings) as store:
        records = await store.records(number.e164, args.advertiser, kind)
    _out("\t".join(SHOW_COLUMNS))
    for stored in records:
        _out("\t".join(shown(cell) for cell in _show_row(stored)))
    return EXIT_OK


async def _migrate(args: argparse.Namespace, _kind: RecordKind, settings: Settings) -> int:
    report = await migrate_to_postgresql(settings, args.source, keep_shared=args.keep_shared)
    _out(
        shown(
            f"{report.records} records of {report.source}: {report.copied} copied,"
            f" {report.already} already in PostgreSQL, {report.revocations} later"
            f" revocation(s) copied onto them, {report.held} left out (the same act is held,"
            f" --keep-shared); all {report.verified} verified in PostgreSQL; the SQLite file"
            " is kept"
        )
    )
    return EXIT_OK


async def _open(settings: Settings) -> _ClosingStore:
    return _ClosingStore(await open_configured_act_store(settings))


class _ClosingStore:
    """An open store as an async context manager that closes it."""

    def __init__(self, store: ActStore) -> None:
        self._store = store

    async def __aenter__(self) -> ActStore:
        return self._store

    async def __aexit__(self, *exc_info: object) -> None:
        await self._store.close()


def _summary(stored: StoredRecord) -> str:
    record = stored.record
    when = record.day.isoformat() + (f" {record.at.isoformat()}" if record.at else "")
    extra = "".join(
        f" {name}={value}"
        for name, value in (("source", record.source), ("reference", record.reference))
        if value
    )
    return shown(f"{record.e164} for {record.advertiser} on {when}{extra}")


def _show_row(stored: StoredRecord) -> tuple[str, ...]:
    record = stored.record
    revoked = ""
    if stored.revoked_at is not None:
        revoked = stored.revoked_at.isoformat(timespec="seconds")
        if stored.revoke_reason:
            revoked += f" ({stored.revoke_reason})"
    return (
        str(stored.record_id),
        record.kind.value,
        record.advertiser,
        record.e164,
        record.day.isoformat(),
        record.at.isoformat() if record.at else "",
        record.source,
        record.reference,
        stored.created_at.isoformat(timespec="seconds"),
        revoked,
    )


def _out(text: str) -> None:
    sys.stdout.write(f"{text}\n")


def _say(text: str) -> None:
    sys.stderr.write(f"{text}\n")
