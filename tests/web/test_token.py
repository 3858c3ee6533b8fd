"""The dashboard's token holds against guessing: long, rate-limited, a cookie that lapses,
and a redirect that stays on the site."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from ipi.errors import ConfigError
from ipi.settings import Settings
from ipi.web.auth import COOKIE, COOKIE_DAYS, EVERY, FAILURE_WINDOW, MAX_FAILURES, TokenGate
from tests.web.helpers import TOKEN

pytestmark = pytest.mark.slow


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _gated(clock: Clock) -> TestClient:
    """A page behind the gate, with a clock the test moves."""
    app = Starlette(routes=[Route("/{path:path}", lambda r: PlainTextResponse("in"))])
    return TestClient(TokenGate(app, {EVERY: TOKEN}, clock=clock), base_url="http://127.0.0.1",
                      follow_redirects=False)


def test_a_short_token_is_refused_in_one_line(two_accounts: Settings) -> None:
    """IPI_WEB_TOKEN=1 on 0.0.0.0 (and anywhere): one line asking for 32 characters and
    saying how to make one; nothing listens."""
    from ipi.web import start

    for host in ("0.0.0.0", "127.0.0.1"):
        with pytest.raises(ConfigError, match="IPI_WEB_TOKEN is 1 characters; it needs 32"
                           ) as err:
            start(two_accounts, host=host, port=0, token="1")
        assert "\n" not in str(err.value) and "token_urlsafe" in str(err.value)


def test_guessing_is_slowed_to_a_crawl(two_accounts: Settings) -> None:
    """Against the real server: after 10 wrong tokens from one address within a minute,
    every request from it gets 429 with Retry-After, the right token included."""
    from ipi.web import start

    handle = start(two_accounts, port=0, token=TOKEN)
    try:
        for i in range(MAX_FAILURES):
            assert httpx.get(f"{handle.url}/?token=guess-{i}").status_code == 401
        blocked = httpx.get(f"{handle.url}/?token={TOKEN}")
        assert blocked.status_code == 429
        assert blocked.headers["retry-after"] == str(int(FAILURE_WINDOW))
    finally:
        handle.stop()


def test_the_block_lifts_after_the_window_and_a_visit_without_a_token_is_no_guess() -> None:
    clock = Clock()
    client = _gated(clock)
    for _ in range(20):  # first visits, no token given: never counted
        assert client.get("/").status_code == 401
    for _ in range(MAX_FAILURES):
        client.get("/", headers={"Authorization": "Bearer wrong"})
    assert client.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 429
    clock.now += FAILURE_WINDOW + 1
    assert client.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_the_cookie_lapses_after_a_week() -> None:
    """The cookie the token sets carries its day of issue and lasts COOKIE_DAYS, in the
    browser (Max-Age) and at the gate (a copied cookie stops working too)."""
    clock = Clock()
    client = _gated(clock)
    r = client.get(f"/accounts/acme?token={TOKEN}")
    assert r.status_code == 303 and f"Max-Age={COOKIE_DAYS * 86400}" in r.headers["set-cookie"]
    cookie = r.cookies[COOKIE]
    assert TOKEN not in cookie
    assert client.get("/accounts/acme", cookies={COOKIE: cookie}).status_code == 200
    clock.now += COOKIE_DAYS * 86400 + 1
    assert client.get("/accounts/acme", cookies={COOKIE: cookie}).status_code == 401
    forged = f"{int(clock.now)}.{cookie.partition('.')[2]}"  # a new date, the old MAC
    assert client.get("/accounts/acme", cookies={COOKIE: forged}).status_code == 401


@pytest.mark.parametrize("path", ["//evil.example/", "/\\evil.example/", "///evil.example"])
def test_the_redirect_after_the_token_stays_on_this_site(path: str) -> None:
    """``//evil.example/?token=…`` once led the browser to evil.example; now the address
    it is sent to is a path of this site."""
    client = _gated(Clock())
    r = client.get(f"{path}?token={TOKEN}")
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\"))
    assert httpx.URL("http://127.0.0.1" + location).host == "127.0.0.1"


ACME_TOKEN = "acme-only-token-0123456789abcdef-xyz"  # a test's token, not a secret


def test_a_clients_token_opens_that_client_alone(
        two_accounts: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """IPI_ACME_WEB_TOKEN opens acme's pages, CSV and what-if, and an index listing acme
    alone; beta's answer 404 without naming it. IPI_WEB_TOKEN still opens both, and the
    cookie acme's token sets keeps acme's scope (the link in acme's alerts works)."""
    from ipi.web import start

    monkeypatch.setenv("IPI_ACME_WEB_TOKEN", ACME_TOKEN)
    handle = start(two_accounts, port=0, token=TOKEN)
    try:
        acme = {"Authorization": f"Bearer {ACME_TOKEN}"}
        index = httpx.get(handle.url + "/", headers=acme)
        assert index.status_code == 200
        assert 'data-account="acme"' in index.text and "beta" not in index.text
        for path in ("/accounts/acme", "/accounts/acme/drivers.csv?marketplace=US",
                     "/accounts/acme/whatif?remove=DEMO-0001:5"):
            assert httpx.get(handle.url + path, headers=acme).status_code == 200, path
        for path in ("/accounts/beta", "/accounts/beta/drivers.csv?marketplace=US",
                     "/accounts/beta/whatif?remove=DEMO-0001:5"):
            r = httpx.get(handle.url + path, headers=acme)
            assert r.status_code == 404 and "acme" in r.text, path  # its own nav only
        every = httpx.get(handle.url + "/", headers={"Authorization": f"Bearer {TOKEN}"})
        assert 'data-account="acme"' in every.text and 'data-account="beta"' in every.text

        # the link in acme's alert, opened once with acme's token: the cookie keeps it
        with httpx.Client(base_url=handle.url, follow_redirects=True) as browser:
            assert browser.get(f"/accounts/acme?token={ACME_TOKEN}").status_code == 200
            assert browser.get("/accounts/acme").status_code == 200
            assert browser.get("/accounts/beta").status_code == 404
    finally:
        handle.stop()


def test_a_short_client_token_is_refused_naming_whose(
        two_accounts: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from ipi.web import start

    monkeypatch.setenv("IPI_BETA_WEB_TOKEN", "short")
    with pytest.raises(ConfigError, match="the token of beta is 5 characters"):
        start(two_accounts, port=0)
