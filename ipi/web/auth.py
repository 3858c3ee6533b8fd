"""Who may read the dashboard, and the headers every answer carries.

- **With a token** (``IPI_WEB_TOKEN``), every request, static files and CSV included,
  carries it: ``Authorization: Bearer <token>``, or ``?token=<token>`` once, which
  sets an HttpOnly, SameSite=Strict cookie and sends the browser to the same address
  without the token (so it stays out of history, logs and Referer headers). Anything
  else gets 401. Compared with ``hmac.compare_digest``: no timing tells how much of a
  guess was right. The cookie holds an HMAC of the token, never the token.
- **Without a token** only requests addressed to a loopback name are answered: a page
  elsewhere on the web cannot read the dashboard by pointing its own domain at
  127.0.0.1 (DNS rebinding). ``serve`` refuses a non-loopback address without a token.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOKEN_ENV = "IPI_WEB_TOKEN"
COOKIE = "ipi_web"

# A read-only page of the seller's own: nothing from elsewhere, no framing, no referrer.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1 (brackets and a port allowed)."""
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8450
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:  # 127.0.0.1:8450, localhost:8450
        host = host.partition(":")[0]
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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


class TokenGate:
    """With a token: every request carries it, as a bearer, a cookie, or once in the
    query."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode()
        self._cookie = hmac.new(self._token, b"ipi-web-cookie", hashlib.sha256).hexdigest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        cookie = request.cookies.get(COOKIE, "")
        if (scheme.lower() == "bearer" and self._same(bearer.strip(), self._token)) \
                or self._same(cookie, self._cookie.encode()):
            await self.app(scope, receive, send)
            return
        given = request.query_params.get("token")
        response: Response
        if given is not None and self._same(given, self._token):
            clean = request.url.remove_query_params("token")
            response = RedirectResponse(clean.path + (f"?{clean.query}" if clean.query else ""),
                                        status_code=303)
            response.set_cookie(COOKIE, self._cookie, httponly=True, samesite="strict",
                                secure=request.url.scheme == "https", path="/")
        else:
            response = PlainTextResponse(
                "This dashboard needs its token: open it once with ?token=<token> (the "
                f"value of {TOKEN_ENV}), or send Authorization: Bearer <token>.\n",
                status_code=401, headers={"WWW-Authenticate": 'Bearer realm="ipi"'})
        await response(scope, receive, send)

    @staticmethod
    def _same(given: str, expected: bytes) -> bool:
        return hmac.compare_digest(given.encode("utf-8", "replace"), expected)
