"""The page's SVG charts, read back as XML: marks where their values put them, gaps as gaps,
edge cases (one day, no day, checks after the last day) still charts, text escaped."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

import pytest

from ipi.score import DailyScore
from ipi.svg import FACTOR_PANELS, factor_svg, score_svg

NS = "{http://www.w3.org/2000/svg}"
D0 = date(2026, 3, 2)


def _history(n: int = 30) -> list[tuple[date, float, float, float]]:
    """(day, score, low, high) rows, a wave around 500 with a band of ±60."""
    waves = [500 + 100 * math.sin(i / 5) for i in range(n)]
    return [(D0 + timedelta(days=i), s, s - 60, s + 60) for i, s in enumerate(waves)]


def _rows(n: int = 20, **columns: Any) -> list[DailyScore]:
    """Factor rows; a column given as a list replaces the default values."""
    out = []
    for i in range(n):
        row: dict[str, Any] = {"date": D0 + timedelta(days=i), "excess_pct": 10.0 + i,
                               "sell_through": 2.0 - i / 50, "stranded_pct": 3.0,
                               "in_stock_rate": 0.9 + i / 1000}
        row.update({k: v[i] for k, v in columns.items()})
        out.append(DailyScore(account="acme", marketplace="US", status="ok", model="prior",
                              **row))
    return out


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    return root


def _all(root: ET.Element, cls: str) -> list[ET.Element]:
    return [e for e in root.iter() if cls in (e.get("class") or "").split()]


def _points(el: ET.Element) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in el.get("points", "").split())]


def _value_to_y(root: ET.Element) -> Any:
    """The y axis as the chart draws it: from its 0 and 1000 gridlines."""
    grid = {g.get("data-value"): float(g.get("y1", "nan")) for g in _all(root, "grid")}
    y0, y1000 = grid["0"], grid["1000"]
    return lambda v: y0 + (y1000 - y0) * v / 1000


def _day_to_x(root: ET.Element, history: list[tuple[date, float, float, float]]) -> Any:
    """The x axis as the chart draws it: from the estimate's first and last points."""
    [line] = _all(root, "estimate")
    pts = _points(line)
    a, b = history[0][0].toordinal(), history[-1][0].toordinal()
    return lambda d: pts[0][0] + (pts[-1][0] - pts[0][0]) * (d.toordinal() - a) / (b - a)


def test_score_chart_is_a_complete_svg_of_the_png_size() -> None:
    root = _parse(score_svg(_history(), 450, title="acme US"))
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == (
        "825", "352", "0 0 825 352")
    assert root.get("role") == "img"
    assert root.findtext(f"{NS}title") == "acme US"
    assert "IPI (estimate)" in "".join(root.itertext())
    assert sorted(int(g.get("data-value", "")) for g in _all(root, "grid")) == [
        0, 200, 400, 600, 800, 1000]


def test_the_threshold_line_sits_at_its_value() -> None:
    root = _parse(score_svg(_history(), 437, title="t"))
    y = _value_to_y(root)
    [line] = _all(root, "threshold")
    assert float(line.get("y1", "")) == float(line.get("y2", "")) == pytest.approx(y(437), abs=0.1)
    assert "threshold 437" in "".join(root.itertext())


def test_the_estimate_has_a_point_per_day_in_date_order_higher_scores_higher_up() -> None:
    history = [(D0, 400.0, 350.0, 450.0), (D0 + timedelta(days=1), 600.0, 550.0, 650.0),
               (D0 + timedelta(days=5), 500.0, 450.0, 550.0)]  # not consecutive days
    root = _parse(score_svg(history, 450))
    [line] = _all(root, "estimate")
    pts = _points(line)
    assert len(pts) == 3
    assert pts[0][0] < pts[1][0] < pts[2][0]
    # x by date value: the 4-day gap is 4 times the 1-day one.
    assert pts[2][0] - pts[1][0] == pytest.approx(4 * (pts[1][0] - pts[0][0]), abs=2.5)
    assert pts[1][1] < pts[2][1] < pts[0][1]  # 600 above 500 above 400
    y = _value_to_y(root)
    assert [p[1] for p in pts] == pytest.approx([y(400), y(600), y(500)], abs=0.5)  # whole px


def test_the_band_encloses_the_estimate() -> None:
    history = _history(25)
    root = _parse(score_svg(history, 450))
    [band] = _all(root, "band")
    pts = _points(band)
    assert len(pts) == 2 * len(history)
    upper, lower = pts[:len(history)], pts[len(history):][::-1]
    estimate = _points(_all(root, "estimate")[0])
    for (ux, uy), (lx, ly), (ex, ey) in zip(upper, lower, estimate, strict=True):
        assert ux == lx == ex
        assert uy < ey < ly  # high above the score above low (y grows downwards)


