"""Calibration: fit the score model's weights to the official scores a seller records.

Amazon shows the official IPI only in Seller Central, about once a week. Each
official score recorded (``ipi official add`` or ``import``) is paired with
ipi's factors on that day (or the nearest day before it, up to ``PAIR_DAYS``).
From ``MIN_POINTS`` pairs on, the four weights are fitted for the account:

- least squares of the estimate against the official scores,
- each weight within [``W_MIN``, ``W_MAX``], together summing to 1,
- pulled toward the defaults by a ridge penalty: moving the weights 0.1 away
  (Euclidean) costs as much as one week missed by ``RIDGE_POINTS`` points, so a
  few noisy weeks cannot swing them far, while a few months of data outweigh it.

The fit error is the mean absolute error of leave-one-out predictions: each
official score predicted by weights fitted without it. The calibrated weights
are used only when that error beats the default weights' error on the same
scores; either way the band becomes ``BAND_PER_MAE`` times the better error
(about 90 % of errors, if they are roughly normal), no narrower than
``MIN_MODEL_ERROR``.

The fit is exact and small: for each way of pinning weights at their bounds
(3^4 cases), an equality-constrained least-squares solve; the best feasible one
wins. Pure numpy, no clock, no database.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ipi.score.model import (
    ALL_FACTORS,
    DEFAULT_MODEL_ERROR,
    DEFAULT_WEIGHTS,
    estimate,
    subscore,
)

# numpy is imported where a fit runs: reading the estimates (ipi score) never pays for it.
if TYPE_CHECKING:
    import numpy as np

MIN_POINTS = 6  # official scores before weights are fitted: six weeks
PAIR_DAYS = 6  # an official score pairs with ipi's day up to this many days before it
W_MIN, W_MAX = 0.05, 0.60
RIDGE_POINTS = 10.0
BAND_PER_MAE = 2.0
MIN_MODEL_ERROR = 10.0


@dataclass(frozen=True)
class Point:
    """One official score and the factor values ipi had for that day."""

    values: Mapping[str, float | None]
    factors: Sequence[str]  # the marketplace's factor set
    official: float


@dataclass(frozen=True)
class Calibration:
    points: int
    weights: Mapping[str, float]  # what the estimate uses: fitted, or the defaults
    fitted: Mapping[str, float] | None  # the fit, even when not used
    mae: float | None  # leave-one-out error of the fitted weights
    prior_mae: float  # error of the default weights on the same scores
    model_error: float  # the band's half-width from the model itself
    used: bool  # the fitted weights beat the defaults

    def summary(self) -> str:
        w = ", ".join(f"{f.replace('_', '-')} {self.weights[f]:.2f}" for f in ALL_FACTORS)
        if self.points == 0:
            return (f"no official score pairs with an estimate yet (one on its day or up to "
                    f"{PAIR_DAYS} days before): load that day's reports; band "
                    f"±{self.model_error:.0f}")
        if self.fitted is None:
            return (f"{self.points} official score(s) paired; weights are fitted from "
                    f"{MIN_POINTS} on. Default weights ({w}) miss them by "
                    f"{self.prior_mae:.1f} points on average; band ±{self.model_error:.0f}")
        which = "calibrated" if self.used else "default (the fit did not beat them)"
        return (f"{self.points} official scores; {which} weights: {w}. Held-out error "
                f"{self.mae:.1f} points (defaults: {self.prior_mae:.1f}); "
                f"band ±{self.model_error:.0f}")


def _rows(points: Sequence[Point]) -> np.ndarray:
    """Each point as a linear residual in the weights: sum over the marketplace's present
    factors of w_f * (1000 * s_f - official). With every factor present and weights
    summing to 1 this is exactly estimate - official; with fewer it is that error times
    the present factors' share of the weight."""
    import numpy as np

    a = np.zeros((len(points), len(ALL_FACTORS)))
    for i, p in enumerate(points):
        for j, f in enumerate(ALL_FACTORS):
            v = p.values.get(f)
            if f in p.factors and v is not None:
                a[i, j] = 1000.0 * subscore(f, float(v)) - p.official
    return a / 1000.0


