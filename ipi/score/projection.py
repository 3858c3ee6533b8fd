"""The one projection of the estimate: where it is heading by a date, if the trend holds.

Alerts (the projected-crossing warning), the report, the artifacts and any page
take it from here, so two places never tell two stories about the same day; capacity
use (``ipi.capacity.usage``) is projected to the month's end the same way.

The method, in order:

1. **Segment.** Look back ``projection_days`` (28) and find the last *change
   point*: a day the estimate jumped by more than its band's half-width (the
   model's own uncertainty: a move that large is not noise), crossed the
   threshold, or the units on hand moved by ``ACTION_SHARE`` or more in a day (a
   removal order or a large shipment arriving: an action the seller took). Only
   the days from the last change point on are fitted, so a step down (or up) is
   never extrapolated as a slope.
2. **Enough days.** With fewer than ``projection_min_days`` (7) estimates since the change
   point there is no projection, and no projected-crossing warning: the
   projection says why instead.
3. **Robust slope.** Theil-Sen: the median of the slopes between every pair of
   days, and the level today the median of each day's value carried to today
   along that slope. One wild day moves neither.
4. **Range.** The 90 % prediction interval at the target date, as for a least
   squares line but with the residuals' spread measured robustly (1.4826 times their
   median absolute deviation): wide when the days scatter or the date is far.
   Clamped to 0-1000, the IPI's scale.

Pure: values in, projection out; ``projection`` reads the values from the store.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import combinations

import duckdb

from ipi.settings import Policy

ACTION_SHARE = 0.3  # units on hand moving this much in a day: the seller acted
_Z90 = 1.645  # two-sided 90 %


@dataclass(frozen=True)
class Point:
    """One day's estimate, as the projection sees it."""

    day: date
    score: float
    half_band: float  # half the band's width: the estimate's own uncertainty
    units: float | None = None  # units on hand


@dataclass(frozen=True)
class Projection:
    """The estimate at ``target`` if the trend since ``since`` holds, with a 90 % range.

    ``value`` is None when there are too few days since the last change point to fit
    (``reason`` says which); ``shift`` says what the change point was, if there was one.
    """

    target: date
    since: date  # the first day fitted
    days: int  # estimates fitted
    value: float | None = None
    low: float | None = None
    high: float | None = None
    slope: float | None = None  # points a day
    shift: str | None = None  # the change point the fit starts at, e.g. "a jump of -412"
    reason: str | None = None  # why there is no value

    def describe(self, target: str = "") -> str:
        """One line for people: the trend and where it leads (``target`` names the date,
        e.g. "the check on "), or why there is none."""
        if self.value is None:
            return f"no projection: {self.reason}"
        assert self.slope is not None and self.low is not None and self.high is not None
        basis = (f"since {self.since} ({self.shift})" if self.shift
                 else f"over {self.days} days")
        return (f"at {self.slope:+.1f} points a day {basis} it reaches {self.value:.0f} "
                f"(90 % range {self.low:.0f}-{self.high:.0f}) by {target}{self.target}")


def change_point(points: Sequence[Point], threshold: float) -> tuple[int, str | None]:
    """The index of the first point after the last change point (0: none), and what it
    was."""
    for i in range(len(points) - 1, 0, -1):
        a, b = points[i - 1], points[i]
        jump = b.score - a.score
        if abs(jump) > b.half_band:
            return i, f"a jump of {jump:+.0f} on {b.day}"
        if (a.score < threshold) != (b.score < threshold):
            side = "under" if b.score < threshold else "over"
            return i, f"crossed {side} {threshold:.0f} on {b.day}"
        if a.units and b.units is not None and abs(b.units - a.units) >= ACTION_SHARE * a.units:
            return i, f"units on hand {b.units - a.units:+,.0f} on {b.day}"
    return 0, None


def theil_sen(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The median of the pairwise slopes (Sen 1968): robust to a few wild points."""
    return statistics.median((ys[j] - ys[i]) / (xs[j] - xs[i])
                             for i, j in combinations(range(len(xs)), 2) if xs[j] != xs[i])


def project(points: Sequence[Point], day: date, target: date, threshold: float, *,
            min_days: int = 7, bounds: tuple[float, float] = (0.0, 1000.0),
            noun: str = "estimate(s)") -> Projection | None:
    """Project the estimate to ``target`` from ``points`` (oldest first, up to ``day``).
    None when there is no estimate at all. ``bounds``: the scale's ends (the IPI's
    0-1000 by default), which the value and its range are clamped to; ``noun``: what a
    point is, in the reason there is no projection."""
    points = [p for p in points if p.day <= day]
    if not points:
        return None
    start, shift = change_point(points, threshold)
    seg = points[start:]
    if len(seg) < min_days:
        after = f"since {shift}" if shift else "in the window"
        return Projection(target, seg[0].day, len(seg), shift=shift,
                          reason=f"{len(seg)} {noun} {after}, {min_days} needed to fit "
                                 "a trend")
    xs = [float((p.day - day).days) for p in seg]  # today is 0
    ys = [p.score for p in seg]
    slope = theil_sen(xs, ys)
    level = statistics.median(y - slope * x for x, y in zip(xs, ys, strict=True))
    resid = [y - (level + slope * x) for x, y in zip(xs, ys, strict=True)]
    mid = statistics.median(resid)
    sigma = 1.4826 * statistics.median(abs(r - mid) for r in resid)
    n, ahead = len(seg), float((target - day).days)
    mean_x = sum(xs) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    spread = _Z90 * sigma * math.sqrt(1 + 1 / n + ((ahead - mean_x) ** 2 / sxx if sxx else 0))
    value = level + slope * ahead
    lo, hi = bounds

    def clamp(v: float) -> float:
        return min(max(v, lo), hi)

    return Projection(target, seg[0].day, n, clamp(value), clamp(value - spread),
                      clamp(value + spread), slope, shift)


def projection(con: duckdb.DuckDBPyConnection, account: str, marketplace: str, day: date,
               target: date | None, policy: Policy) -> Projection | None:
    """The projection of the marketplace's estimate to ``target`` from its reliable
    estimates of the ``projection_days`` up to ``day`` (None: no target or no estimate)."""
    if target is None:
        return None
    rows = con.execute(
        "SELECT date, score, (score_high - score_low) / 2, units_on_hand FROM daily_score "
        "WHERE account = $account AND marketplace = $marketplace AND date BETWEEN $first AND $day "
        "AND score IS NOT NULL AND status <> 'unreliable' ORDER BY date",
        {"account": account, "marketplace": marketplace,
         "first": day - timedelta(days=policy.projection_days - 1), "day": day}).fetchall()
    points = [Point(d, float(s), float(h or 0.0), None if u is None else float(u))
              for d, s, h, u in rows]
    return project(points, day, target, policy.threshold,
                   min_days=policy.projection_min_days)