def test_official_scores_are_dots_at_their_dates_and_values() -> None:
    history = _history(30)
    official = [(D0 + timedelta(days=10), 455.0), (D0 + timedelta(days=20), 612.0)]
    root = _parse(score_svg(history, 450, official=official))
    x, y = _day_to_x(root, history), _value_to_y(root)
    dots = _all(root, "official")
    assert len(dots) == len(official)
    for dot, (day, score) in zip(dots, official, strict=True):
        assert float(dot.get("cx", "")) == pytest.approx(x(day), abs=0.15)
        assert float(dot.get("cy", "")) == pytest.approx(y(score), abs=0.1)
    assert "official (Seller Central)" in "".join(root.itertext())


def test_a_check_after_the_last_day_widens_the_x_range() -> None:
    history = _history(30)
    check = history[-1][0] + timedelta(days=40)
    plain = _parse(score_svg(history, 450))
    root = _parse(score_svg(history, 450, [check]))
    [line] = _all(root, "check")
    cx = float(line.get("x1", ""))
    last = _points(_all(root, "estimate")[0])[-1][0]
    assert last < cx <= 825
    assert last < _points(_all(plain, "estimate")[0])[-1][0]  # the history made room
    x = _day_to_x(root, history)
    assert cx == pytest.approx(x(check), abs=2)  # x(): from the estimate's whole pixels
    assert "".join(root.itertext()).count("Amazon's check") == 1


def test_checks_are_named_once_in_the_legend() -> None:
    history = _history(60)
    root = _parse(score_svg(history, 450, [D0 + timedelta(days=10), D0 + timedelta(days=40)]))
    assert len(_all(root, "check")) == 2
    legend = "".join(_all(root, "legend")[0].itertext())
    assert legend.count("Amazon's check") == 1
    assert "official" not in legend  # only what the chart shows


def test_an_official_score_before_the_history_widens_the_x_range() -> None:
    history = _history(10)
    root = _parse(score_svg(history, 450, official=[(D0 - timedelta(days=20), 480.0)]))
    [dot] = _all(root, "official")
    first = _points(_all(root, "estimate")[0])[0][0]
    assert 0 <= float(dot.get("cx", "")) < first


def test_dates_are_labelled_five_to_seven_times() -> None:
    root = _parse(score_svg(_history(100), 450))
    labels = [(float(t.get("x", "")), t.text or "") for t in root.iter(f"{NS}text")
              if re.fullmatch(r"[A-Z][a-z]{2} \d\d", t.text or "")]
    assert 5 <= len(labels) <= 7
    xs = [x for x, _ in labels]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    steps = {round(b - a) for a, b in pairwise(xs)}
    assert max(steps) - min(steps) <= 1  # evenly spaced


def test_one_day_and_no_day_still_make_charts() -> None:
    one = _parse(score_svg([(D0, 500.0, 450.0, 550.0)], 450, title="one"))
    [dot] = _all(one, "estimate")
    assert 62 < float(dot.get("cx", "")) < 809  # inside the frame, not at an edge: x range > 0
    day = timedelta(days=1)  # the range is padded by a day each side, not zero-wide
    assert {f"{D0 - day:%b %d}", f"{D0:%b %d}", f"{D0 + day:%b %d}"} <= set(one.itertext())
    empty = _parse(score_svg([], 450))
    y = _value_to_y(empty)
    assert float(_all(empty, "threshold")[0].get("y1", "")) == pytest.approx(y(450), abs=0.1)
    assert not _all(empty, "estimate") and not _all(empty, "band")
    only_check = _parse(score_svg([], 450, [D0]))
    assert 0 < float(_all(only_check, "check")[0].get("x1", "")) < 825
    for svg in (factor_svg([]), factor_svg(_rows(1))):
        root = _parse(svg)
        assert len(_all(root, "panel")) == 4
    assert "nan" not in score_svg([(D0, 500.0, 450.0, 550.0)], 450) + factor_svg(_rows(1))


def test_titles_are_escaped() -> None:
    title = 'Tom & "Jerry" <US>'
    for svg in (score_svg(_history(), 450, title=title), factor_svg(_rows(), title=title)):
        root = _parse(svg)
        assert root.findtext(f"{NS}title") == title
        assert title in "".join(root.itertext())
        assert "<US>" not in svg


def test_the_same_input_gives_the_same_bytes_with_short_numbers() -> None:
    history, rows = _history(), _rows()
    a = score_svg(history, 450, [D0 + timedelta(days=40)], "x", [(D0, 455.0)])
    assert a == score_svg(history, 450, [D0 + timedelta(days=40)], "x", [(D0, 455.0)])
    assert factor_svg(rows, "x") == factor_svg(rows, "x")
    for svg in (a, factor_svg(rows, "x")):
        # Coordinates in at most one decimal, lines' points in whole pixels: short text.
        assert not re.search(r' (?:c?[xy][12]?|points|width|height)="[^"]*\d\.\d\d', svg)
        assert re.search(r' x1="[^"]*\d\.\d', svg)  # the pattern can match
        assert not re.search(r' points="[^"]*\.', svg)


