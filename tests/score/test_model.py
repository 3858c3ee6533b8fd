"""The score model: hand-computed values and properties that must hold for any input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipi.score.model import (
    DEFAULT_MODEL_ERROR,
    estimate,
    factors_for,
    subscore,
)

pct = st.floats(0, 100, allow_nan=False)
ratio = st.floats(0, 50, allow_nan=False)
rate = st.floats(0, 1, allow_nan=False)


@pytest.mark.parametrize("factor, value, expected", [
    # Amazon's band edges sit where its bars change colour: 0.3, 0.5, 0.7
    ("sell_through", 0.0, 0.0),
    ("sell_through", 1.0, 0.3),
    ("sell_through", 2.0, 0.5),
    ("sell_through", 5.7, 0.7),
    ("sell_through", 11.4, 0.85),
    ("in_stock", 0.0, 0.0),
    ("in_stock", 0.7, 0.3),
    ("in_stock", 0.9, 0.5),
    ("in_stock", 0.95, 0.6),
    ("in_stock", 1.0, 0.7),
    ("excess", 0.0, 0.7),
    ("excess", 10.0, 0.5),
    ("excess", 30.0, 0.3),
    ("excess", 60.0, 0.15),
    ("stranded", 1.4, 0.5),
    ("stranded", 4.2, 0.3),
])
def test_subscore_curves(factor: str, value: float, expected: float) -> None:
    """Each curve passes through the band edges the model's documentation names."""
    assert subscore(factor, value) == pytest.approx(expected)


@pytest.mark.parametrize("factor, value, band", [
    ("sell_through", 0.6, "poor"), ("sell_through", 1.4, "fair"),
    ("sell_through", 1.99, "fair"), ("sell_through", 2.0, "good"),
    ("in_stock", 0.69, "poor"), ("in_stock", 0.7, "fair"), ("in_stock", 0.89, "fair"),
    ("in_stock", 0.9, "good"), ("in_stock", 0.999, "good"),
    ("excess", 1.12, "good"), ("excess", 9.96, "good"), ("stranded", 0.43, "good"),
])
def test_subscores_fall_in_amazons_published_bands(factor: str, value: float,
                                                   band: str) -> None:
    """A value Amazon rates Poor, Fair or Good gets a sub-score in that colour of its bar."""
    low, high = {"poor": (0.0, 0.3), "fair": (0.3, 0.5), "good": (0.5, 0.7)}[band]
    assert low <= subscore(factor, value) <= high


def test_hand_computed_estimate() -> None:
    """Fair sell-through 1.5 (0.4), Good in-stock 95 % (0.6), 10 % excess (0.5) and
    1.4 % stranded (0.5) average to 500, and the band is the model error."""
    e = estimate({"excess": 10, "sell_through": 1.5, "stranded": 1.4, "in_stock": 0.95})
    assert e.score == pytest.approx(500.0)
    assert (e.low, e.high) == (500 - DEFAULT_MODEL_ERROR, 500 + DEFAULT_MODEL_ERROR)
    assert e.status == "ok"


def test_hand_computed_mixed_estimate() -> None:
    """The weights combine the sub-scores; nothing wrong but a Fair sell-through of 1.5
    reads 625, where Amazon scored such accounts 520-680 (reference.csv)."""
    e = estimate({"excess": 0, "sell_through": 1.5, "stranded": 0, "in_stock": 1.0})
    assert e.score == pytest.approx(1000 * (0.25 * 0.7 + 0.25 * 0.4 + 0.25 * 0.7 + 0.25 * 0.7))
    w = {"excess": 0.4, "sell_through": 0.3, "stranded": 0.2, "in_stock": 0.1}
    e = estimate({"excess": 10, "sell_through": 2, "stranded": 4.2, "in_stock": 0.7},
                 weights=w)
    assert e.score == pytest.approx(1000 * (0.4 * 0.5 + 0.3 * 0.5 + 0.2 * 0.3 + 0.1 * 0.3))


def test_missing_factor_widens_band_to_its_whole_range() -> None:
    """A factor without data could be anything: the band spans its sub-score from 0 to
    the best its curve gives (0.7 for stranded)."""
    e = estimate({"excess": 10, "sell_through": 1.5, "stranded": None, "in_stock": 0.95})
    assert e.status == "partial" and e.missing == ("stranded",)
    assert e.score == pytest.approx(500.0)
    assert e.low == pytest.approx(1000 * 0.25 * (0.5 + 0.4 + 0.6) - DEFAULT_MODEL_ERROR)
    assert e.high == pytest.approx(1000 * 0.25 * (0.5 + 0.4 + 0.7 + 0.6) + DEFAULT_MODEL_ERROR)


