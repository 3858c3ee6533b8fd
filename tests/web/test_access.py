"""Who gets in, and never in the pipeline's way: the token on every request, loopback
only without one, and a page that says "updating" instead of waiting on a writer."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ipi.errors import ConfigError
from ipi.settings import Settings
from ipi.store.accounts import account_path
from tests.web.helpers import TOKEN, Browser

pytestmark = pytest.mark.slow

PAGES = ["/", "/accounts/acme", "/accounts/acme/drivers.csv?marketplace=US",
         "/accounts/acme/whatif?remove=DEMO-0001:5", "/static/dashboard.js",
         "/static/vendor/uPlot.iife.min.js", "/accounts/nobody"]


@pytest.fixture
def guarded(two_accounts: Settings) -> Iterator[str]:
    """The dashboard with a token, on a free loopback port: its URL. One per test: its
    wrong tokens count against the address (ipi.web.auth.MAX_FAILURES)."""
    from ipi.web import start

    handle = start(two_accounts, port=0, token=TOKEN)
    try:
        yield handle.url
    finally:
        handle.stop()


@pytest.mark.parametrize("path", PAGES)
def test_with_a_token_every_request_without_it_is_refused(guarded: str, path: str) -> None:
    """Pages, CSV and static files alike: 401, and nothing of the page."""
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": "ipi_web=forged"}):
        r = httpx.get(guarded + path, headers=headers)
        assert r.status_code == 401, (path, headers)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "acme" not in r.text
    assert httpx.get(guarded + path + ("&" if "?" in path else "?") + "token=wrong"
                     ).status_code == 401


def test_a_bearer_token_opens_every_page(guarded: str) -> None:
    """Authorization: Bearer <token> on each request, for scripts."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert [httpx.get(guarded + p, headers=auth).status_code for p in PAGES] \
        == [200, 200, 200, 200, 200, 200, 404]


def test_the_token_in_the_address_once_sets_a_strict_cookie_and_leaves_the_address(
        browser: Browser, guarded: str) -> None:
    """?token= once: redirected to the same page without it, then a HttpOnly,
    SameSite=Strict cookie (an HMAC, never the token) carries every request after."""
    page = browser.page()
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status))
    response = page.goto(f"{guarded}/accounts/acme?token={TOKEN}#mp-US")
    assert response.status == 200
    assert page.url == f"{guarded}/accounts/acme#mp-US"
    page.wait_for_function("window.ipiCharts && window.ipiCharts.US")  # scripts got in too
    assert 401 not in statuses
    [cookie] = page.context.cookies()
    assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Strict")
    assert TOKEN not in cookie["value"]
    assert TOKEN not in page.content()
    assert page.goto(guarded + "/").status == 200


def test_without_a_token_only_loopback_names_are_answered(server: str) -> None:
    """A page elsewhere pointing its own domain at 127.0.0.1 (DNS rebinding) gets 403."""
    assert httpx.get(server + "/").status_code == 200
    assert httpx.get(server + "/", headers={"Host": "localhost:1"}).status_code == 200
    r = httpx.get(server + "/", headers={"Host": "attacker.example"})
    assert r.status_code == 403 and "IPI_WEB_TOKEN" in r.text


def test_serve_refuses_the_network_without_a_token(two_accounts: Settings) -> None:
    """Listening beyond loopback needs IPI_WEB_TOKEN; one line says so."""
    from ipi.web import serve, start

    for run in (serve, start):
        with pytest.raises(ConfigError, match="IPI_WEB_TOKEN") as err:
            run(two_accounts, host="0.0.0.0", port=0)  # type: ignore[operator]
        assert "\n" not in str(err.value)


def test_a_port_in_use_is_one_line(two_accounts: Settings) -> None:
    """Another program on the port: a ConfigError naming it, not uvicorn's exit."""
    from ipi.web import start

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"127.0.0.1:{port}.*choose another port"):
            start(two_accounts, port=port)


def test_every_answer_carries_the_safety_headers(server: str) -> None:
    """No script from elsewhere, no framing, no referrer; pages are never cached."""
    r = httpx.get(server + "/accounts/acme")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-store"
    assert httpx.get(server + "/static/dashboard.css").headers["x-content-type-options"] \
        == "nosniff"
    assert httpx.post(server + "/accounts/acme").status_code == 405  # read-only


HOLD = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("BEGIN TRANSACTION")
    con.execute("UPDATE daily_score SET notes = notes WHERE account = 'acme'")
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
    con.execute("ROLLBACK")
    con.close()
""")

WRITE = textwrap.dedent("""
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])  # no retry: it must be free now
    con.execute("BEGIN TRANSACTION")
    con.execute("UPDATE daily_score SET notes = notes WHERE account = 'acme'")
    con.execute("ROLLBACK")
    con.close()
""")


def test_given_a_long_write_when_the_page_is_asked_then_it_says_updating_at_once(
        server: str, two_accounts: Settings) -> None:
    """Another process holds a write transaction for 5 s: the page answers "updating"
    (503, Retry-After) within 2 s instead of waiting; once the writer is done the page
    answers, and a new writer opens the file at once: the dashboard holds nothing
    between requests."""
    db = str(account_path(two_accounts, "acme"))
    writer = subprocess.Popen([sys.executable, "-c", HOLD, db, "5"], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "held"
        started = time.monotonic()
        r = httpx.get(server + "/accounts/acme", timeout=10)
        waited = time.monotonic() - started
        assert r.status_code == 503 and "updating" in r.text
        assert r.headers["retry-after"] == "5"
        assert '<meta http-equiv="refresh" content="5">' in r.text  # the browser retries
        assert waited < 2.0
        assert writer.wait(timeout=15) == 0
    finally:
        writer.kill()
    assert httpx.get(server + "/accounts/acme", timeout=10).status_code == 200
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", WRITE, db], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 5  # a Python start and a write; no waiting


def test_given_one_account_being_written_when_the_index_is_asked_then_only_it_says_updating(
        server: str, two_accounts: Settings) -> None:
    """A file per account: while a run writes acme's, the index still shows beta's estimate,
    and acme's row says "updating" (not "no estimate", which would be a wrong headline),
    last in the order, with the page set to reload itself."""
    writer = subprocess.Popen([sys.executable, "-c", HOLD,
                               str(account_path(two_accounts, "acme")), "8"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "held"
        r = httpx.get(server + "/", timeout=10)
    finally:
        writer.kill()
        writer.wait()
    assert r.status_code == 200
    rows = r.text.split("<tbody>")[1].split("</tbody>")[0].split("<tr ")[1:]
    acme = next(row for row in rows if 'data-account="acme"' in row)
    beta = next(row for row in rows if 'data-account="beta"' in row)
    assert "updating" in acme and "no estimate" not in acme
    assert 'class="score"' in beta and "updating" not in beta
    assert rows.index(acme) > rows.index(beta)
    assert '<meta http-equiv="refresh" content="5">' in r.text
    assert "updating" not in httpx.get(server + "/", timeout=10).text.split("<tbody>")[1]


def test_the_vendored_chart_library_is_served_with_its_licence(server: str) -> None:
    """uPlot comes from ipi, not a CDN, with its MIT licence and version beside it."""
    vendor = Path(__file__).parents[2] / "ipi" / "web" / "static" / "vendor"
    assert "MIT" in (vendor / "LICENSE").read_text()
    assert "uPlot 1.6.32" in (vendor / "README.txt").read_text()
    r = httpx.get(server + "/static/vendor/uPlot.iife.min.js")
    assert r.status_code == 200 and r.content == (vendor / "uPlot.iife.min.js").read_bytes()