def test_a_long_history_has_no_more_points_than_the_chart_has_pixel_columns() -> None:
    history, rows = _history(3 * 365), _rows(3 * 365)
    [line] = _all(_parse(score_svg(history, 450)), "estimate")
    xs = [px for px, _ in _points(line)]
    assert xs == sorted(set(xs)) and len(xs) <= 825 - 62 - 16 + 1  # the plot's width
    assert xs[0] < 100 and xs[-1] > 700  # all of it, from its first day to its last
    for series in _all(_parse(factor_svg(rows)), "series"):
        xs = [px for px, _ in _points(series)]
        assert xs == sorted(set(xs)) and len(xs) <= 341  # a panel's width


def test_the_factor_chart_has_four_panels_titled_with_their_direction() -> None:
    root = _parse(factor_svg(_rows(), "acme US: the four factors"))
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == (
        "825", "462", "0 0 825 462")
    titles = [t.text for t in _all(root, "panel-title")]
    assert titles == [f"{name}: {better}" for _, name, _, better in FACTOR_PANELS]
    assert {"lower is better", "higher is better"} == {b for *_, b in FACTOR_PANELS}
    assert [p.get("data-column") for p in _all(root, "panel")] == [c for c, *_ in FACTOR_PANELS]


def _panel(root: ET.Element, column: str) -> ET.Element:
    [panel] = [p for p in _all(root, "panel") if p.get("data-column") == column]
    return panel


def test_a_gap_splits_a_factor_line_and_a_lone_value_is_a_dot() -> None:
    excess: list[float | None] = [float(i) for i in range(20)]
    excess[8] = None
    stranded: list[float | None] = [1.0 + i % 3 for i in range(20)]
    stranded[5] = stranded[7] = None  # day 6 alone between two gaps
    root = _parse(factor_svg(_rows(excess_pct=excess, stranded_pct=stranded)))
    lines = [e for e in _all(_panel(root, "excess_pct"), "series") if e.tag == f"{NS}polyline"]
    assert [len(_points(line)) for line in lines] == [8, 11]
    assert _points(lines[0])[-1][0] < _points(lines[1])[0][0]
    marks = _all(_panel(root, "stranded_pct"), "series")
    assert [m.tag.removeprefix(NS) for m in marks] == ["polyline", "circle", "polyline"]


def test_nan_is_a_gap_too() -> None:
    sell: list[float | None] = [1.0] * 20
    sell[3] = float("nan")
    root = _parse(factor_svg(_rows(sell_through=sell)))
    assert len(_all(_panel(root, "sell_through"), "series")) == 2


def test_an_all_none_panel_has_axes_but_no_line() -> None:
    root = _parse(factor_svg(_rows(in_stock_rate=[None] * 20)))
    panel = _panel(root, "in_stock_rate")
    assert not _all(panel, "series")
    assert _all(panel, "frame") and _all(panel, "grid")
    assert len(_all(_panel(root, "excess_pct"), "series")) == 1


def test_each_panel_has_its_own_round_y_range_and_scale() -> None:
    """Three to five round labels that span the data; a flat series still gets a range; the
    in-stock rate is shown in percent."""
    root = _parse(factor_svg(_rows()))
    for col, _, scale, _ in FACTOR_PANELS:
        panel = _panel(root, col)
        grid = sorted((float(g.get("data-value", "")), float(g.get("y1", "")))
                      for g in _all(panel, "grid"))
        assert 3 <= len(grid) <= 5, col
        values = [scale * getattr(r, col) for r in _rows()]
        assert grid[0][0] <= min(values) and max(values) <= grid[-1][0], col
        assert grid[0][1] > grid[-1][1]  # larger values higher up
        steps = {round(b[0] - a[0], 9) for a, b in pairwise(grid)}
        assert len(steps) == 1 and steps.pop() > 0, col
        [line] = _all(panel, "series")
        ys = [p[1] for p in _points(line)]
        assert grid[-1][1] <= min(ys) and max(ys) <= grid[0][1]
    in_stock = [float(g.get("data-value", "")) for g in _all(_panel(root, "in_stock_rate"), "grid")]
    assert min(in_stock) >= 80  # 0.9 as 90 %


def test_the_module_needs_no_plotting_library() -> None:
    subprocess.run([sys.executable, "-c", "import ipi.svg, sys; assert 'matplotlib' not in "
                    "sys.modules and 'numpy' not in sys.modules and 'PIL' not in sys.modules"],
                   check=True)


def test_the_legend_moves_up_when_the_scores_run_along_the_bottom() -> None:
    low = [(D0 + timedelta(days=i), 60.0, 20.0, 100.0) for i in range(10)]
    for history, at_top in ((_history(), False), (low, True)):
        root = _parse(score_svg(history, 450))
        frame = _all(root, "frame")[0]
        top, height = float(frame.get("y", "")), float(frame.get("height", ""))
        ground = _all(root, "legend")[0].find(f"{NS}rect")
        assert ground is not None
        assert (float(ground.get("y", "")) < top + height / 2) is at_top
