"""The SVG charts in a real browser, embedded the two ways the report uses: a score chart as
an ``<img>`` with a base64 data URI (the page, and a Prefect markdown artifact) and a factor
chart inline. The browser must load them at their size and paint the threshold and the
lines in their colours."""

from __future__ import annotations

import base64
import io
import math
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from ipi.score import DailyScore
from ipi.svg import factor_svg, score_svg
from tests.web.helpers import Browser

pytestmark = pytest.mark.slow

THRESHOLD = (0xCB, 0x18, 0x1D)  # #cb181d
LINE = (0x08, 0x51, 0x9C)  # #08519c
D0 = date(2026, 6, 1)


def _page(tmp_path: Path) -> Path:
    history = [(D0 + timedelta(days=i), 520 + 90 * math.sin(i / 12),
                460 + 90 * math.sin(i / 12), 580 + 90 * math.sin(i / 12)) for i in range(90)]
    rows = [DailyScore(account="acme", marketplace="US", date=D0 + timedelta(days=i),
                       excess_pct=12 + 3 * math.sin(i / 9),
                       sell_through=1.8 + 0.2 * math.cos(i / 15),
                       stranded_pct=None if 40 <= i < 45 else 2.5 + 0.5 * math.sin(i / 5),
                       in_stock_rate=0.93, status="ok", model="prior") for i in range(90)]
    score = score_svg(history, 450, [D0 + timedelta(days=29), D0 + timedelta(days=121)],
                      "acme <US> & co: IPI estimate and band",
                      [(D0 + timedelta(days=70), 455.0)])
    uri = "data:image/svg+xml;base64," + base64.b64encode(score.encode()).decode()
    html = (f'<!doctype html><html><body style="margin:0">'
            f'<img id="score" alt="IPI estimate" src="{uri}">'
            f'<div id="factors">{factor_svg(rows, "acme <US> & co: the four factors")}</div>'
            "</body></html>")
    path = tmp_path / "charts.html"
    path.write_text(html, encoding="utf-8")
    return path


def _painted(png: bytes, color: tuple[int, int, int]) -> int:
    """How many pixels show ``color`` at 60 % coverage or more over white: anti-aliasing
    blends a thin line's edge pixels with the ground, but along that one straight path."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    k = max(range(3), key=lambda i: 255 - color[i])  # the channel that moves most
    count = 0
    colors: list[tuple[int, tuple[int, int, int]]] = image.getcolors(  # type: ignore[assignment]
        image.width * image.height) or []
    for n, pixel in colors:
        alpha = (255 - pixel[k]) / (255 - color[k])
        if alpha >= 0.6 and all(abs(255 - alpha * (255 - c) - p) <= 6
                                for c, p in zip(color, pixel, strict=True)):
            count += n
    return count


def test_the_charts_render_in_a_browser(browser: Browser, tmp_path: Path) -> None:
    page: Any = browser.page()
    page.goto(_page(tmp_path).as_uri())
    img = page.locator("img#score")
    size = page.evaluate("() => { const i = document.getElementById('score');"
                         " return [i.complete, i.naturalWidth, i.naturalHeight]; }")
    assert size == [True, 825, 352]  # the data URI decoded and the SVG parsed
    score = img.screenshot()
    assert _painted(score, THRESHOLD) > 200  # the dashed threshold across the chart
    assert _painted(score, LINE) > 200  # the estimate
    factors = page.locator("#factors svg")
    box = factors.bounding_box()
    assert (box["width"], box["height"]) == (825, 462)
    shot = factors.screenshot()
    assert _painted(shot, LINE) > 400  # four panels' lines
    assert _painted(shot, THRESHOLD) == 0  # no threshold there: the check can say no
    assert "acme <US> & co: the four factors" in page.locator("#factors").inner_text()
    page.screenshot(path=str(tmp_path / "charts.png"), full_page=True)
    assert page.errors == []