def fit(points: Sequence[Point], prior: Mapping[str, float] = DEFAULT_WEIGHTS,
        ridge_points: float = RIDGE_POINTS) -> dict[str, float]:
    """The weights that best explain the official scores, within the bounds."""
    import numpy as np

    a = _rows(points)
    w0 = np.array([prior[f] for f in ALL_FACTORS])
    # Residuals are in thousands of points: a 0.1 move costs (ridge_points / 1000)^2.
    lam = (ridge_points / 1000.0) ** 2 / 0.1 ** 2
    h = a.T @ a + lam * np.eye(len(w0))
    g = lam * w0
    best: tuple[float, np.ndarray] | None = None
    for pins in itertools.product((None, W_MIN, W_MAX), repeat=len(w0)):
        w = _solve(h, g, pins)
        if w is None or np.any(w < W_MIN - 1e-9) or np.any(w > W_MAX + 1e-9):
            continue
        cost = float(w @ h @ w - 2 * g @ w)
        if best is None or cost < best[0] - 1e-12:
            best = (cost, w)
    assert best is not None  # the bounds admit weights summing to 1
    return {f: round(float(x), 4) for f, x in zip(ALL_FACTORS, best[1], strict=True)}


def _solve(h: np.ndarray, g: np.ndarray, pins: tuple[float | None, ...]) -> np.ndarray | None:
    """Minimise w'Hw - 2g'w with sum(w) = 1 and the pinned weights fixed."""
    import numpy as np

    free = [i for i, p in enumerate(pins) if p is None]
    w = np.array([0.0 if p is None else p for p in pins])
    rest = 1.0 - w.sum()
    if not free:
        return w if abs(rest) < 1e-9 else None
    k = len(free)
    kkt = np.zeros((k + 1, k + 1))
    kkt[:k, :k] = 2 * h[np.ix_(free, free)]
    kkt[:k, k] = kkt[k, :k] = 1.0
    fixed = [i for i in range(len(pins)) if pins[i] is not None]
    rhs = np.append(2 * g[free] - 2 * h[np.ix_(free, fixed)] @ w[fixed], rest)
    try:
        sol = np.linalg.solve(kkt, rhs)
    except np.linalg.LinAlgError:
        return None
    w[free] = sol[:k]
    return w


def _error(points: Sequence[Point], weights: Mapping[str, float]) -> np.ndarray:
    """|estimate - official| for each point."""
    import numpy as np

    return np.array([abs((estimate(p.values, factors=p.factors, weights=weights).score or 0.0)
                         - p.official) for p in points])


def calibrate(points: Sequence[Point], prior: Mapping[str, float] = DEFAULT_WEIGHTS,
              prior_error: float = DEFAULT_MODEL_ERROR) -> Calibration:
    """Fit, judge on held-out points, and choose the weights and band to use (``prior``,
    ``prior_error``: the default model's weights and band). Every point must have at
    least one factor value (the caller pairs only days with an estimate)."""
    import numpy as np

    points = list(points)
    prior_err = _error(points, prior)
    prior_mae = float(prior_err.mean()) if len(prior_err) else prior_error / 2
    if len(points) < MIN_POINTS:
        band = prior_error if len(points) < 3 else max(
            MIN_MODEL_ERROR, BAND_PER_MAE * prior_mae)
        return Calibration(len(points), dict(prior), None, None, prior_mae, band, False)
    held_out = [float(_error([p], fit(points[:i] + points[i + 1:], prior))[0])
                for i, p in enumerate(points)]
    mae = float(np.mean(held_out))
    fitted = fit(points, prior)
    used = mae < prior_mae
    band = max(MIN_MODEL_ERROR, BAND_PER_MAE * min(mae, prior_mae))
    return Calibration(len(points), fitted if used else dict(prior), fitted, mae,
                       prior_mae, round(band, 1), used)
