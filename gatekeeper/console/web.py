"""The console's pages: Starlette routes, Jinja2 templates (autoescaped), no script.

Theory of operation: every page but the login needs a live session (accounts.py); each route
names the permission it needs, and a role without it gets 403. Every form that changes
something is a POST carrying the session's CSRF token (the login form a token of its own, in a
cookie and the form). What an officer looks at or takes away (a number searched, a decision
opened, a report or an export of a period) and every act recorded is written to the decision
log's hash chain as an event naming the account *before* the page is answered; when the log
cannot take it, the page is refused (503), never shown unrecorded. Request bodies are read up
to MAX_FORM_BYTES.
"""

from __future__ import annotations

import contextlib
import csv
import io
import secrets
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import structlog
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gatekeeper.audit import (
    CSV_COLUMNS,
    DecisionLog,
    EventKind,
    csv_row,
    local_text,
    outcome_text,
    render,
    summary,
)
from gatekeeper.common import AuditError, RecordRejectedError, StoreError, csv_cell
from gatekeeper.common import today as brussels_today
from gatekeeper.config import Settings, licence_warning
from gatekeeper.consent import ActStore, RawRecord, RecordKind, record_from_fields
from gatekeeper.console.accounts import (
    AccountError,
    AccountStore,
    LoginState,
    Permission,
    Role,
    Session,
)
from gatekeeper.console.forms import (
    MAX_FIELD_LENGTH,
    FormError,
    local_path,
    moment,
    page_cursor,
    read_form,
    search_query,
    trail_of,
)
from gatekeeper.console.i18n import LANGUAGES, choose, word
from gatekeeper.console.nodes import NodeLists, elapsed, read_health
from gatekeeper.console.proxy_login import ProxyLogin, ProxyLoginRefusedError
from gatekeeper.console.reader import (
    PAGE_SIZE,
    ConsoleReader,
    CursorError,
    DecisionChoice,
    NodeDecisionRow,
    SearchTooBroadError,
)
from gatekeeper.console.security import (
    LANGUAGE_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    LoginThrottle,
    SecurityHeaders,
    same_token,
    set_cookie,
)
from gatekeeper.rules import InvalidNumber, Reason, Verdict, normalise

ACCESS_EVENT = EventKind.CONSOLE_ACCESS
ACT_EVENT = EventKind.CONSOLE_ACT
LOCKOUT_EVENT = EventKind.CONSOLE_LOCKOUT
EVENT_KINDS = (
    "list_sync",
    "config_reload",
    "bypass",
    "scrub",
    "checkpoint",
    ACCESS_EVENT,
    ACT_EVENT,
    LOCKOUT_EVENT,
)
_HERE = Path(__file__).resolve().parent
_log = structlog.get_logger("gatekeeper.console")


@dataclass(frozen=True, slots=True)
class Services:
    """What the pages use: open stores and the settings in force."""

    settings: Settings
    accounts: AccountStore
    reader: ConsoleReader
    acts: ActStore
    log: DecisionLog


Handler = Callable[[Request, Session], Awaitable[Response]]


