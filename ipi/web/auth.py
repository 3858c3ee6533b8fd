"""Who may read the dashboard, and the headers every answer carries.

- **With a token** (``IPI_WEB_TOKEN``), every request, static files and CSV included,
  carries it: ``Authorization: Bearer <token>``, or ``?token=<token>`` once, which
  sets an HttpOnly, SameSite=Strict cookie and sends the browser to the same address
  without the token (so it stays out of history, logs and Referer headers). Anything
  else gets 401. Compared with ``hmac.compare_digest``: no timing tells how much of a
  guess was right. The cookie holds when it was issued and an HMAC of that with the
  token, never the token, and lapses after ``COOKIE_DAYS``. A token is ``MIN_TOKEN``
  characters or more. A client that gives ``MAX_FAILURES`` wrong tokens within
  ``FAILURE_WINDOW`` seconds gets 429 until the window has passed: guessing takes
  forever. The redirect stays on this site (``//evil.example/`` is a path here).
- **Per client**: ``IPI_<ACCOUNT>_WEB_TOKEN`` (the account name upper-cased, other
  characters as ``_``) opens that account alone: its pages, CSV and what-if, and an
  index that lists it alone; any other account answers 404 (``allowed``).
  ``IPI_WEB_TOKEN`` opens everything. The cookie names whose token set it.
- **Without a token** only requests addressed to a loopback name are answered: a page
  elsewhere on the web cannot read the dashboard by pointing its own domain at
  127.0.0.1 (DNS rebinding). ``serve`` refuses a non-loopback address without a token.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ipi.safe import is_loopback

TOKEN_ENV = "IPI_WEB_TOKEN"
COOKIE = "ipi_web"
COOKIE_DAYS = 7  # a browser that kept the cookie asks for the token again after a week
MIN_TOKEN = 32  # characters: a token_urlsafe(32) has 43
MAX_FAILURES, FAILURE_WINDOW = 10, 60.0  # wrong tokens per client, per seconds

# A read-only page of the seller's own: nothing from elsewhere, no framing, no referrer.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every answer, pages and files alike."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    *((k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items())]
            await send(message)

        await self.app(scope, receive, with_headers)


class LoopbackOnly:
    """Without a token: answer only requests addressed to a loopback name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not is_loopback(Headers(scope=scope).get("host", "")):
            response = PlainTextResponse(
                "This dashboard has no token, so it answers only on 127.0.0.1 or localhost. "
                f"To reach it under another name, set a token ({TOKEN_ENV}).\n",
                status_code=403)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def check_token(token: str, env: str = TOKEN_ENV) -> None:
    """A token long enough that guessing it is hopeless, or ValueError saying so."""
    if len(token) < MIN_TOKEN:
        raise ValueError(
            f"{env} is {len(token)} characters; it needs {MIN_TOKEN} or more: make one "
            "with python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")


EVERY = "*"  # the principal of IPI_WEB_TOKEN: every account
SCOPE_KEY = "ipi.accounts"  # in the request scope: the accounts it may see (None: all)


def allowed(scope: Scope) -> frozenset[str] | None:
    """The accounts a request may see: None for every one (IPI_WEB_TOKEN, or loopback
    without tokens), else the one its client token opens."""
    return scope.get(SCOPE_KEY)


class TokenGate:
    """With tokens: every request carries one, as a bearer, a cookie, or once in the
    query. ``tokens``: {EVERY or an account name: its token}; an account's token opens
    that account only."""

    def __init__(self, app: ASGIApp, tokens: Mapping[str, str], *,
                 clock: Callable[[], float] = time.time) -> None:
        for who, token in tokens.items():
            check_token(token, TOKEN_ENV if who == EVERY else f"the token of {who}")
        self.app = app
        self._tokens = {who: token.encode() for who, token in tokens.items()}
        self._clock = clock
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)

    def _whose(self, given: str) -> str | None:
        """Whose token ``given`` is; every token is compared, in constant time each, so
        the time taken tells nothing of which one came close."""
        found = None
        for who, token in self._tokens.items():
            if self._same(given, token):
                found = who
        return found

    def _cookie(self, issued: int, who: str) -> str:
        mac = hmac.new(self._tokens[who], f"ipi-web-cookie:{issued}:{who}".encode(),
                       hashlib.sha256)
        return f"{issued}.{who}.{mac.hexdigest()}"

    def _cookie_whose(self, value: str) -> str | None:
        issued, _, rest = value.partition(".")
        who = rest.rpartition(".")[0]
        if not issued.isdigit() or who not in self._tokens \
                or self._clock() - int(issued) > COOKIE_DAYS * 86400:
            return None
        return who if self._same(value, self._cookie(int(issued), who).encode()) else None

    def _blocked(self, client: str) -> bool:
        """Too many wrong tokens from this client lately (old ones forgotten)."""
        seen, now = self._failures[client], self._clock()
        while seen and now - seen[0] > FAILURE_WINDOW:
            seen.popleft()
        if not seen:
            del self._failures[client]
        return len(seen) >= MAX_FAILURES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        client = request.client.host if request.client else ""
        response: Response
        if self._blocked(client):
            response = PlainTextResponse(
                "Too many wrong tokens from this address: try again in a minute.\n",
                status_code=429, headers={"Retry-After": str(int(FAILURE_WINDOW))})
            await response(scope, receive, send)
            return
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        cookie = request.cookies.get(COOKIE, "")
        who = (self._whose(bearer.strip()) if scheme.lower() == "bearer" else None) \
            or (self._cookie_whose(cookie) if cookie else None)
        if who is not None:
            scope[SCOPE_KEY] = None if who == EVERY else frozenset({who})
            await self.app(scope, receive, send)
            return
        given = request.query_params.get("token")
        if given is not None and (who := self._whose(given)) is not None:
            clean = request.url.remove_query_params("token")
            # One leading slash: "//evil.example/" would send the browser to that host.
            path = "/" + clean.path.lstrip("/\\")
            response = RedirectResponse(path + (f"?{clean.query}" if clean.query else ""),
                                        status_code=303)
            response.set_cookie(COOKIE, self._cookie(int(self._clock()), who), httponly=True,
                                samesite="strict", secure=request.url.scheme == "https",
                                path="/", max_age=COOKIE_DAYS * 86400)
        else:
            if given is not None or bearer:  # a wrong token (a lapsed cookie is no guess)
                self._failures[client].append(self._clock())
            response = PlainTextResponse(
                "This dashboard needs its token: open it once with ?token=<token> (the "
                f"value of {TOKEN_ENV}, or of your account's token), or send "
                "Authorization: Bearer <token>.\n",
                status_code=401, headers={"WWW-Authenticate": 'Bearer realm="ipi"'})
        await response(scope, receive, send)

    @staticmethod
    def _same(given: str, expected: bytes) -> bool:
        return hmac.compare_digest(given.encode("utf-8", "replace"), expected)
