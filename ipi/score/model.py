"""The score model: four factor values in, an IPI estimate with a band out.

Amazon publishes no formula. This is a documented prior, to be calibrated per
seller against official scores: each factor maps to a sub-score in [0, 1]
through a monotone curve, the sub-scores are averaged with weights, and the
result is scaled to 0-1000.

- sell-through ST (units shipped in 90 days / average units on hand):
  ST / (ST + 1.5): 1.5 gives 0.5, 2.5 gives 0.63, 7 gives 0.82;
- excess % (0-100): 1 / (1 + (excess / 12) ** 1.5): 12 % gives 0.5;
- stranded % (0-100): 1 / (1 + (stranded / 2) ** 1.5): 2 % gives 0.5;
- in-stock rate (0-1): (rate - 0.5) / 0.5, clamped: 100 % gives 1, 50 % or less 0.

Weights follow what practitioners report (excess and sell-through heaviest):
0.35, 0.35, 0.15, 0.15. Marketplaces that use fewer factors average only those.

The band is honest about three things: the model itself is a guess
(``model_error`` points each way, until calibration narrows it), a factor
marked approximate may be off (its sub-score moves by ``APPROX_SPREAD``), and a
factor with no data could be anywhere (its sub-score spans 0 to 1).

Pure: no clock, no database, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

MODEL = "prior-1"
ALL_FACTORS = ("excess", "sell_through", "stranded", "in_stock")
LABELS = {"excess": "excess", "sell_through": "sell-through", "stranded": "stranded",
          "in_stock": "in-stock"}
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "excess": 0.35, "sell_through": 0.35, "stranded": 0.15, "in_stock": 0.15,
}
DEFAULT_MODEL_ERROR = 60.0
# Marketplaces where Amazon scores fewer than four factors (Seller Central help 202174810).
FACTORS_BY_MARKETPLACE: Mapping[str, tuple[str, ...]] = {
    "CA": ("excess", "sell_through", "stranded"),
    "IN": ("excess", "sell_through", "stranded"),
    "AU": ("sell_through", "stranded"),
    "SA": ("sell_through", "stranded"),
    "AE": ("sell_through", "stranded"),
}
APPROX_SPREAD = 0.1


def factors_for(marketplace: str) -> tuple[str, ...]:
    return FACTORS_BY_MARKETPLACE.get(marketplace.upper(), ALL_FACTORS)


def subscore(factor: str, value: float) -> float:
    """The sub-score in [0, 1] of one factor value; higher is better."""
    if factor == "sell_through":
        v = max(value, 0.0)
        return v / (v + 1.5)
    if factor == "excess":
        return 1.0 / (1.0 + math.pow(max(value, 0.0) / 12.0, 1.5))
    if factor == "stranded":
        return 1.0 / (1.0 + math.pow(max(value, 0.0) / 2.0, 1.5))
    if factor == "in_stock":
        return min(max((value - 0.5) / 0.5, 0.0), 1.0)
    raise ValueError(f"unknown factor {factor!r}; known: {', '.join(ALL_FACTORS)}")


@dataclass(frozen=True)
class Estimate:
    score: float | None
    low: float | None
    high: float | None
    status: str  # ok | approximate | partial | no data
    used: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    approximate: tuple[str, ...] = ()
    subscores: Mapping[str, float] = field(default_factory=dict)

    @property
    def notes(self) -> str:
        parts = []
        if self.missing:
            parts.append("no data for " + ", ".join(LABELS[f] for f in self.missing))
        if self.approximate:
            parts.append("approximate " + ", ".join(LABELS[f] for f in self.approximate))
        return "; ".join(parts)


def _clamp(x: float) -> float:
    return min(max(x, 0.0), 1000.0)


def estimate(
    values: Mapping[str, float | None],
    *,
    factors: Collection[str] = ALL_FACTORS,
    approximate: Collection[str] = (),
    weights: Mapping[str, float] = DEFAULT_WEIGHTS,
    model_error: float = DEFAULT_MODEL_ERROR,
) -> Estimate:
    """Estimate the IPI from the factor values of the marketplace's factor set."""
    factors = tuple(f for f in ALL_FACTORS if f in factors)
    present = [f for f in factors if values.get(f) is not None]
    missing = tuple(f for f in factors if f not in present)
    approx = tuple(f for f in present if f in approximate)
    if not present:
        return Estimate(None, None, None, "no data", (), missing, ())
    subs = {f: subscore(f, float(values[f])) for f in present}  # type: ignore[arg-type]
    w_present = sum(weights[f] for f in present)
    w_all = sum(weights[f] for f in factors)
    score = 1000.0 * sum(weights[f] * subs[f] for f in present) / w_present

    def bound(direction: int) -> float:
        total = 0.0
        for f in factors:
            if f in subs:
                s = subs[f] + (direction * APPROX_SPREAD if f in approx else 0.0)
                total += weights[f] * min(max(s, 0.0), 1.0)
            else:
                total += weights[f] * (1.0 if direction > 0 else 0.0)
        return 1000.0 * total / w_all

    low = min(bound(-1), score) - model_error
    high = max(bound(+1), score) + model_error
    status = "partial" if missing else "approximate" if approx else "ok"
    return Estimate(round(_clamp(score), 1), round(_clamp(low), 1), round(_clamp(high), 1),
                    status, tuple(present), missing, approx, subs)
