"""The account page's "Capacity and fees" in a real browser: the text a seller reads, as
``Rows.capacity`` tells it."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ipi import pipeline
from ipi.api import Rows
from ipi.capacity.limits import set_limit
from ipi.fees.exposure import FeeExposure
from ipi.settings import Settings, load_settings
from ipi.stakes import FeeNote
from tests.web.helpers import Browser

pytestmark = pytest.mark.slow

SET_LIMIT = "ipi capacity set --storage-type standard --month YYYY-MM --limit CUFT"
CONTEXT = ("Since March 2023 Amazon sets monthly capacity limits per storage type, with the "
           "IPI as one input; over a limit, Amazon refuses new shipments. The fees below "
           "follow the same habits the IPI grades.")
WARN_RGB = "rgb(161, 98, 7)"  # dashboard.css --warn


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, scored_demo_data: Path) -> Settings:
    """acme in US and DE, with a standard limit recorded that its newest day fills to 95 %."""
    root = tmp_path_factory.mktemp("web-capacity")
    shutil.copytree(scored_demo_data, root / "data")
    (root / "ipi.toml").write_text('[store]\ndata_dir = "data"\n\n[[accounts]]\nname = "acme"\n'
                                   'marketplaces = ["US", "DE"]\n', encoding="utf-8")
    settings = load_settings(root / "ipi.toml", env={})
    [s] = Rows(settings).capacity("acme").storage
    assert s.used_cuft is not None
    with pipeline.open_store(settings, settings.accounts[0]).write() as con:
        set_limit(con, "acme", "standard", f"{s.day:%Y-%m}", math.ceil(s.used_cuft / 0.95))
    return settings


@pytest.fixture(scope="module")
def limited_server(limited: Settings) -> Iterator[str]:
    from ipi.web import start

    handle = start(limited, port=0)
    try:
        yield handle.url
    finally:
        handle.stop()


def _section(browser: Browser, url: str) -> tuple[Any, Any]:
    page = browser.page()
    assert page.goto(url + "/accounts/acme").status == 200
    section = page.locator("section#capacity")
    assert section.is_visible()
    assert section.get_by_role("heading", name="Capacity and fees").is_visible()
    return page, section


def _cells(row: Any) -> list[str]:
    """A table row's cells as the browser shows them (a line per block in a cell)."""
    return [t.strip() for t in row.locator("th, td").all_inner_texts()]


def test_the_account_page_shows_capacity_and_fees_without_a_limit(
        browser: Browser, server: str, two_accounts: Settings) -> None:
    """No limit recorded: the use in cubic feet, "no limit", the share as "no data" and
    how to record one; the fees with their sums and SKUs, as the library computes them."""
    at = Rows(two_accounts).capacity("acme")
    [s], [us] = at.storage, at.fees
    assert isinstance(us, FeeExposure)
    a, u, low = us.aged, us.utilization, us.low_inventory
    assert s.used_cuft is not None and s.projected_cuft is not None
    assert a.total is not None and u.ratio is not None
    page, section = _section(browser, server)
    text = section.inner_text()
    assert CONTEXT in text
    row = _cells(section.locator("tr[data-storage-type=standard]"))
    assert row[:4] == [
        "standard", f"{s.used_cuft:,.0f}\n{s.on_hand_cuft:,.0f} on hand + "
        f"{s.inbound_cuft:,.0f} inbound", "none recorded", "no data"]
    assert row[4].startswith(f"{s.projected_cuft:,.0f}")
    assert row[5] == "no limit"
    assert SET_LIMIT in text and section.locator("code", has_text=SET_LIMIT).is_visible()
    assert (f"at the assessment on {a.assessment_day}: about {a.total:,.2f} USD if "
            "nothing sells before") in text
    assert section.locator("#aged-US tbody td.sku").all_inner_texts() == [
        x.sku for x in a.skus]
    assert _cells(section.locator("#aged-US tbody tr").first)[2] == (
        f"{a.skus[0].charge:,.2f} USD")
    assert f"{u.ratio:.1f} weeks, against a threshold of {u.threshold_weeks:g} weeks" in text
    assert (f"{low.at_risk} SKU(s) at risk (under {low.floor_days:g} days of supply on "
            f"both views), {low.unknown} without both views (no data)") in text
    assert page.errors == []


def test_a_recorded_low_limit_stands_out_and_a_marketplace_without_rates_says_so(
        browser: Browser, limited_server: str, limited: Settings) -> None:
    """The standard limit filled to 95 %: warning, in the warning colour, in the row and
    the "at risk" card; DE, which ipi has no fee rates for, shows its note."""
    at = Rows(limited).capacity("acme")
    [s], (_, de) = at.storage, at.fees
    assert isinstance(de, FeeNote)
    assert s.status == "warning" and s.limit_source == "recorded"
    assert s.limit_cuft is not None and s.share is not None
    page, section = _section(browser, limited_server)
    row = section.locator("tr[data-storage-type=standard]")
    cells = _cells(row)
    assert cells[2] == f"{s.limit_cuft:,.0f}\nrecorded"
    assert cells[3] == f"{round(s.share * 100)} %"
    assert cells[5] == "warning"
    status = row.locator(".status")
    assert status.evaluate("e => getComputedStyle(e).color") == WARN_RGB
    assert status.evaluate("e => getComputedStyle(e).fontWeight") == "700"
    card = section.locator(".at-risk")
    assert "tone-warn" in (card.get_attribute("class") or "")
    assert s.describe() in card.inner_text()
    assert SET_LIMIT not in section.inner_text()  # a limit is recorded
    assert section.locator("#fees-DE + p").inner_text() == (
        de.note[:1].upper() + de.note[1:] + ".")
    assert page.locator("nav.toc a[href='#capacity']").is_visible()  # two marketplaces
    assert page.errors == []


def test_the_account_page_sets_each_fee_beside_amazons_and_shows_the_fee_calendar(
        browser: Browser, server: str, two_accounts: Settings) -> None:
    """The three fees until the next assessment, ipi's figures as the library gives them
    (the demo is a file-drop account: no Amazon forecast, "no forecast"), and the fee
    calendar's rows in the library's order: what the 15th costs and what avoids it."""
    [us] = Rows(two_accounts).capacity("acme").fees
    assert isinstance(us, FeeExposure)
    page, section = _section(browser, server)
    compare = section.locator("#compare-US")
    assert f"Until the next assessment on {us.window.end}" in compare.inner_text()
    rows = compare.locator("tbody tr")
    assert [_cells(rows.nth(i))[0] for i in range(rows.count())] == [
        "aged inventory surcharge", "low-inventory-level fee", "storage utilization surcharge"]
    aged = _cells(rows.nth(0))
    assert aged[1] == "no forecast"
    ipi = us.compare[0].ipi
    assert ipi is not None and aged[2] == f"{ipi.high:,.2f} USD"
    calendar = section.locator("#calendar-US")
    assert calendar.locator("tbody td.sku").all_inner_texts() == [r.sku for r in us.calendar]
    first = us.calendar[0]
    assert first.charge is not None and first.charge_at_pace is not None
    assert first.to_act is not None
    cells = _cells(calendar.locator("tbody tr").first)
    assert cells[2:5] == [f"{first.charge:,.2f} USD", f"{first.charge_at_pace:,.2f} USD",
                          f"{first.to_act:,.0f}"]
    assert cells[6] == first.zone
    assert page.errors == []
