"""The fee sums, by hand: each expected number is worked out in a comment."""

from __future__ import annotations

import math
from datetime import date

import pytest

from ipi.fees import load_rates
from ipi.fees.compute import (
    AgedStock,
    SupplyDays,
    aged_surcharge_forecast,
    low_inventory_risk,
    next_assessment,
    utilization_ratio,
)

US = load_rates("US")
US_2025 = load_rates("US", on=date(2025, 5, 15))  # the 2024 section: "366+" at 0.15 a unit

# -- storage utilization ratio ------------------------------------------------------------


def test_utilization_is_weeks_of_supply_over_the_trailing_13_weeks() -> None:
    # 700 cu ft on hand a day / 10 cu ft shipped a day = 70 days of supply = 10 weeks.
    # The 9 older days (huge on hand) are outside the 91-day window: ignored.
    on_hand = [99_999.0] * 9 + [700.0] * 91
    shipped = [0.0] * 9 + [10.0] * 91
    assert utilization_ratio(on_hand, shipped) == pytest.approx(10.0)


def test_utilization_averages_uneven_days() -> None:
    # on hand: 45 days of 600 and 46 of 800 -> (27,000 + 36,800) / 91 = 63,800 / 91 a day;
    # shipped 13 a day -> 63,800 / 91 / 13 = 53.93 days = 63,800 / (91 * 13 * 7) weeks.
    on_hand = [600.0] * 45 + [800.0] * 46
    shipped = [13.0] * 91
    assert utilization_ratio(on_hand, shipped) == pytest.approx(63_800 / 8_281)  # 7.704


def test_utilization_needs_91_days_and_no_missing_day() -> None:
    assert utilization_ratio([700.0] * 90, [10.0] * 90) is None
    gap: list[float | None] = [700.0] * 91
    gap[50] = None  # a missing day is not a day with nothing on hand
    assert utilization_ratio(gap, [10.0] * 91) is None
    assert utilization_ratio([700.0] * 91, [None] * 91) is None
    old_gap: list[float | None] = [None, *([700.0] * 91)]  # before the window: no matter
    assert utilization_ratio(old_gap, [10.0] * 92) == pytest.approx(10.0)


def test_nothing_shipped_is_the_worst_case_not_missing_data() -> None:
    assert utilization_ratio([700.0] * 91, [0.0] * 91) == math.inf
    assert utilization_ratio([0.0] * 91, [0.0] * 91) is None  # nothing stored, no ratio


# -- aged inventory surcharge --------------------------------------------------------------

SNAP = date(2025, 5, 1)  # 14 days before the assessment of 2025-05-15


def test_next_assessment_is_the_15th_on_or_after() -> None:
    assert next_assessment(date(2026, 5, 1), US) == date(2026, 5, 15)
    assert next_assessment(date(2026, 5, 15), US) == date(2026, 5, 15)
    assert next_assessment(date(2026, 5, 16), US) == date(2026, 6, 15)
    assert next_assessment(date(2026, 12, 31), US) == date(2027, 1, 15)


A = AgedStock("A", SNAP, 0.5, {(0, 90): 40.0, (91, 180): 90.0, (181, 270): 90.0,
                               (366, None): 10.0})
B = AgedStock("B", SNAP, 0.01, {(366, None): 100.0})


