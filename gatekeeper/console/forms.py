"""Reading what a browser sends: bounded forms, search filters, cursors, redirect targets."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request

from gatekeeper.audit import Filters, parse_moment
from gatekeeper.common import AuditError
from gatekeeper.console.reader import Query
from gatekeeper.rules import InvalidNumber, Reason, Verdict, normalise

MAX_FORM_BYTES = 64 * 1024
MAX_FIELD_LENGTH = 200
MAX_FORM_FIELDS = 20
MAX_CURSOR_LENGTH = 100
_CURSOR = re.compile(r"[A-Za-z0-9_.:-]+")


class FormError(Exception):
    """A request whose form or query cannot be used; the message says which field."""


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form, at most MAX_FORM_BYTES and MAX_FORM_FIELDS; the first value of each."""
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_FORM_BYTES:
            raise FormError(f"form larger than {MAX_FORM_BYTES} bytes")
    try:
        fields = parse_qs(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
            strict_parsing=False,
        )
    except (UnicodeDecodeError, ValueError) as err:
        raise FormError(f"form: {err}") from err
    return {key: values[0] for key, values in fields.items()}


def search_query(params: Any) -> tuple[Query, dict[str, str]]:  # noqa: ANN401 - a query mapping
    """The search's filters from the query string; the number normalised like the CLI's."""
    shown = {
        key: str(params.get(key, ""))[:MAX_FIELD_LENGTH].strip()
        for key in (
            "number",
            "campaign",
            "advertiser",
            "verdict",
            "reason",
            "since",
            "until",
            "node",
            "pbx",
        )
    }
    e164 = dialled = None
    if shown["number"]:
        number = normalise(shown["number"])
        if isinstance(number, InvalidNumber):
            dialled = shown["number"]
        else:
            e164 = number.e164
    verdict = shown["verdict"] or None
    if verdict is not None and verdict not in {v.value for v in Verdict}:
        raise FormError("verdict: allow or block")
    reason = shown["reason"] or None
    if reason is not None and reason not in {r.value for r in Reason}:
        raise FormError("reason: not a reason code")
    filters = Filters(
        e164=e164,
        dialled=dialled,
        campaign=shown["campaign"] or None,
        since=moment(shown["since"], "since", end_of_day=False) if shown["since"] else None,
        until=moment(shown["until"], "until", end_of_day=True) if shown["until"] else None,
        verdict=verdict,
        reason=reason,
    )
    query = Query(
        filters,
        advertiser=shown["advertiser"] or None,
        node=shown["node"] or None,
        pbx=shown["pbx"] or None,
    )
    return query, shown


def moment(text: str, name: str, *, end_of_day: bool) -> datetime:
    """A Brussels date or date-time from a form field named `name`."""
    try:
        return parse_moment(text, end_of_day=end_of_day)
    except (AuditError, ValueError) as err:
        raise FormError(f"{name}: {err}") from err


def page_cursor(text: str | None) -> str | None:
    """A page cursor as the reader wrote it (the reader checks its form): short and plain."""
    if not text:
        return None
    if len(text) > MAX_CURSOR_LENGTH or not _CURSOR.fullmatch(text):
        raise FormError("before: expected a page cursor")
    return text


def trail_of(query: Query) -> dict[str, object]:
    """The filters of a search as the details of its `console_access` record."""
    filters = query.filters
    return {
        key: value
        for key, value in (
            ("number", filters.e164),
            ("dialled", filters.dialled),
            ("campaign", filters.campaign),
            ("advertiser", query.advertiser),
            ("node", query.node),
            ("pbx", query.pbx),
            ("verdict", filters.verdict),
            ("reason", filters.reason),
            ("since", filters.since),
            ("until", filters.until),
        )
        if value is not None
    }


def local_path(target: str | None) -> str:
    """A redirect target only if it is a path on this site (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target[:MAX_FIELD_LENGTH]
    return ""
