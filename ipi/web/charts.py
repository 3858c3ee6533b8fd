"""The data behind a marketplace's charts, as the browser's uPlot wants it: columns of
numbers over one shared time axis (seconds at UTC midnight), nulls for gaps.

Pure: rows in, a JSON-able dict out. Drawing is ``static/dashboard.js``.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ipi.score import DailyScore
from ipi.score.model import factors_for
from ipi.score.official import Recorded

# How far past the newest estimate the time axis reaches to show Amazon's next check, as
# the report's chart does: a check further off says nothing about the history.
CHECK_HORIZON = timedelta(days=45)


@dataclass(frozen=True)
class Factor:
    column: str  # daily_score's column
    label: str
    unit: str
    scale: float  # stored value -> shown value
    target: float  # the line drawn, in shown units
    target_label: str
    better: str


# Amazon publishes bands for two factors only (Seller Central help 202174810 and its IPI
# FAQ; see docs/score.md, the model): sell-through under 2 is "fair", an in-stock rate of 90 %
# or more "good". For excess and stranded it publishes none, so their line is where ipi's
# model gives half marks (ipi/score/model.py), and the label says so.
FACTORS: Mapping[str, Factor] = {
    "excess": Factor("excess_pct", "Excess inventory", "%", 1.0, 12.0,
                     "ipi's model midpoint (Amazon publishes none)", "lower is better"),
    "sell_through": Factor("sell_through", "Sell-through (90 days)", "", 1.0, 2.0,
                           "Amazon: under 2 is fair", "higher is better"),
    "stranded": Factor("stranded_pct", "Stranded inventory", "%", 1.0, 2.0,
                       "ipi's model midpoint (Amazon publishes none)", "lower is better"),
    "in_stock": Factor("in_stock_rate", "In-stock rate", "%", 100.0, 90.0,
                       "Amazon: 90 % or more is good", "higher is better"),
}


def epoch(day: date) -> int:
    """The day as seconds since 1970 at UTC midnight: uPlot's time unit."""
    return calendar.timegm(day.timetuple())


def _num(v: Any, scale: float = 1.0) -> float | None:
    return None if v is None else round(float(v) * scale, 4)


def score_range(values: Sequence[float], threshold: float) -> tuple[float, float]:
    """The score axis: the data and the threshold with a margin, in steps of 50 within
    0-1000, so a move of 20 points is visible (0-1000 would flatten it)."""
    lo, hi = min([*values, threshold]), max([*values, threshold])
    lo, hi = max(0.0, (lo - 25) // 50 * 50), min(1000.0, -((-hi - 25) // 50) * 50)
    return (lo, hi) if hi > lo else (max(0.0, lo - 50), min(1000.0, hi + 50))


def chart_data(marketplace: str, history: Sequence[DailyScore], threshold: float,
               checks: Sequence[date], official: Sequence[Recorded],
               fired: Sequence[date]) -> dict[str, Any] | None:
    """The score chart (estimate, band, threshold, official scores, alert firings, check
    dates) and the factor charts of one marketplace, over the same days; None when there
    is no estimate to draw."""
    scored = [r for r in history if r.score is not None]
    if not scored:
        return None
    days = [r.date for r in history]
    by_day = {r.date: r for r in history}
    first, last = days[0], days[-1]
    shown = [c for c in checks if first <= c <= last + CHECK_HORIZON]
    end = max([last, *shown])
    on_axis = {o.date: o.official for o in official if first <= o.date <= last}
    fired_on = {d for d in fired if d in by_day}
    band = [v for r in scored for v in (r.score_low, r.score_high) if v is not None]
    band += list(on_axis.values())
    return {
        "marketplace": marketplace,
        "x": [epoch(d) for d in days],
        "range": [epoch(first), epoch(end)],
        "score": [_num(r.score) for r in history],
        "low": [_num(r.score_low) for r in history],
        "high": [_num(r.score_high) for r in history],
        "official": [_num(on_axis.get(d)) for d in days],
        # A firing is marked on the estimate of its day.
        "fired": [_num(by_day[d].score) if d in fired_on else None for d in days],
        "threshold": threshold,
        "yrange": list(score_range([r.score for r in scored if r.score is not None] + band,
                                   threshold)),
        "checks": [epoch(c) for c in shown],
        "factors": [
            {"key": key, "label": f.label, "unit": f.unit, "target": f.target,
             "target_label": f.target_label, "better": f.better,
             "values": [_num(getattr(r, f.column), f.scale) for r in history]}
            for key, f in FACTORS.items() if key in factors_for(marketplace)],
    }