def test_aged_surcharge_golden() -> None:
    # Aged 14 days, units spread evenly over each bucket's days:
    #   A 0-90 -> 14-104: under 181, not charged.
    #   A 91-180 -> 105-194 (90 days): 181-194 = 14 days in 181-210 -> 90 * 14/90 = 14 units.
    #   A 181-270 -> 195-284 (90 days): 195-210 = 16 days -> 16 units in 181-210;
    #     211-240: 30; 241-270: 30; 271-284 = 14 days -> 14 units in 271-300.
    #   A 366+ -> 380+: 10 units in 366+.      B 366+ -> 380+: 100 units in 366+.
    # A at 0.5 cu ft a unit: 181-210 30 * 0.5 * 0.50 = 7.50; 211-240 30 * 0.5 * 1.00 = 15.00;
    #   241-270 30 * 0.5 * 1.50 = 22.50; 271-300 14 * 0.5 * 5.45 = 38.15;
    #   366+ max(10 * 0.5 * 6.90 = 34.50, 10 * 0.15 = 1.50) = 34.50 -> 117.65 (2025 rates).
    # B at 0.01 cu ft: max(100 * 0.01 * 6.90 = 6.90, 100 * 0.15 = 15.00) = 15.00 (per unit).
    f = aged_surcharge_forecast([B, A], date(2025, 5, 15), US_2025)
    tiers = {t.tier: (t.units, t.cuft, t.charge) for t in f.tiers}
    assert tiers["181-210"] == pytest.approx((30, 15.0, 7.50))
    assert tiers["211-240"] == pytest.approx((30, 15.0, 15.00))
    assert tiers["241-270"] == pytest.approx((30, 15.0, 22.50))
    assert tiers["271-300"] == pytest.approx((14, 7.0, 38.15))
    assert tiers["301-330"] == (0, 0, 0) and tiers["331-365"] == (0, 0, 0)
    assert tiers["366+"] == pytest.approx((110, 6.0, 49.50))  # 5 + 1 cu ft; 34.50 + 15.00
    assert [(s.sku, s.charge) for s in f.skus] == [("A", pytest.approx(117.65)),
                                                  ("B", pytest.approx(15.00))]
    assert f.skus[0].units == pytest.approx(114)  # 30 + 30 + 30 + 14 + 10
    assert f.total == pytest.approx(132.65) and f.missing == ()


def test_a_missing_volume_or_count_makes_a_charge_unknown_not_zero() -> None:
    c = AgedStock("C", SNAP, None, {(181, 270): 90.0})  # no volume, units charged
    d = AgedStock("D", SNAP, None, {(0, 90): 50.0})  # no volume, nothing old: 0 for sure
    e = AgedStock("E", SNAP, 1.0, {(181, 270): None})  # a count missing
    f = aged_surcharge_forecast([c, A, e, d], date(2025, 5, 15), US_2025)
    assert [(s.sku, s.charge) for s in f.skus] == [("A", pytest.approx(117.65)), ("D", 0.0),
                                                  ("C", None), ("E", None)]
    assert f.missing == ("C", "E")
    assert f.total is None and f.total_known == pytest.approx(117.65)
    t = {t.tier: t for t in f.tiers}
    # C's 16 units in 181-210 count (its units are known), its cubic feet are not.
    assert (t["181-210"].units, t["181-210"].cuft, t["181-210"].charge) == (
        pytest.approx(46), None, None)
    assert t["366+"].charge == pytest.approx(34.50)  # only A there: still known


def test_a_snapshot_after_the_assessment_is_refused() -> None:
    with pytest.raises(ValueError, match="after the assessment day"):
        aged_surcharge_forecast([A], date(2025, 4, 15), US_2025)


# -- low-inventory-level fee ---------------------------------------------------------------

ROWS = [SupplyDays("one-ok", 10, 30), SupplyDays("low", 10, 20),
        SupplyDays("edge", 28, 5),  # 28 is not under 28
        SupplyDays("exempt", 5, 5, exempt=True), SupplyDays("no-data", None, 10),
        SupplyDays("half", None, 40)]  # the known view clears it: the fee needs both


def test_low_inventory_needs_both_views_under_the_floor() -> None:
    got = [(r.sku, r.at_risk, r.reason) for r in low_inventory_risk(ROWS, US)]
    assert got == [("low", True, "both views under 28 days"),
                   ("no-data", None, "no data"),
                   ("one-ok", False, "days of supply at or over 28"),
                   ("edge", False, "days of supply at or over 28"),
                   ("exempt", False, "exempt"),
                   ("half", False, "days of supply at or over 28")]


def test_low_inventory_floor_can_be_overridden() -> None:
    rates = load_rates("US", {"low_inventory": {"floor_days": 30}})
    risk = {r.sku: r.at_risk for r in low_inventory_risk(ROWS, rates)}
    # one-ok: 30 is not under 30; edge: 28 and 5 are both under 30 now.
    assert (risk["one-ok"], risk["edge"], risk["low"]) == (False, True, True)