def templates() -> jinja2.Environment:
    """The page templates; every value is escaped unless a template says otherwise."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["local"] = lambda utc_iso: local_text(str(utc_iso)) if utc_iso else ""
    env.filters["outcome"] = outcome_text
    env.filters["summary"] = summary
    env.filters["elapsed"] = elapsed
    return env


class Console:
    """The application: routes bound to the services."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.env = templates()
        self.throttle = LoginThrottle()
        self.secure = settings.console.secure_cookies
        self.proxy = ProxyLogin(
            settings.console.proxy_user_header, settings.console.trusted_proxies
        )
        self._services: Services | None = None
        central = settings.console.central_log
        self.node_lists = NodeLists(central) if central is not None else None

    @property
    def services(self) -> Services:
        """The open stores (set once the application has started)."""
        assert self._services is not None, "the console's stores are not open"
        return self._services

    @services.setter
    def services(self, services: Services) -> None:
        self._services = services

    def app(
        self, lifespan: Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]
    ) -> Starlette:
        """The ASGI application."""
        routes = [
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/", self.home, methods=["GET"]),
            Route("/search", self.guard(Permission.READ, self.search), methods=["GET"]),
            Route("/search.csv", self.guard(Permission.EXPORT, self.export), methods=["GET"]),
            Route("/decision/{decision_id}", self.guard(Permission.READ, self.decision)),
            Route("/acts", self.guard(Permission.READ, self.acts_page), methods=["GET"]),
            Route("/acts", self.guard(Permission.ACTS, self.record_act), methods=["POST"]),
            Route("/reports", self.guard(Permission.REPORT, self.reports), methods=["GET"]),
            Route("/report.html", self.guard(Permission.REPORT, self.report), methods=["GET"]),
            Route("/events", self.guard(Permission.READ, self.events), methods=["GET"]),
            Route("/nodes", self.guard(Permission.READ, self.nodes), methods=["GET"]),
            Route("/accounts", self.guard(Permission.ACCOUNTS, self.accounts), methods=["GET"]),
            Route("/accounts", self.guard(Permission.ACCOUNTS, self.add_account), methods=["POST"]),
            Route(
                "/accounts/unlock",
                self.guard(Permission.ACCOUNTS, self.unlock_account),
                methods=["POST"],
            ),
            Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
        ]
        app = Starlette(routes=routes, lifespan=lifespan)
        app.add_middleware(SecurityHeaders)
        return app

    # -- helpers -------------------------------------------------------------------------

    def page(
        self,
        request: Request,
        template: str,
        session: Session | None,
        status: int = 200,
        **context: Any,  # noqa: ANN401 - template values are of any type
    ) -> HTMLResponse:
        """A rendered page in the request's language (remembered when switched)."""
        asked = request.query_params.get("lang")
        language = choose(
            asked, request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")
        )
        switches = [(code, str(request.url.include_query_params(lang=code))) for code in LANGUAGES]
        body = self.env.get_template(template).render(
            t=lambda key: word(key, language),
            lang=language,
            switches=switches,
            session=session,
            csrf=session.csrf if session is not None else "",
            may=(lambda p: session is not None and session.account.may(Permission(p))),
            **context,
        )
        response = HTMLResponse(body, status_code=status)
        if asked in LANGUAGES:
            set_cookie(response, LANGUAGE_COOKIE, language, secure=self.secure, max_age=31536000)
        return response

    async def session_of(self, request: Request) -> Session | None:
        """The request's live session, if it has one, or the one a trusted proxy's header opens.

        A new proxy session's token is kept in `request.state.fresh_session` for `remember`.
        ProxyLoginRefusedError when a trusted proxy names no usable account.
        """
        token = request.cookies.get(SESSION_COOKIE)
        now = datetime.now(UTC)
        session = None
        if token and len(token) <= MAX_FIELD_LENGTH:
            session = await run_in_threadpool(self.services.accounts.session, token, now)
        name = self.proxy.account(request.scope)
        if name is None or (session is not None and session.account.name == name):
            return session
        result = await run_in_threadpool(self.services.accounts.trusted_login, name, now)
        client = request.client.host if request.client else "unknown"
        if result.state is not LoginState.OK:
            _log.warning("console_proxy_login_refused", account=name, client=client)
            raise ProxyLoginRefusedError(
                "no such account" if result.state is LoginState.WRONG else "account locked"
            )
        if token and session is not None:
            await run_in_threadpool(self.services.accounts.logout, token)
        _log.info("console_login", account=name, client=client, via="proxy")
        request.state.fresh_session = result.token
        return await run_in_threadpool(self.services.accounts.session, result.token, now)

    def remember(self, request: Request, response: Response) -> Response:
        """The response, with the cookie of a session a proxy's header opened for it."""
        fresh = getattr(request.state, "fresh_session", None)
        if fresh:
            set_cookie(response, SESSION_COOKIE, fresh, secure=self.secure)
        return response

    def proxy_refused(self, request: Request) -> Response:
        """The page for a trusted proxy that named no usable account."""
        return self.page(request, "message.html", None, 403, message="proxy_refused")

    def guard(
        self, permission: Permission, handler: Handler
    ) -> Callable[[Request], Awaitable[Response]]:
        """The handler, behind a live session whose role allows `permission`."""

        async def guarded(request: Request) -> Response:
            try:
                session = await self.session_of(request)
            except ProxyLoginRefusedError:
                return self.proxy_refused(request)
            if session is None:
                return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
            return self.remember(request, await checked(request, session))

        async def checked(request: Request, session: Session) -> Response:
            if not session.account.may(permission):
                return self.page(request, "message.html", session, 403, message="forbidden")
            try:
                if request.method == "POST":
                    form = await read_form(request)
                    if not same_token(form.get("csrf"), session.csrf):
                        return self.page(request, "message.html", session, 403, message="bad_form")
                    request.state.form = form
                return await handler(request, session)
            except (FormError, SearchTooBroadError, CursorError) as err:
                return self.page(
                    request,
                    "message.html",
                    session,
                    400,
                    message="invalid",
                    detail=str(err),
                )
            except (AuditError, StoreError) as err:
                _log.error("console_unavailable", error=str(err), account=session.account.name)
                return self.page(request, "message.html", session, 503, message="unavailable")

        return guarded

    async def trail(self, session: Session, event: str, /, **details: object) -> None:
        """Record what this account saw or did in the decision log (AuditError if it cannot)."""
        await self.services.log.record_event(event, {"account": session.account.name, **details})

    # -- login -----------------------------------------------------------------------------

    async def login_page(self, request: Request, *, status: int = 200, **context: Any) -> Response:  # noqa: ANN401
        """The login form, with a fresh login CSRF token."""
        token = _random_token()
        response = self.page(
            request,
            "login.html",
            None,
            status,
            login_csrf=token,
            next=local_path(request.query_params.get("next")),
            **context,
        )
        set_cookie(response, LOGIN_CSRF_COOKIE, token, secure=self.secure)
        return response

    async def login(self, request: Request) -> Response:
        """Check the password; a new session on success, the lock state otherwise."""
        try:
            form = await read_form(request)
        except FormError:
            return await self.login_page(request, status=400, error="bad_form")
        if not same_token(form.get("csrf"), request.cookies.get(LOGIN_CSRF_COOKIE, "")):
            return await self.login_page(request, status=403, error="bad_form")
        client = request.client.host if request.client else "unknown"
        if not self.throttle.allow(client):
            _log.warning("console_login_throttled", client=client)
            return await self.login_page(request, status=429, error="throttled")
        name = form.get("name", "")[:MAX_FIELD_LENGTH]
        now = datetime.now(UTC)
        result = await run_in_threadpool(
            self.services.accounts.login, name, form.get("password", "")[:1024], now
        )
        if result.state is not LoginState.OK:
            self.throttle.failed(client)
        if result.state is LoginState.LOCKED_NOW:
            _log.warning(
                "console_account_locked",
                account=name,
                client=client,
                until=result.locked_until.isoformat() if result.locked_until else None,
            )
            with contextlib.suppress(AuditError):
                await self.services.log.record_event(
                    LOCKOUT_EVENT,
                    {"account": name, "client": client, "until": result.locked_until},
                )
        if result.state in {LoginState.LOCKED, LoginState.LOCKED_NOW}:
            until = local_text(result.locked_until.isoformat()) if result.locked_until else ""
            return await self.login_page(request, status=403, error="locked", until=until)
        if result.state is LoginState.WRONG:
            _log.info("console_login_failed", account=name, client=client)
            return await self.login_page(request, status=401, error="login_failed")
        old = request.cookies.get(SESSION_COOKIE)
        if old:
            await run_in_threadpool(self.services.accounts.logout, old)
        _log.info("console_login", account=name, client=client)
        response = RedirectResponse(local_path(form.get("next")) or "/", status_code=303)
        set_cookie(response, SESSION_COOKIE, result.token, secure=self.secure)
        response.delete_cookie(
            LOGIN_CSRF_COOKIE, path="/", secure=self.secure, httponly=True, samesite="strict"
        )
        return response

    async def logout(self, request: Request) -> Response:
        """End the session (the form carries its CSRF token)."""
        try:
            session = await self.session_of(request)
        except ProxyLoginRefusedError:
            return self.proxy_refused(request)
        response = RedirectResponse("/login", status_code=303)
        if session is not None:
            try:
                form = await read_form(request)
            except FormError:
                form = {}
            if not same_token(form.get("csrf"), session.csrf):
                return self.page(request, "message.html", session, 403, message="bad_form")
            await run_in_threadpool(
                self.services.accounts.logout, request.cookies.get(SESSION_COOKIE, "")
            )
        response.delete_cookie(
            SESSION_COOKIE, path="/", secure=self.secure, httponly=True, samesite="strict"
        )
        return response

    async def home(self, request: Request) -> Response:
        """Where each role starts."""
        try:
            session = await self.session_of(request)
        except ProxyLoginRefusedError:
            return self.proxy_refused(request)
        if session is None:
            return RedirectResponse("/login", status_code=303)
        start = "/search" if session.account.may(Permission.READ) else "/accounts"
        return self.remember(request, RedirectResponse(start, status_code=303))

    # -- decisions -------------------------------------------------------------------------

    async def search(self, request: Request, session: Session) -> Response:
        """The search form and a page of results, newest first."""
        params = request.query_params
        query, shown = search_query(params)
        before = page_cursor(params.get("before"))
        page = None
        if params.get("go") or before is not None:
            await self.trail(session, ACCESS_EVENT, action="search", **trail_of(query))
            page = await self.services.reader.search(query, before, PAGE_SIZE)
        next_url = None
        if page is not None and page.next_before is not None:
            next_url = str(request.url.include_query_params(before=page.next_before))
        export_url = "/search.csv?" + str(request.url.remove_query_params(["before", "lang"]).query)
        return self.page(
            request,
            "search.html",
            session,
            form=shown,
            page=page,
            next_url=next_url,
            export_url=export_url,
            verdicts=[v.value for v in Verdict],
            reasons=[r.value for r in Reason],
            advertisers=sorted(self.services.settings.advertisers),
            nodes=self.services.reader.nodes,
        )

    async def export(self, request: Request, session: Session) -> Response:
        """The search's decisions as CSV, every cell through csv_cell (OWASP)."""
        query, _ = search_query(request.query_params)
        await self.trail(session, ACCESS_EVENT, action="export", **trail_of(query))
        rows = self.services.reader.export(query)
        nodes = self.services.reader.nodes

        def lines() -> Iterator[bytes]:
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(("node", "pbx", *CSV_COLUMNS) if nodes else CSV_COLUMNS)
            for row in rows:
                cells = list(csv_row(row))
                if nodes:
                    node = row.node if isinstance(row, NodeDecisionRow) else ""
                    cells = [node, row.get("pbx") or "", *cells]
                writer.writerow([csv_cell(value) for value in cells])
                if buffer.tell() > 65536:
                    yield buffer.getvalue().encode("utf-8")
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue().encode("utf-8")

        return StreamingResponse(
            lines(),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="decisions.csv"'},
        )

    async def decision(self, request: Request, session: Session) -> Response:
        """One decision with everything that decided it."""
        decision_id = str(request.path_params["decision_id"])[:MAX_FIELD_LENGTH]
        node = request.query_params.get("node", "")[:MAX_FIELD_LENGTH] or None
        view = await self.services.reader.decision(decision_id, node)
        if view is None:
            return self.page(request, "message.html", session, 404, message="not_found")
        if isinstance(view, DecisionChoice):
            return self.page(request, "choose_node.html", session, choice=view)
        where = {"node": view.row.node} if isinstance(view.row, NodeDecisionRow) else {}
        await self.trail(
            session,
            ACCESS_EVENT,
            action="decision",
            decision_id=view.row.id,
            number=view.row.get("e164"),
            **where,
        )
        evidence = view.row.get("evidence") or []
        listing = [act for act in evidence if act.get("kind") == "listing"]
        acts = [act for act in evidence if act.get("kind") != "listing"]
        return self.page(
            request,
            "decision.html",
            session,
            view=view,
            row=view.row,
            listing=listing,
            acts=acts,
            snapshot=view.row.get("snapshot") or {},
            node=view.row.node if isinstance(view.row, NodeDecisionRow) else None,
        )

    # -- acts ------------------------------------------------------------------------------

    async def acts_page(self, request: Request, session: Session, **context: Any) -> Response:  # noqa: ANN401
        """A number's consents and objections, and the form to record one."""
        raw = request.query_params.get("number", "")[:MAX_FIELD_LENGTH]
        history = None
        e164 = None
        if raw:
            number = normalise(raw)
            if isinstance(number, InvalidNumber):
                raise FormError(f"number: {raw!r} is not a callable number ({number.detail})")
            e164 = number.e164
            await self.trail(session, ACCESS_EVENT, action="acts", number=e164)
            history = await self.services.reader.acts(e164)
        return self.page(
            request,
            "acts.html",
            session,
            status=context.pop("status", 200),
            number=raw,
            e164=e164,
            history=history,
            advertisers=sorted(self.services.settings.advertisers),
            today=brussels_today().isoformat(),
            **context,
        )

    async def record_act(self, request: Request, session: Session) -> Response:
        """Record a consent or an objection, or revoke one; then name the account in the log."""
        form: dict[str, str] = request.state.form
        kind_text = form.get("kind", "")
        try:
            if kind_text == "revocation":
                kind = RecordKind(form.get("revoke_kind", ""))
                text = form.get("record_id", "").strip()
                if not (text.isascii() and text.isdigit() and len(text) <= 18 and int(text) > 0):
                    raise FormError("record_id: expected a whole number")
                record_id = int(text)
                stored = await self.services.acts.revoke(
                    record_id, kind, form.get("reason", "").strip()[:MAX_FIELD_LENGTH]
                )
                await self.trail(
                    session,
                    ACT_EVENT,
                    act="revocation",
                    kind=kind.value,
                    record_id=stored.record_id,
                    number=stored.record.e164,
                    advertiser=stored.record.advertiser,
                )
                return self._after_act(stored.record.e164)
            kind = RecordKind(kind_text)
        except ValueError as err:
            raise FormError(f"kind: {err}") from err
        except RecordRejectedError as err:
            return await self._rejected(request, session, str(err))
        raw = RawRecord(
            form.get("number", ""),
            form.get("advertiser", ""),
            form.get("date", ""),
            form.get("source", ""),
            form.get("reference", ""),
        )
        try:
            record = record_from_fields(
                kind, raw, self.services.settings.advertisers.keys(), datetime.now(UTC)
            )
        except RecordRejectedError as err:
            return await self._rejected(request, session, str(err))
        result = await self.services.acts.add(record)
        await self.trail(
            session,
            ACT_EVENT,
            act=kind.value,
            record_id=result.stored.record_id,
            created=result.created,
            number=record.e164,
            advertiser=record.advertiser,
            day=record.day,
            source=record.source,
            reference=record.reference,
        )
        return self._after_act(record.e164)

    async def _rejected(self, request: Request, session: Session, problems: str) -> Response:
        return self.page(request, "message.html", session, 400, message="invalid", detail=problems)

    @staticmethod
    def _after_act(e164: str) -> Response:
        return RedirectResponse(f"/acts?number={quote(e164)}&stored=1", status_code=303)

    # -- reports and events ----------------------------------------------------------------

    async def reports(self, request: Request, session: Session) -> Response:
        """The report form."""
        today = brussels_today()
        return self.page(
            request,
            "reports.html",
            session,
            since=(today - timedelta(days=30)).isoformat(),
            until=today.isoformat(),
        )

    async def report(self, request: Request, session: Session) -> Response:
        """The inspector's report for a period (and a number), as a download."""
        params = request.query_params
        since = moment(params.get("since", ""), "since", end_of_day=False)
        until = moment(params.get("until", ""), "until", end_of_day=True)
        if until <= since:
            raise FormError("until: must be after since")
        number = None
        raw = params.get("number", "").strip()[:MAX_FIELD_LENGTH]
        if raw:
            normalised = normalise(raw)
            if isinstance(normalised, InvalidNumber):
                raise FormError(f"number: {raw!r} is not a valid number")
            number = normalised.e164
        await self.trail(
            session, ACCESS_EVENT, action="report", since=since, until=until, number=number
        )
        try:
            data = await self.services.reader.report(since, until, number)
        except ValueError as err:
            raise FormError(str(err)) from err
        page = render(data, max_age_days=self.services.settings.dncm.max_age_days)
        name = f"report-{since.date().isoformat()}-{until.date().isoformat()}.html"
        return HTMLResponse(
            page,
            headers={
                "content-disposition": f'attachment; filename="{name}"',
                "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; "
                "img-src data:; sandbox",
            },
        )

    async def events(self, request: Request, session: Session) -> Response:
        """Syncs, reloads, bypasses, scrubs and console records, newest first; the licence end."""
        kind = request.query_params.get("kind") or None
        if kind is not None and kind not in EVENT_KINDS:
            raise FormError(f"kind: one of {', '.join(EVENT_KINDS)}")
        kinds = (kind,) if kind else None
        before = page_cursor(request.query_params.get("before"))
        found = await self.services.reader.events(kinds, before, PAGE_SIZE)
        next_url = None
        if found.next_before is not None:
            next_url = str(request.url.include_query_params(before=found.next_before))
        settings = self.services.settings
        return self.page(
            request,
            "events.html",
            session,
            rows=found.rows,
            nodes=self.services.reader.nodes,
            kinds=EVENT_KINDS,
            kind=kind or "",
            next_url=next_url,
            licence_end=settings.licensee.licence_valid_until.isoformat(),
            licence_warning=licence_warning(settings, brussels_today()),
        )

    async def nodes(self, request: Request, session: Session) -> Response:
        """Every node's list from the central copy, or this node's /healthz; no personal data."""
        if self.node_lists is not None:
            central = await self.node_lists.read()
            return self.page(request, "nodes.html", session, central=central, health=None)
        health = await read_health(self.settings.health)
        return self.page(request, "nodes.html", session, central=None, health=health)

    # -- accounts --------------------------------------------------------------------------

    async def accounts(self, request: Request, session: Session, **context: Any) -> Response:  # noqa: ANN401
        """Every account, the add and unlock forms."""
        listed = await run_in_threadpool(self.services.accounts.accounts)
        return self.page(
            request,
            "accounts.html",
            session,
            status=context.pop("status", 200),
            accounts=listed,
            roles=[r.value for r in Role],
            **context,
        )

    async def add_account(self, request: Request, session: Session) -> Response:
        """Add an account (admins only)."""
        form: dict[str, str] = request.state.form
        try:
            role = Role(form.get("role", ""))
            await run_in_threadpool(
                self.services.accounts.add,
                form.get("name", ""),
                role,
                form.get("password", ""),
                datetime.now(UTC),
            )
        except (ValueError, AccountError) as err:
            return await self.accounts(request, session, status=400, error=str(err))
        await self.trail(
            session, ACCESS_EVENT, action="account_added", name=form.get("name"), role=role.value
        )
        return RedirectResponse("/accounts", status_code=303)

    async def unlock_account(self, request: Request, session: Session) -> Response:
        """Unlock an account (admins only)."""
        name = request.state.form.get("name", "")
        try:
            await run_in_threadpool(self.services.accounts.unlock, name)
        except AccountError as err:
            return await self.accounts(request, session, status=400, error=str(err))
        await self.trail(session, ACCESS_EVENT, action="account_unlocked", name=name)
        return RedirectResponse("/accounts", status_code=303)


def _random_token() -> str:
    return secrets.token_urlsafe(32)
