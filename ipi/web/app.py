"""The dashboard: a read-only Starlette app over ``ipi.api.Rows``.

    /                                    every account and marketplace at a glance
    /accounts/{account}                  the account's page (alert messages link here)
    /accounts/{account}/drivers.csv      a marketplace's drivers table, as CSV
    /accounts/{account}/whatif           the estimate after actions, never stored
    /static/...                          CSS, JS and the vendored uPlot: nothing from a CDN

Never in the pipeline's way: each question opens the store and closes it, and waits
for a writer at most ``BUSY_TIMEOUT`` seconds; a database held longer (a daily run
loading) answers 503 "updating" with Retry-After, and the page reloads itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ipi import safe
from ipi.api import DRIVER_COLUMNS, Rows
from ipi.errors import ConfigError, NotFound, StoreBusy, StoreUnavailable, UsageError
from ipi.safe import csv_text
from ipi.settings import Settings
from ipi.stakes import FEE_NAMES, span_text
from ipi.web import views
from ipi.web.auth import EVERY, LoopbackOnly, SecurityHeaders, TokenGate, allowed

log = logging.getLogger("ipi.web")

STATIC = Path(__file__).parent / "static"
# Seconds a request waits for another process to let go of the database: a daily run
# holds it for seconds at a time, and a person would rather read "updating" than wait.
BUSY_TIMEOUT = 1.0
RETRY_AFTER = 5  # seconds, for the browser and for people


def _text(value: Any) -> Any:
    """Every value a template prints: no control character (a NUL or an escape sequence
    in a SKU), before autoescape; markup ipi built stays markup."""
    if isinstance(value, Markup):
        return Markup(safe.text(str(value)))
    return safe.text(value) if isinstance(value, str) else value


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("ipi.web", "templates"),
                      autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, finalize=_text)
    env.filters.update(num=_num, signed=_signed, ago=_ago, rule=_rule, report=_report,
                       factor=_factor, tone=_tone, fee=_fee, span=span_text)
    env.globals["tone_of"] = views.tone  # an overview row's tone: bad, warn, ok, none
    return env


DASH, MINUS = "\u2013", "\u2212"  # typographic: a missing value, a negative number


def _num(v: float | None, fmt: str = ".0f") -> str:
    return DASH if v is None else format(v, fmt).replace("-", MINUS)


def _signed(v: float | None, fmt: str = "+.0f") -> str:
    return _num(v, fmt)


def _ago(days: int | None) -> str:
    if days is None:
        return "no data yet"
    if days < 0:
        return f"{-days} days ahead of today"
    return {0: "today", 1: "yesterday"}.get(days, f"{days} days ago")


def _rule(name: str) -> str:
    return views.RULE_NAMES.get(name, name.replace("_", " "))


def _report(name: str) -> str:
    return views.REPORT_NAMES.get(name, name)


def _factor(name: str) -> str:
    return name.replace("_", "-")


def _tone(status: str) -> str:
    return views.STATUS_TONES.get(status, "none")


def _fee(kind: str) -> str:
    return FEE_NAMES[kind]


class Pages:
    """The app's handlers, over one ``Rows`` (its store opened per question)."""

    def __init__(self, settings: Settings) -> None:
        self.rows = Rows(settings.model_copy(update={"busy_timeout": BUSY_TIMEOUT}))
        self.env = _environment()

    # -- answering ----------------------------------------------------------------------

    def render(self, request: Request, template: str, status: int = 200,
               headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(
            root=request.scope.get("root_path", ""), **context)
        # Today's numbers, behind a token maybe: no cache keeps them.
        return HTMLResponse(html, status_code=status,
                            headers={"Cache-Control": "no-store", **(headers or {})})

    def message(self, request: Request, status: int, title: str, text: str,
                **context: Any) -> HTMLResponse:
        context.setdefault("accounts", self.accounts(request))
        context.setdefault("refresh", None)
        return self.render(request, "message.html", status, context.pop("headers", None),
                           title=title, text=text, **context)

    def accounts(self, request: Request) -> list[str]:
        """The accounts this request may see: every one, or its client token's alone."""
        mine = allowed(request.scope)
        return [a.name for a in self.rows.settings.accounts if mine is None or a.name in mine]

    def known(self, request: Request) -> str:
        """The account named in the path, if this request may see it; any other name is a
        404 (a client never learns another's name)."""
        name = str(request.path_params["account"])
        if name not in self.accounts(request):
            raise HTTPException(404, f"no account named {name!r}")
        return name

    # -- pages ----------------------------------------------------------------------------

    def index(self, request: Request) -> Response:
        mine = self.accounts(request)
        rows = [r for r in views.index(self.rows) if r.account in mine]
        # An account a run is writing shows "updating": the page comes back for it.
        return self.render(request, "index.html", rows=rows, accounts=mine,
                           refresh=RETRY_AFTER if any(r.updating for r in rows) else None)

    def account(self, request: Request) -> Response:
        name = self.known(request)
        try:
            page = views.account_page(self.rows, name)
        except (ConfigError, UsageError, NotFound) as exc:  # asked what cannot be answered
            return self.message(request, 400, name, f"{exc}.")
        return self.render(request, "account.html", page=page, drivers_n=views.DRIVERS)

    def whatif(self, request: Request) -> Response:
        q = request.query_params
        page = views.whatif(self.rows, self.known(request), q.get("marketplace"),
                            q.getlist("remove"), q.getlist("fix_stranded"), q.getlist("restock"))
        return self.render(request, "whatif.html", page.status, page=page)

    def drivers_csv(self, request: Request) -> Response:
        """The drivers table of a marketplace, the same rows as the page's."""
        name = self.known(request)
        try:
            acc = self.rows.account(name)
            mp = self.rows.marketplace(acc, request.query_params.get("marketplace"))
            rows = self.rows.drivers(account=name, marketplace=mp, n=views.DRIVERS)
        except (ConfigError, UsageError, NotFound) as exc:
            return Response(f"{exc}\n", status_code=400, media_type="text/plain")
        # str() of a float is its shortest exact form: the file reads back to the same rows;
        # a text cell a spreadsheet would run as a formula gets a leading '.
        text = csv_text(DRIVER_COLUMNS, ([getattr(r, c) for c in DRIVER_COLUMNS] for r in rows))
        day = rows[0].date if rows else "none"
        return Response(text, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="ipi-drivers-{name}-{mp}-{day}.csv"',
            "Cache-Control": "no-store"})

    # -- when it goes wrong -----------------------------------------------------------------

    def busy(self, request: Request, exc: Exception) -> Response:
        log.info("dashboard: %s", exc)  # the message names the file: for the log only
        return self.message(
            request, 503, "Updating",
            "ipi is updating the database (a daily run or a load is writing it). "
            f"Retry in a moment: this page tries again by itself in {RETRY_AFTER} seconds.",
            refresh=RETRY_AFTER, headers={"Retry-After": str(RETRY_AFTER)})

    def unavailable(self, request: Request, exc: Exception) -> Response:
        log.warning("dashboard: %s", exc)
        return self.message(request, 503, "Database unavailable",
                            "ipi cannot open its database: see ipi's log for why.")

    def not_found(self, request: Request, exc: Exception) -> Response:
        detail = getattr(exc, "detail", "") or "no such page"
        return self.message(request, 404, "Not found", f"{detail}.")

    def crashed(self, request: Request, exc: Exception) -> Response:
        # Starlette re-raises it after this answer: the server logs the traceback.
        log.error("dashboard: %s %s failed: %r", request.method, request.url.path, exc)
        return self.message(request, 500, "Something went wrong",
                            "This page failed; the error is in ipi's log.", accounts=[])


