"""The score model: four factor values in, an IPI estimate with a band out.

Amazon publishes no formula, but its Inventory performance page draws each factor
as a bar in four colours (Poor red, Fair yellow, Good light green, Excellent dark
green) with a marker where the factor's value sits. Measured on the public
screenshots in ``reference.csv``, the colours split every bar at the same places,
0.3, 0.5 and 0.7 of its length, and the marker moves linearly between the band
edges: in-stock 86.79 % sits at 0.46 (Fair, 70-90 %, predicts 0.47), 98.42 % at
0.66 (Good, 90-100 %, predicts 0.67); sell-through 0.5, 0.6, 1.4, 1.5, 1.8 sit
where a Poor/Fair edge at 1.0 puts them. Each factor's sub-score here is that
marker position:

- sell-through ST: Poor 0-1 -> 0-0.3, Fair 1-2 -> 0.3-0.5, Good 2-5.7 -> 0.5-0.7
  (Amazon's FAQ: under 2 is fair; the Good/Excellent edge 5.7 is where the markers
  of 2.3 and 2.8 put it), Excellent above: 0.7 + 0.3 (1 - 5.7/ST);
- in-stock rate (0-1): Poor under 70 % -> 0-0.3, Fair 70-90 % -> 0.3-0.5, Good
  90-100 % -> 0.5-0.7 (Amazon's published bands);
- excess % and stranded %: Good up to 10 % excess and 1.4 % stranded -> 0.7-0.5
  (markers of 9.96 % and 0.43 %), Fair to three times that (as in-stock's Fair band
  is twice as wide as its Good one; Amazon publishes no edge) -> 0.5-0.3, Poor
  beyond: 0.3 x edge / value.

Excellent at exactly 0 % excess or stranded, or 100 % in stock, counts as the top
of Good (0.7), not the bar's end: accounts with nothing wrong but their
sell-through score 520-680 at Amazon, not 850 (``reference.csv``), and a single
unit out of stock does not drop a score 60 points.

The estimate is 1000 x the weighted mean of the sub-scores. The weights are fitted
to the public official scores (``ipi.score.reference``; least squares held toward
equal weights, as a seller's calibration does), and the band's model part is the
error that fit makes on scores it did not see (leave-one-out, the
``BAND_QUANTILE`` quantile). Marketplaces that use fewer factors average only
those.

The band is honest about three things: the model itself misses Amazon
(``model_error`` points each way, until calibration on the seller's own official
scores narrows it), a factor marked approximate may be off (its sub-score moves
by ``APPROX_SPREAD``), and a factor with no data could be anywhere on its curve.

Pure: no clock, no database, no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

MODEL = "prior-3"  # prior-2's curves and weights, and the 2020 rule (ipi.score.window)
ALL_FACTORS = ("excess", "sell_through", "stranded", "in_stock")
LABELS = {"excess": "excess", "sell_through": "sell-through", "stranded": "stranded",
          "in_stock": "in-stock"}
# Fitted by ipi.score.reference.fit_prior() on reference.csv; a test holds them to it.
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "excess": 0.25, "sell_through": 0.25, "stranded": 0.25, "in_stock": 0.25,
}
DEFAULT_MODEL_ERROR = 143.0
DEFAULT_MAE = 72.0  # how far the default misses the public scores, leave-one-out
# Marketplaces where Amazon scores fewer than four factors (Seller Central help 202174810).
FACTORS_BY_MARKETPLACE: Mapping[str, tuple[str, ...]] = {
    "CA": ("excess", "sell_through", "stranded"),
    "IN": ("excess", "sell_through", "stranded"),
    "AU": ("sell_through", "stranded"),
    "SA": ("sell_through", "stranded"),
    "AE": ("sell_through", "stranded"),
}
APPROX_SPREAD = 0.1
# A factor carried from an earlier day's report may have moved since: its sub-score
# moves this much per day of age, up to CARRY_SPREAD_MAX.
CARRY_SPREAD_PER_DAY = 0.05
CARRY_SPREAD_MAX = 0.3
# Where Amazon's bars change colour, as a share of their length.
POOR, FAIR, GOOD = 0.3, 0.5, 0.7
# Band edges: sell-through Poor/Fair, Fair/Good, Good/Excellent; in-stock Poor/Fair,
# Fair/Good; the Good/Fair edge of excess % and stranded % (Fair ends at three times it).
ST_EDGES = (1.0, 2.0, 5.7)
IN_STOCK_EDGES = (0.7, 0.9)
GOOD_UP_TO = {"excess": 10.0, "stranded": 1.4}
FAIR_WIDTH = 2.0
# The best sub-score each curve reaches: a missing factor's band spans 0 to this.
TOP = {"excess": GOOD, "sell_through": 1.0, "stranded": GOOD, "in_stock": GOOD}


def factors_for(marketplace: str) -> tuple[str, ...]:
    return FACTORS_BY_MARKETPLACE.get(marketplace.upper(), ALL_FACTORS)


def _between(x: float, x0: float, x1: float, y0: float, y1: float) -> float:
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def subscore(factor: str, value: float) -> float:
    """The sub-score in [0, 1] of one factor value (where Amazon's bar puts its
    marker); higher is better."""
    if factor == "sell_through":
        v = max(value, 0.0)
        fair, good, excellent = ST_EDGES
        if v <= fair:
            return _between(v, 0.0, fair, 0.0, POOR)
        if v <= good:
            return _between(v, fair, good, POOR, FAIR)
        if v <= excellent:
            return _between(v, good, excellent, FAIR, GOOD)
        return GOOD + (1.0 - GOOD) * (1.0 - excellent / v)
    if factor in GOOD_UP_TO:
        v, edge = max(value, 0.0), GOOD_UP_TO[factor]
        fair_to = edge * (1.0 + FAIR_WIDTH)
        if v <= edge:
            return _between(v, 0.0, edge, GOOD, FAIR)
        if v <= fair_to:
            return _between(v, edge, fair_to, FAIR, POOR)
        return POOR * fair_to / v
    if factor == "in_stock":
        v = min(max(value, 0.0), 1.0)
        fair, good = IN_STOCK_EDGES
        if v < fair:
            return _between(v, 0.0, fair, 0.0, POOR)
        if v < good:
            return _between(v, fair, good, POOR, FAIR)
        return _between(v, good, 1.0, FAIR, GOOD)
    raise ValueError(f"unknown factor {factor!r}; known: {', '.join(ALL_FACTORS)}")


@dataclass(frozen=True)
class Estimate:
    score: float | None
    low: float | None
    high: float | None
    status: str  # ok | approximate | partial | no data (ipi.score adds: insufficient history)
    used: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    approximate: tuple[str, ...] = ()
    subscores: Mapping[str, float] = field(default_factory=dict)
    carry_margin: float = 0.0  # points of the band, each way, from carried factors

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
    carried: Mapping[str, int] | None = None,
) -> Estimate:
    """Estimate the IPI from the factor values of the marketplace's factor set;
    ``carried``: factors whose value is this many days old (a report missing today)."""
    factors = tuple(f for f in ALL_FACTORS if f in factors)
    present = [f for f in factors if values.get(f) is not None]
    missing = tuple(f for f in factors if f not in present)
    approx = tuple(f for f in present if f in approximate)
    if not present:
        return Estimate(None, None, None, "no data", (), missing, ())
    subs = {f: subscore(f, float(values[f])) for f in present}  # type: ignore[arg-type]
    carry = {f: min(CARRY_SPREAD_PER_DAY * age, CARRY_SPREAD_MAX)
             for f, age in (carried or {}).items() if f in subs}
    w_present = sum(weights[f] for f in present)
    w_all = sum(weights[f] for f in factors)
    score = 1000.0 * sum(weights[f] * subs[f] for f in present) / w_present

    spread = {f: (APPROX_SPREAD if f in approx else 0.0) + carry.get(f, 0.0) for f in subs}

    def bound(direction: int) -> float:
        total = 0.0
        for f in factors:
            if f in subs:
                s = subs[f] + direction * spread[f]
                total += weights[f] * min(max(s, 0.0), TOP[f])
            else:
                total += weights[f] * (TOP[f] if direction > 0 else 0.0)
        return 1000.0 * total / w_all

    low = min(bound(-1), score) - model_error
    high = max(bound(+1), score) + model_error
    status = "partial" if missing else "approximate" if approx else "ok"
    margin = 1000.0 * sum(weights[f] * c for f, c in carry.items()) / w_all
    return Estimate(round(_clamp(score), 1), round(_clamp(low), 1), round(_clamp(high), 1),
                    status, tuple(present), missing, approx, subs, round(margin, 1))