def test_no_factor_is_no_data_never_a_score() -> None:
    """Without any factor there is no estimate: 'no data', never a number."""
    e = estimate({"excess": None, "sell_through": None, "stranded": None, "in_stock": None})
    assert (e.score, e.low, e.high, e.status) == (None, None, None, "no data")


@pytest.mark.parametrize("mp, factors", [
    ("US", ("excess", "sell_through", "stranded", "in_stock")),
    ("CA", ("excess", "sell_through", "stranded")),
    ("in", ("excess", "sell_through", "stranded")),
    ("AU", ("sell_through", "stranded")),
])
def test_marketplace_factor_sets(mp: str, factors: tuple[str, ...]) -> None:
    """Canada and India use three factors, Australia two, the rest four."""
    assert factors_for(mp) == factors
    e = estimate({"excess": 90, "sell_through": 1.5, "stranded": 2, "in_stock": 0.0},
                 factors=factors_for(mp))
    assert e.used == factors and e.status == "ok"


def test_au_ignores_excess_and_in_stock() -> None:
    """In AU the estimate does not move with excess or in-stock, which Amazon does not score."""
    a = estimate({"excess": 0, "sell_through": 2, "stranded": 1.4, "in_stock": 1},
                 factors=factors_for("AU"))
    b = estimate({"excess": 90, "sell_through": 2, "stranded": 1.4, "in_stock": 0},
                 factors=factors_for("AU"))
    assert a.score == b.score == pytest.approx(500.0)


@given(pct, ratio, pct, rate)
def test_estimate_is_bounded_and_inside_its_band(ex: float, s: float, sd: float,
                                                 r: float) -> None:
    """Any factor values give 0 <= low <= score <= high <= 1000."""
    e = estimate({"excess": ex, "sell_through": s, "stranded": sd, "in_stock": r},
                 approximate={"sell_through"})
    assert e.low is not None and e.score is not None and e.high is not None
    assert 0 <= e.low <= e.score <= e.high <= 1000


@given(pct, pct, ratio, pct, rate)
def test_more_excess_never_raises_the_score(ex1: float, ex2: float, s: float, sd: float,
                                            r: float) -> None:
    """Holding the rest, more excess inventory never gives a higher estimate."""
    lo, hi = sorted((ex1, ex2))
    base = {"sell_through": s, "stranded": sd, "in_stock": r}
    assert estimate({**base, "excess": hi}).score <= estimate({**base, "excess": lo}).score


@given(ratio, ratio, pct, pct, rate)
def test_more_sell_through_never_lowers_the_score(s1: float, s2: float, ex: float, sd: float,
                                                  r: float) -> None:
    """Holding the rest, faster sell-through never gives a lower estimate."""
    lo, hi = sorted((s1, s2))
    base = {"excess": ex, "stranded": sd, "in_stock": r}
    assert estimate({**base, "sell_through": hi}).score >= \
        estimate({**base, "sell_through": lo}).score


@given(rate, rate, pct, ratio, pct)
def test_more_in_stock_never_lowers_the_score(r1: float, r2: float, ex: float, s: float,
                                              sd: float) -> None:
    """Holding the rest, a higher in-stock rate never gives a lower estimate."""
    lo, hi = sorted((r1, r2))
    base = {"excess": ex, "sell_through": s, "stranded": sd}
    assert estimate({**base, "in_stock": hi}).score >= estimate({**base, "in_stock": lo}).score


@given(pct, pct, ratio, pct, rate)
def test_more_stranded_never_raises_the_score(a: float, b: float, s: float, ex: float,
                                              r: float) -> None:
    """Holding the rest, more stranded inventory never gives a higher estimate."""
    lo, hi = sorted((a, b))
    base = {"excess": ex, "sell_through": s, "in_stock": r}
    assert estimate({**base, "stranded": hi}).score <= estimate({**base, "stranded": lo}).score


def test_unknown_factor_is_an_error() -> None:
    """A misspelt factor name fails loudly instead of scoring zero."""
    with pytest.raises(ValueError, match="unknown factor"):
        subscore("instock", 0.5)
