"""The report page's charts as SVG text: the score history (estimate, band, threshold,
checks, official scores) and the four factor trends, drawn with string formatting alone.

Why not the PNGs of ipi.alerts.chart: matplotlib costs about 0.65 s of CPU per marketplace
(a fleet's daily run spent most of its time there), this costs milliseconds, imports no
plotting library, and stays crisp at any zoom. E-mails keep the PNG: mail clients do not
show SVG.

Pure: rows in, a complete ``<svg>`` element out; the same input gives the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ipi.score import DailyScore

# (column, title, scale, Amazon's direction): what each factor panel shows.
FACTOR_PANELS = (
    ("excess_pct", "Excess inventory (% of units)", 1.0, "lower is better"),
    ("sell_through", "Sell-through (90 days)", 1.0, "higher is better"),
    ("stranded_pct", "Stranded inventory (% of units)", 1.0, "lower is better"),
    ("in_stock_rate", "In-stock rate (%)", 100.0, "higher is better"),
)

BAND, LINE, THRESHOLD, CHECK, OFFICIAL = "#9ecae1", "#08519c", "#cb181d", "#636363", "#e6550d"
TEXT, GRID, FRAME = "#222", "#dcdcdc", "#888"
FONT = 'font-family="sans-serif"'
INSET = 8  # px between a panel's frame and its first/last day or end ticks: marks stay visible


def score_svg(history: Sequence[tuple[date, float, float, float]], threshold: float,
              checkpoints: Sequence[date] = (), title: str = "",
              official: Sequence[tuple[date, float]] = ()) -> str:
    """(day, score, low, high) rows on a fixed 0-1000 axis, with the threshold, Amazon's
    check dates and the official scores the seller recorded; the x range covers them all
    (a check may lie weeks after the last day)."""
    w, h = 825, 352
    left, right, top, bottom = 62, w - 16, 34, h - 40
    days = _day_range([r[0] for r in history] + list(checkpoints) + [d for d, _ in official])
    x = _day_scale(days, left, right)
    y = _linear(0.0, 1000.0, bottom, top)

    def clamp(v: float) -> float:  # the band may poke past 0 or 1000: keep it in the frame
        return y(min(1000.0, max(0.0, float(v))))

    out = [f'<rect class="frame" x="{left}" y="{top}" width="{right - left}" '
           f'height="{bottom - top}" fill="none" stroke="{FRAME}"/>']
    out += _y_axis(list(range(0, 1001, 200)), y, 0, left, right)
    out += _x_axis(days, x, top, bottom, most=7)
    out.append(f'<text x="18" y="{_n((top + bottom) / 2)}" font-size="12" fill="{TEXT}" '
               f'text-anchor="middle" transform="rotate(-90 18 {_n((top + bottom) / 2)})">'
               "IPI (estimate)</text>")
    if history:
        xs = [x(r[0]) for r in history]
        if len(history) == 1:  # a lone day: a narrow band and a dot, else nothing shows
            xs_band, rows = [xs[0] - 3, xs[0] + 3], [history[0], history[0]]
        else:
            xs_band, rows = xs, list(history)
        upper = [(px, clamp(r[3])) for px, r in zip(xs_band, rows, strict=True)]
        lower = [(px, clamp(r[2])) for px, r in zip(xs_band, rows, strict=True)]
        out.append(f'<polygon class="band" points="{_points(upper)} {_points(lower[::-1])}" '
                   f'fill="{BAND}" fill-opacity="0.5"/>')
        line = [(px, clamp(r[1])) for px, r in zip(xs, history, strict=True)]
        if len(line) == 1:
            out.append(f'<circle class="estimate" cx="{_n(line[0][0])}" cy="{_n(line[0][1])}" '
                       f'r="3" fill="{LINE}"/>')
        else:
            out.append(f'<polyline class="estimate" points="{_points(line)}" fill="none" '
                       f'stroke="{LINE}" stroke-width="2" stroke-linejoin="round"/>')
    ty = _n(clamp(threshold))
    out.append(f'<line class="threshold" x1="{left}" y1="{ty}" x2="{right}" y2="{ty}" '
               f'stroke="{THRESHOLD}" stroke-width="1.3" stroke-dasharray="6 4"/>')
    for check in checkpoints:
        cx = _n(x(check))
        out.append(f'<line class="check" x1="{cx}" y1="{top}" x2="{cx}" y2="{bottom}" '
                   f'stroke="{CHECK}" stroke-width="1.3" stroke-dasharray="1.5 3"/>')
    for day, score in official:
        out.append(f'<circle class="official" cx="{_n(x(day))}" cy="{_n(clamp(score))}" '
                   f'r="3.5" fill="{OFFICIAL}"/>')
    entries = []  # (swatch, label), only for what the chart shows
    if history:
        entries += [("band", "band"), ("line", "IPI estimate")]
    if official:
        entries.append(("dot", "official (Seller Central)"))
    entries.append(("dashed", f"threshold {threshold:.0f}"))
    if checkpoints:
        entries.append(("dotted", "Amazon's check"))
    # Lower left as before, unless the band reaches down there (about 0-100) and leaves
    # the top free: then upper left, so the legend does not hide the line.
    lows = [min(r[1], r[2]) for r in history] + [s for _, s in official]
    highs = [max(r[1], r[3]) for r in history] + [s for _, s in official]
    up = bool(lows) and min(lows) < 110 and max(highs) <= 890
    out += _legend(entries, left + 6, top + 6 if up else bottom - 26)
    if title:
        out.append(_text(w / 2, 20, title, 13, anchor="middle"))
    return _svg(w, h, title, out)


def factor_svg(rows: Sequence[DailyScore], title: str = "") -> str:
    """The four factors over time, one small panel each with its own y range, dates shared
    (a None is a gap in the line)."""
    w, h = 825, 462
    days = _day_range(r.date for r in rows)
    out = []
    for i, (col, name, scale, better) in enumerate(FACTOR_PANELS):
        left, top = (56, 471)[i % 2], (56, 262)[i // 2]
        right, bottom = left + 340, top + 160
        values = [None if _missing(v := getattr(r, col)) else scale * float(v) for r in rows]
        x = _day_scale(days, left, right)
        lo, hi, ticks = _value_ticks([v for v in values if v is not None])
        # The end ticks a few pixels inside the frame: a line at its extreme stays visible.
        y = _linear(lo, hi, bottom - INSET, top + INSET)
        out.append(f'<g class="panel" data-column="{col}">')
        out.append(f'<rect class="frame" x="{left}" y="{top}" width="{right - left}" '
                   f'height="{bottom - top}" fill="none" stroke="{FRAME}"/>')
        out += _y_axis(ticks, y, _decimals(ticks), left, right)
        # Dates under the bottom row only, as matplotlib's shared x axis does.
        out += _x_axis(days, x, top, bottom, most=5, labels=i // 2 == 1)
        out.append(_text((left + right) / 2, top - 8, f"{name}: {better}", 12,
                         anchor="middle", cls="panel-title"))
        for segment in _segments([(x(r.date), v) for r, v in zip(rows, values, strict=True)]):
            pts = [(px, y(v)) for px, v in segment]
            if len(pts) == 1:  # a lone value between gaps: a dot, since a line needs two
                out.append(f'<circle class="series" cx="{_n(pts[0][0])}" cy="{_n(pts[0][1])}" '
                           f'r="2.5" fill="{LINE}"/>')
            else:
                out.append(f'<polyline class="series" points="{_points(pts)}" fill="none" '
                           f'stroke="{LINE}" stroke-width="1.6" stroke-linejoin="round"/>')
        out.append("</g>")
    if title:
        out.append(_text(w / 2, 22, title, 13, anchor="middle"))
    return _svg(w, h, title, out)


def _svg(w: int, h: int, title: str, body: list[str]) -> str:
    # A white ground: the PNGs had one, and a dark page must not swallow the dark text.
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" '
            f'height="{h}" role="img" {FONT}><title>{escape(title)}</title>'
            f'<rect width="{w}" height="{h}" fill="#fff"/>' + "".join(body) + "</svg>")


def _n(v: float) -> str:
    """A coordinate in at most one decimal, without a trailing .0 or a -0: small text."""
    s = f"{round(v, 1):.1f}".removesuffix(".0")
    return "0" if s == "-0" else s


def _points(pts: Iterable[tuple[float, float]]) -> str:
    """A line's points in whole pixels, one per pixel column (the column's last): a long
    history costs no more text than the chart has columns, and every page and daily
    artifact carries it."""
    kept: dict[int, str] = {}
    for px, py in pts:
        kept[round(px)] = f"{round(px)},{round(py)}"
    return " ".join(kept.values())


def _text(x: float, y: float, text: str, size: int, anchor: str = "start",
          cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return (f'<text{c} x="{_n(x)}" y="{_n(y)}" font-size="{size}" fill="{TEXT}" '
            f'text-anchor="{anchor}">{escape(text)}</text>')


def _missing(v: Any) -> bool:
    """None, or a NaN a float column may hold: both are a gap."""
    return v is None or (isinstance(v, float) and math.isnan(v))


def _linear(lo: float, hi: float, a: float, b: float) -> Callable[[float], float]:
    """lo..hi onto a..b (pixels); a zero-width range maps to the middle, never divides by 0."""
    if hi == lo:
        return lambda v: (a + b) / 2
    k = (b - a) / (hi - lo)
    return lambda v: a + (v - lo) * k


def _day_range(days: Iterable[date]) -> tuple[int, int] | None:
    """The first and last day as ordinals, a day's padding each side of a single day (no
    zero-width range); None without any day."""
    ordinals = [d.toordinal() for d in days]
    if not ordinals:
        return None
    lo, hi = min(ordinals), max(ordinals)
    return (lo - 1, hi + 1) if lo == hi else (lo, hi)


def _day_scale(days: tuple[int, int] | None, left: float, right: float) -> Callable[[date], float]:
    lo, hi = days or (0, 0)
    f = _linear(lo, hi, left + INSET, right - INSET)
    return lambda d: f(d.toordinal())


def _day_ticks(lo: int, hi: int, most: int) -> list[int]:
    """Whole days at a round step giving at most ``most`` ticks; multiples of the step from
    a fixed origin (for 7 days, Mondays), so ticks stay put from one day's page to the next."""
    steps = (1, 2, 3, 4, 5, 7, 10, 14, 15, 21, 28, 30, 45, 60, 90, 120, 180, 365)
    ticks: list[int] = []
    for step in (*steps, max(1, math.ceil((hi - lo) / max(1, most - 1)))):
        first = lo + (1 - lo) % step  # the first day d >= lo with (d - 1) % step == 0
        ticks = list(range(first, hi + 1, step))
        if len(ticks) <= most:
            break
    return ticks


