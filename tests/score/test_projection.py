"""The one projection: a robust trend since the last level shift, never across one."""

from __future__ import annotations

import math
import statistics
from datetime import date, timedelta

import pytest

from ipi.score.projection import Point, project, theil_sen

D0 = date(2026, 10, 1)
CHECK = date(2026, 12, 31)
BAND = 60.0


def series(scores: list[float], units: list[float] | None = None) -> list[Point]:
    return [Point(D0 + timedelta(days=k), s, BAND, None if units is None else units[k])
            for k, s in enumerate(scores)]


def last_day(points: list[Point]) -> date:
    return points[-1].day


def test_a_steady_slide_is_projected_along_its_slope() -> None:
    """-3 points a day from 600 over 20 days: the line's value at the check, no spread."""
    pts = series([600 - 3 * k for k in range(20)])
    p = project(pts, last_day(pts), CHECK, 450)
    assert p is not None and p.value is not None and p.slope == pytest.approx(-3.0)
    ahead = (CHECK - last_day(pts)).days
    assert p.value == pytest.approx(max(0.0, 543 - 3 * ahead))
    assert p.low == pytest.approx(p.high) and p.shift is None and p.days == 20


def test_a_step_down_is_not_extrapolated_as_a_slope() -> None:
    """800 for 20 days, then 150: a least-squares line over the window would fall ~20 a
    day; the projection fits only the days after the step, too few to fit yet."""
    pts = series([800.0] * 20 + [150.0] * 3)
    p = project(pts, last_day(pts), CHECK, 450)
    assert p is not None and p.value is None
    assert p.since == D0 + timedelta(days=20) and p.days == 3
    assert "a jump of -650" in (p.shift or "") and "7 needed" in (p.reason or "")
    assert p.describe().startswith("no projection: 3 estimate(s) since a jump of -650")


def test_a_step_up_gives_a_flat_projection_once_enough_days_follow() -> None:
    """150 for 20 days, then 843 for 8 days: flat at 843 after the shift, not rising."""
    pts = series([150.0] * 20 + [843.0] * 8)
    p = project(pts, last_day(pts), CHECK, 450)
    assert p is not None and p.value == pytest.approx(843.0) and p.slope == pytest.approx(0.0)
    assert p.since == D0 + timedelta(days=20) and "a jump of +693" in (p.shift or "")


def test_a_threshold_crossing_starts_a_new_fit() -> None:
    """A slide that crosses 450 (by less than the band in a day) restarts the fit there."""
    pts = series([520 - 10 * k for k in range(12)])  # 520 ... 410: crosses on day 8 (440)
    p = project(pts, last_day(pts), CHECK, 450)
    assert p is not None and p.value is None and p.since == D0 + timedelta(days=8)
    assert "crossed under 450" in (p.shift or "")


def test_an_action_of_the_seller_starts_a_new_fit() -> None:
    """Units on hand falling by half in a day (a removal order) is a change point even
    when the estimate barely moves that day."""
    scores = [700 - 2 * k for k in range(15)] + [672 + k for k in range(8)]
    units = [10_000.0] * 15 + [5_000.0] * 8
    pts = series(scores, units)
    p = project(pts, last_day(pts), CHECK, 450)
    assert p is not None and p.since == D0 + timedelta(days=15)
    assert "units on hand -5,000" in (p.shift or "") and p.slope == pytest.approx(1.0)


def test_noise_and_one_wild_day_do_not_move_the_robust_slope() -> None:
    """-2 a day with noise and one day 40 points off: Theil-Sen stays near -2 where least
    squares is pulled away; the range is the robust prediction interval, by hand."""
    noise = [3, -4, 2, -1, 4, -3, 1, -2, 40, -1, 2, -3, 1, 0]
    scores = [700 - 2 * k + e for k, e in enumerate(noise)]
    pts = series(scores)
    day = last_day(pts)
    p = project(pts, day, CHECK, 450)
    assert p is not None and p.value is not None and p.low is not None and p.high is not None
    xs = [float(k - 13) for k in range(14)]
    slope = statistics.median((scores[j] - scores[i]) / (j - i)
                              for i in range(14) for j in range(i + 1, 14))
    assert p.slope == pytest.approx(slope) and abs(slope + 2) < 0.3
    ls = sum((x - sum(xs) / 14) * (y - sum(scores) / 14) for x, y in zip(xs, scores, strict=True)) \
        / sum((x - sum(xs) / 14) ** 2 for x in xs)
    assert abs(ls + 2) > abs(slope + 2)  # least squares is pulled by the wild day
    level = statistics.median(y - slope * x for x, y in zip(xs, scores, strict=True))
    resid = [y - (level + slope * x) for x, y in zip(xs, scores, strict=True)]
    sigma = 1.4826 * statistics.median(abs(r - statistics.median(resid)) for r in resid)
    ahead, mean_x = (CHECK - day).days, sum(xs) / 14
    sxx = sum((x - mean_x) ** 2 for x in xs)
    half = 1.645 * sigma * math.sqrt(1 + 1 / 14 + (ahead - mean_x) ** 2 / sxx)
    value = level + slope * ahead
    assert (p.value, p.low, p.high) == pytest.approx((value, value - half, value + half))
    assert p.low < p.value < p.high


def test_the_window_with_no_change_point_fits_every_day() -> None:
    """No jump, no crossing, no action: every day in the window is fitted."""
    pts = series([800 + (k % 3) for k in range(28)])
    p = project(pts, last_day(pts), CHECK, 450)
    assert p is not None and p.days == 28 and p.since == D0 and p.shift is None


def test_theil_sen_is_the_median_pairwise_slope() -> None:
    """Three points: slopes 1, 2 and 3 between the pairs; the median is 2."""
    assert theil_sen([0, 1, 2], [0, 1, 4]) == 2.0


def test_no_estimate_no_projection() -> None:
    """Nothing to fit is None, not a guess."""
    assert project([], D0, CHECK, 450) is None
