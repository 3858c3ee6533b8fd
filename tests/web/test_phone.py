"""Sellers look every morning, often on a phone: at 390 px no page scrolls sideways, and
every number keeps its label."""

from __future__ import annotations

import pytest

from ipi.settings import Settings
from tests.web.helpers import Browser, screenshot

pytestmark = pytest.mark.slow

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1,
         "is_mobile": True, "has_touch": True}


@pytest.mark.parametrize("path, name", [
    ("/", "phone-index"), ("/accounts/acme", "phone-account"),
    ("/accounts/acme/whatif?remove=DEMO-0001:5", "phone-whatif"),
])
def test_no_page_scrolls_sideways_on_a_phone(browser: Browser, server: str,
                                             two_accounts: Settings, path: str,
                                             name: str) -> None:
    page = browser.page(**PHONE)
    assert page.goto(server + path).status == 200
    page.wait_for_load_state("networkidle")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{path} is {width} px wide"
    for canvas in page.locator("canvas").all():  # the charts fit the width
        box = canvas.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390
    assert page.errors == []
    screenshot(page, name)


def test_every_number_on_the_phone_index_keeps_its_label(
        browser: Browser, server: str, two_accounts: Settings) -> None:
    """The index as cards: each value says what it is (no header hidden above bare
    numbers)."""
    page = browser.page(**PHONE)
    page.goto(server + "/")
    row = page.locator("table.overview tbody tr").first
    text = row.inner_text()
    for label in ("Estimate:", "Since yesterday:", "7 days:", "Trend:", "Next check:",
                  "Alerts firing:", "Newest data:"):
        assert label in text, label