def tokens_of(settings: Settings, token: str | None,
              env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The dashboard's tokens: {EVERY: ``token``} and each account's own from
    IPI_<ACCOUNT>_WEB_TOKEN (``env``: the environment)."""
    env = os.environ if env is None else env
    tokens = {a.name: t for a in settings.accounts if (t := env.get(a.web_token_env))}
    return {EVERY: token, **tokens} if token else tokens


def create_app(settings: Settings, *, token: str | None = None,
               tokens: Mapping[str, str] | None = None) -> Starlette:
    """The dashboard over ``settings``' store; with tokens (``token`` opens everything,
    ``tokens`` per account, by default from the environment: ``tokens_of``), every
    request must carry one (see ``ipi.web.auth``), else only loopback addresses are
    answered."""
    pages = Pages(settings)
    tokens = tokens_of(settings, token) if tokens is None else tokens
    gate = Middleware(TokenGate, tokens=tokens) if tokens else Middleware(LoopbackOnly)
    return Starlette(
        routes=[
            Route("/", pages.index),
            Route("/accounts/{account}", pages.account),
            Route("/accounts/{account}/drivers.csv", pages.drivers_csv),
            Route("/accounts/{account}/whatif", pages.whatif),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders), gate],
        exception_handlers={StoreBusy: pages.busy, StoreUnavailable: pages.unavailable,
                            404: pages.not_found, Exception: pages.crashed},
    )