def _x_axis(days: tuple[int, int] | None, x: Callable[[date], float], top: float,
            bottom: float, most: int, labels: bool = True) -> list[str]:
    if days is None:  # no date at all: axes and lines, but no dates to name
        return []
    out = []
    for t in _day_ticks(*days, most):
        day = date.fromordinal(t)
        px = _n(x(day))
        out.append(f'<line class="xgrid" x1="{px}" y1="{top}" x2="{px}" y2="{bottom}" '
                   f'stroke="{GRID}"/>')
        if labels:
            out.append(_text(x(day), bottom + 16, f"{day:%b %d}", 11, anchor="middle"))
    return out


def _y_axis(ticks: Sequence[float], y: Callable[[float], float], decimals: int,
            left: float, right: float) -> list[str]:
    out = []
    for t in ticks:
        label = f"{t:.{decimals}f}"
        py = _n(y(t))
        out.append(f'<line class="grid" data-value="{label}" x1="{left}" y1="{py}" '
                   f'x2="{right}" y2="{py}" stroke="{GRID}"/>')
        out.append(_text(left - 6, y(t) + 4, label, 11, anchor="end"))
    return out


def _value_ticks(values: Sequence[float]) -> tuple[float, float, list[float]]:
    """A y range (lo, hi) and its 3-5 ticks at a round step (1, 2, 2.5 or 5 times a power of
    ten), the range widened to whole steps. A flat series gets 5 % of its value each side
    (or 1 around 0); no values, 0..1."""
    if not values:
        return 0.0, 1.0, [0.0, 0.5, 1.0]
    lo, hi = min(values), max(values)
    if lo == hi:
        pad = abs(lo) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / 3  # a step at least a third of the span: at most 5 ticks
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    ticks = [round(k * step, 10) for k in range(first, last + 1)]
    return ticks[0], ticks[-1], ticks


