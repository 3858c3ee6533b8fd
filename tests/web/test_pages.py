"""The dashboard in a real browser: what the seller sees every morning, and that every
number on it is the library's (``ipi.api.Rows``)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from typing import Any

import pytest

from ipi.api import DRIVER_COLUMNS, Rows
from ipi.settings import Settings
from ipi.web.views import DRIVERS
from tests.web.helpers import Browser, screenshot

pytestmark = pytest.mark.slow

WEIGHT_BUDGET = 500_000  # bytes of an account page's first load, everything included


def _skus(page: Any) -> list[str]:
    return page.locator("#drivers-US tbody tr:visible td.sku").all_inner_texts()


def test_the_index_shows_every_account_and_marketplace(
        browser: Browser, server: str, two_accounts: Settings) -> None:
    """One row per account and marketplace, with the estimate, the alerts firing and
    how old the data is, as the library tells them."""
    page = browser.page()
    assert page.goto(server + "/").status == 200
    rows = page.locator("table.overview tbody tr")
    # worst first: beta is under the threshold, acme over it
    assert [r.get_attribute("data-account") for r in rows.all()] == ["beta", "acme"]
    overview = {r.account: r for r in Rows(two_accounts).overview()}
    beta, acme = rows.nth(0), rows.nth(1)
    assert acme.locator(".score").inner_text() == f"{overview['acme'].score:.0f}"
    assert beta.locator(".score").inner_text() == f"{overview['beta'].score:.0f}"
    # beta ends under the threshold, its critical alert firing since the day it fell.
    assert "tone-bad" in (beta.get_attribute("class") or "")
    assert "under the threshold since 2026-08-14" in beta.inner_text()
    trend = overview["beta"].projection  # the long-term factors falling, day by day
    assert f"{trend.value:.0f} by {trend.target}" in beta.inner_text()
    assert "2026-09-08" in acme.inner_text()  # the newest data, and how old it is
    assert f"{overview['acme'].data_age_days} days ago" in acme.inner_text()
    assert page.errors == []
    screenshot(page, "index")
    acme.get_by_role("link", name="acme").click()
    assert page.url.startswith(server + "/accounts/acme")


def test_the_account_page_draws_the_charts_and_lists_the_drivers(
        browser: Browser, server: str, two_accounts: Settings) -> None:
    """Score and factor charts, the drivers in the library's order, the arrivals and the
    alert history; every script and style from ipi itself."""
    page = browser.page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    assert page.goto(server + "/accounts/acme").status == 200
    page.wait_for_function("window.ipiCharts && window.ipiCharts.US")
    assert page.locator("#score-US canvas").count() == 1
    assert page.locator(".factors canvas").count() == 4
    drivers = Rows(two_accounts).drivers(account="acme", marketplace="US", n=DRIVERS)
    assert _skus(page) == [d.sku for d in drivers]
    assert page.locator("table.arrivals tbody tr").first.inner_text().startswith("2026-09-08")
    assert page.locator("table.arrivals td.missing").count() == 0
    # What the estimates rest on, and the request for this week's official score.
    model = Rows(two_accounts).model("acme")
    assert page.locator(".model").inner_text() == model.line()
    assert model.recorded == 0 and "no official score recorded yet" in model.line()
    today = two_accounts.today(two_accounts.account("acme"))
    assert page.locator(".ask code").inner_text() == \
        f"ipi official add --account acme --date {today} --score N"
    assert page.errors == []
    assert requested and all(u.startswith(server) for u in requested), requested
    screenshot(page, "account")
    beta = browser.page()
    beta.goto(server + "/accounts/beta")
    assert "normal → firing" in beta.locator("table.events").inner_text()
    data = beta.evaluate("window.ipiCharts.US.data")
    assert any(v is not None for v in data["fired"])  # the firing, marked on the chart
    assert [v for v in data["official"] if v is not None] == [455.0]
    assert "455" in beta.locator("table.official").inner_text()
    # Under the recovery threshold: the plan back over it, as the library makes it.
    _, plan = Rows(two_accounts).plan("beta", marketplace="US")
    assert plan.steps
    assert beta.locator("ol.plan li").all_inner_texts() == [
        f"{a.label()} → {score:.0f}" for a, score in plan.steps]
    assert beta.errors == []


def test_the_drivers_sort_by_a_clicked_heading_and_filter_by_text(
        browser: Browser, server: str) -> None:
    """A click sorts by the column (again: the other way); the box keeps matching rows."""
    page = browser.page()
    page.goto(server + "/accounts/acme")
    first = _skus(page)
    page.get_by_role("button", name="SKU").click()
    assert _skus(page) == sorted(first) != first
    page.get_by_role("button", name="SKU").click()
    assert _skus(page) == sorted(first, reverse=True)
    page.get_by_role("button", name="Points won").click()
    gains = [float(v) for v in page.locator("#drivers-US tbody tr td:nth-child(7)")
             .evaluate_all("cells => cells.map(c => c.dataset.v)")]
    assert gains == sorted(gains)
    page.get_by_label("Filter").fill("in-stock")
    shown = page.locator("#drivers-US tbody tr:visible")
    assert 0 < shown.count() < len(first)
    assert all("in-stock" in t for t in shown.all_inner_texts())
    assert page.locator("#drivers-US-count").inner_text() == f"{shown.count()} of {len(first)} SKUs"


def test_the_drivers_csv_holds_the_same_rows_as_the_library(
        browser: Browser, server: str, two_accounts: Settings) -> None:
    """The download is made on the server from the same question the table asks."""
    page = browser.page()
    page.goto(server + "/accounts/acme")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename == "ipi-drivers-acme-US-2026-09-08.csv"
    with open(download.path(), newline="", encoding="utf-8") as f:
        got = list(csv.DictReader(f))
    want = Rows(two_accounts).drivers(account="acme", marketplace="US", n=DRIVERS)
    assert list(got[0]) == list(DRIVER_COLUMNS)
    assert got == [{c: "" if (v := getattr(r, c)) is None else str(v) for c in DRIVER_COLUMNS}
                   for r in want]
    assert [float(r["gain"]) for r in got] == [r.gain for r in want]


def test_a_whatif_shows_the_new_estimate_without_storing_it(
        browser: Browser, server: str, two_accounts: Settings) -> None:
    """Removing the top driver's units through the form changes the estimate, by what
    the library computes; nothing is written."""
    rows = Rows(two_accounts)
    top = rows.drivers(account="acme", marketplace="US", n=1)[0]
    before = rows.scores("acme", marketplace="US", last=1)
    page = browser.page()
    page.goto(server + "/accounts/acme")
    page.get_by_label("Remove units").fill(f"{top.sku}:{top.units:.0f}")
    page.get_by_role("button", name="Compute the estimate").click()
    page.wait_for_url("**/whatif?**")
    now = float(page.locator("tr[data-when='now'] .estimate").inner_text())
    after = float(page.locator("tr[data-when='after'] .estimate").inner_text())
    want = rows.whatif([f"remove {top.sku}:{top.units:.0f}"], "acme").records()
    assert (now, after) == (round(want[0].score, 1), round(want[1].score, 1))
    assert after != now
    assert page.locator("tr[data-when='in 90 days']").count() == 1
    assert rows.scores("acme", marketplace="US", last=1) == before
    screenshot(page, "whatif")


@pytest.mark.parametrize(("query", "status", "said"), [
    ("remove=NO-SUCH-SKU:5", 400, "Not in acme's US reports of 2026-09-08: NO-SUCH-SKU"),
    ("remove=DEMO-0001:5&restock=NO-SUCH-SKU", 200, "Not in acme's US reports"),
    ("remove=DEMO-0001", 400, "write SKU:UNITS"),
    ("remove=DEMO-0001:-3", 400, "write SKU:UNITS"),
    ("restock=", 400, "name at least one action"),
    ("remove=DEMO-0001:5&marketplace=UK", 400, "marketplace UK is not one of acme's"),
])
def test_a_whatif_says_what_is_wrong_with_its_input(
        browser: Browser, server: str, query: str, status: int, said: str) -> None:
    """An unknown SKU or a malformed action is a message on the page, never a 500."""
    page = browser.page()
    response = page.goto(f"{server}/accounts/acme/whatif?{query}")
    assert response.status == status
    assert said in page.locator(".message").first.inner_text()


def test_hovering_a_chart_shows_the_day_and_its_values_on_every_chart(
        browser: Browser, server: str) -> None:
    """The legend reads the hovered day's date and estimate; the factor charts follow the
    same day (one time axis), and the score axis spans the data, not 0-1000."""
    page = browser.page()
    page.goto(server + "/accounts/acme")
    page.wait_for_function("window.ipiCharts && window.ipiCharts.US")
    over = page.locator("#score-US .u-over")
    box = over.bounding_box()
    assert box is not None
    over.hover(position={"x": box["width"] * 0.4, "y": box["height"] / 2})
    idx = page.evaluate("window.ipiCharts.US.score.cursor.idx")
    data = page.evaluate("window.ipiCharts.US.data")
    legend = page.locator("#score-US .u-legend .u-series")
    day = _iso(data["x"][idx])
    assert legend.nth(0).locator(".u-value").inner_text() == day
    assert legend.nth(3).locator(".u-label").inner_text() == "estimate"
    assert legend.nth(3).locator(".u-value").inner_text() == f"{data['score'][idx]:.1f}"
    factor = page.locator("#factor-US-excess .u-legend .u-series")
    assert factor.nth(0).locator(".u-value").inner_text() == day
    excess = data["factors"][0]["values"][idx]
    assert factor.nth(1).locator(".u-value").inner_text() == f"{excess:.1f} %"
    scales = page.evaluate("""() => {
        const c = window.ipiCharts.US;
        return [c.score, ...Object.values(c.factors)].map(u => [u.scales.x.min, u.scales.x.max]);
    }""")
    assert len(set(map(tuple, scales))) == 1
    y = page.evaluate("(s => [s.min, s.max])(window.ipiCharts.US.score.scales.y)")
    assert y != [0, 1000] and y[0] <= min(v for v in data["low"] if v is not None)


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).date().isoformat()


def test_an_account_page_weighs_under_500_kb_everything_included(
        browser: Browser, server: str) -> None:
    """The first load, HTML, scripts, styles and data, as the browser transferred it."""
    page = browser.page()
    page.goto(server + "/accounts/acme", wait_until="load")
    page.wait_for_function("window.ipiCharts && window.ipiCharts.US")
    entries = page.evaluate("""() => [...performance.getEntriesByType('navigation'),
                                     ...performance.getEntriesByType('resource')]
                                  .map(e => [e.name, e.transferSize, e.encodedBodySize])""")
    names = [e[0] for e in entries]
    assert any(n.endswith("uPlot.iife.min.js") for n in names)
    assert any(n.endswith("dashboard.js") for n in names)
    total = sum(max(e[1], e[2]) for e in entries)
    print(f"account page, first load: {total:,} bytes in {len(entries)} responses")
    assert 50_000 < total < WEIGHT_BUDGET


def test_an_unknown_account_is_a_404_naming_the_known_ones(
        browser: Browser, server: str) -> None:
    """A mistyped link says which accounts there are."""
    page = browser.page()
    response = page.goto(server + "/accounts/nobody")
    assert response.status == 404
    text = page.locator("main").inner_text()
    assert "no account named 'nobody'" in text
    assert page.get_by_role("link", name="acme").count() == 1
    assert page.get_by_role("link", name="beta").count() == 1


def test_the_index_sorts_by_any_column_and_filters_by_name_and_state(
        browser: Browser, server: str, two_accounts: Settings) -> None:
    """Worst first on arrival; a click on "Estimate and band" sorts by the estimate; the
    box filters by name, the menu by state, and the count says how many rows show."""
    page = browser.page()
    page.goto(server + "/")
    rows = page.locator("table.overview tbody tr")

    def shown() -> list[str | None]:
        return [r.get_attribute("data-account") for r in rows.all() if r.is_visible()]

    assert shown() == ["beta", "acme"]
    page.get_by_role("button", name="Estimate and band").click()
    scores = {r.account: r.score for r in Rows(two_accounts).overview()}
    assert shown() == sorted(scores, key=lambda a: scores[a])
    page.get_by_role("button", name="Estimate and band").click()
    assert shown() == sorted(scores, key=lambda a: -scores[a])
    page.get_by_placeholder("account or marketplace…").fill("acm")
    assert shown() == ["acme"] and page.locator("#overview-count").inner_text() == "1 of 2 rows"
    page.get_by_placeholder("account or marketplace…").fill("")
    page.locator("select[data-state]").select_option("bad")
    assert shown() == ["beta"]
    assert page.errors == []