def _decimals(ticks: Sequence[float]) -> int:
    """Decimals enough to tell the ticks apart: 0 for 10, 20; 1 for 0.5, 1.0; 2 for 0.25."""
    for d in range(6):
        if all(abs(t * 10**d - round(t * 10**d)) < 1e-6 for t in ticks):
            return d
    return 6


def _segments(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """The runs of points between gaps (None)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for px, v in points:
        if v is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((px, v))
    return [r for r in runs if r]


def _legend(entries: Sequence[tuple[str, str]], x0: float, y0: float) -> list[str]:
    """One row of swatches and labels from (x0, y0), on a pale ground so the lines it may
    cross stay behind it; text widths estimated (about 0.55 em a character at 11 px)."""
    items, x = [], x0 + 6
    cy = y0 + 10
    for kind, label in entries:
        sx = x
        if kind == "band":
            items.append(f'<rect x="{_n(sx)}" y="{_n(cy - 5)}" width="18" height="10" '
                         f'fill="{BAND}" fill-opacity="0.5"/>')
        elif kind == "dot":
            items.append(f'<circle cx="{_n(sx + 9)}" cy="{_n(cy)}" r="3.5" fill="{OFFICIAL}"/>')
        else:
            color, width, dash = {"line": (LINE, 2, ""),
                                  "dashed": (THRESHOLD, 1.3, ' stroke-dasharray="6 4"'),
                                  "dotted": (CHECK, 1.3, ' stroke-dasharray="1.5 3"')}[kind]
            items.append(f'<line x1="{_n(sx)}" y1="{_n(cy)}" x2="{_n(sx + 18)}" y2="{_n(cy)}" '
                         f'stroke="{color}" stroke-width="{width}"{dash}/>')
        items.append(_text(sx + 23, cy + 4, label, 11))
        x = sx + 23 + 6 * len(label) + 14
    ground = (f'<rect x="{_n(x0)}" y="{_n(y0)}" width="{_n(x - x0 - 8)}" height="20" '
              f'fill="#fff" fill-opacity="0.85"/>')
    return ['<g class="legend">', ground, *items, "</g>"]
