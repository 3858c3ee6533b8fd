"""The fees in money, at the rates in force on the day, worked out by hand in comments:
the aged surcharge at 2025 and 2026 rates (per-unit wins in the 456+ tier; apparel is
not charged in 181-270 days), the storage utilization surcharge and the
low-inventory-level fee (a range where the size tier or weight is unknown), and the fee
calendar."""

from __future__ import annotations

from datetime import date

import pytest

from ipi.fees import load_rates
from ipi.fees.compute import (
    AgedStock,
    SkuSupply,
    SkuVolume,
    Span,
    Supply,
    aged_surcharge_forecast,
    fee_calendar,
    low_inventory_fee,
    total_of,
    utilization_surcharge,
    zone,
)

DEC_15 = date(2026, 12, 15)
MAY_15_2025 = date(2025, 5, 15)
R2026 = load_rates("US", on=DEC_15)
R2025 = load_rates("US", on=MAY_15_2025)


def _charge(stock: AgedStock, day: date, rates=R2026) -> float | None:
    [sku] = aged_surcharge_forecast([stock], day, rates).skus
    return sku.charge


def test_456_plus_per_unit_wins_at_2026_rates() -> None:
    """A lamp finial of 0.02 cu ft, 20 units in 366-455 and 40 in 456+ on the day:
    366-455: max(20 x 0.02 x 6.90 = 2.76, 20 x 0.30 = 6.00) = 6.00;
    456+:    max(40 x 0.02 x 7.90 = 6.32, 40 x 0.35 = 14.00) = 14.00; 20.00 in all."""
    lamp = AgedStock("LAMP", DEC_15, 0.02, {(366, 455): 20.0, (456, None): 40.0}, "Home")
    assert _charge(lamp, DEC_15) == pytest.approx(20.00)


def test_the_same_units_at_2025_rates() -> None:
    """2025 (the 2024 section): the 60 units are all "366+": max(60 x 0.02 x 6.90 = 8.28,
    60 x 0.15 = 9.00) = 9.00, per unit."""
    lamp = AgedStock("LAMP", MAY_15_2025, 0.02, {(366, None): 60.0}, "Home")
    assert _charge(lamp, MAY_15_2025, R2025) == pytest.approx(9.00)


def test_a_big_unit_pays_by_volume_in_456_plus() -> None:
    """2 cu ft, 10 units in 456+: max(10 x 2 x 7.90 = 158.00, 10 x 0.35 = 3.50) = 158.00."""
    box = AgedStock("BOX", DEC_15, 2.0, {(456, None): 10.0})
    assert _charge(box, DEC_15) == pytest.approx(158.00)


def test_apparel_is_not_charged_in_181_to_270_days() -> None:
    """90 units spread over 181-270 days (30 in each tier) at 0.28 cu ft: a mug pays
    30 x 0.28 x (0.50 + 1.00 + 1.50) = 25.20; a hoodie (product group Apparel) pays 0,
    and its 90 units are counted as exempt, not charged."""
    buckets = {(181, 270): 90.0}
    assert _charge(AgedStock("MUG", DEC_15, 0.28, buckets, "Kitchen"), DEC_15) == (
        pytest.approx(25.20))
    [hoodie] = aged_surcharge_forecast(
        [AgedStock("HOODIE", DEC_15, 0.28, buckets, "Apparel")], DEC_15, R2026).skus
    assert (hoodie.charge, hoodie.units, hoodie.exempt_units) == (0.0, 0.0, pytest.approx(90))


def test_apparel_past_270_days_is_charged() -> None:
    """The hoodie's 30 units of 271-300 days: 30 x 0.28 x 5.45 = 45.78; the storage type
    stands in for a missing product group."""
    hoodie = AgedStock("HOODIE", DEC_15, 0.28, {(181, 210): 30.0, (271, 300): 30.0}, "apparel")
    assert _charge(hoodie, DEC_15) == pytest.approx(45.78)


def test_sales_take_the_oldest_units_first() -> None:
    """20 units in 456+ and 40 in 366-455 at 0.02 cu ft, 30 expected to sell: the 20 oldest
    and 10 of the 366-455 go; 30 left in 366-455: max(30 x 0.02 x 6.90 = 4.14, 9.00) = 9.00."""
    lamp = AgedStock("LAMP", DEC_15, 0.02, {(366, 455): 40.0, (456, None): 20.0})
    [sku] = aged_surcharge_forecast([lamp], DEC_15, R2026, sold={"LAMP": 30}).skus
    assert sku.charge == pytest.approx(9.00) and sku.units == pytest.approx(30)


# -- the storage utilization surcharge ------------------------------------------------------


def test_utilization_surcharge_by_size_with_a_range_for_an_unknown_one() -> None:
    """Ratio 30 weeks (over 28: 0.76 standard, 0.46 large bulky) over 15 days (half of 30):
    standard 40 cu ft x 0.76 x 0.5 = 15.20; oversize 10 x 0.46 x 0.5 = 2.30; unknown storage
    type 20 cu ft: 20 x 0.5 x [0.46, 0.76] = 4.60 to 7.60. Total 22.10 to 25.10."""
    rows = [SkuVolume("STD", 40.0, "Standard"), SkuVolume("BIG", 10.0, "Oversize"),
            SkuVolume("ODD", 20.0, None)]
    fees, total, note = utilization_surcharge(30.0, rows, R2026, days=15)
    got = {f.sku: (round(f.amount.low, 2), round(f.amount.high, 2)) for f in fees if f.amount}
    assert got == {"STD": (15.20, 15.20), "BIG": (2.30, 2.30), "ODD": (4.60, 7.60)}
    assert total is not None and (total.low, total.high) == pytest.approx((22.10, 25.10))
    assert note == "ratio 30.0 weeks, over 22"


def test_utilization_at_or_under_the_threshold_or_small_sellers_pay_nothing() -> None:
    rows = [SkuVolume("STD", 40.0, "Standard")]
    assert utilization_surcharge(22.0, rows, R2026, 30)[1] == Span(0, 0)
    small = [SkuVolume("STD", 24.0, "Standard")]  # under 25 cu ft of average daily volume
    _, total, note = utilization_surcharge(60.0, small, R2026, 30)
    assert total == Span(0, 0) and "under 25 cu ft" in note
    # Over 52 weeks: 1.88 a cu ft for a month: 40 x 1.88 = 75.20.
    assert utilization_surcharge(60.0, rows, R2026, 30)[1] == Span(pytest.approx(75.2),
                                                                  pytest.approx(75.2))


def test_utilization_surcharge_at_2025_rates() -> None:
    """2025 (the 2024 section): ratio 45 weeks, over 44: 1.58 standard, 0.76 large bulky,
    a whole month: 40 x 1.58 + 10 x 0.76 = 63.20 + 7.60 = 70.80."""
    rows = [SkuVolume("STD", 40.0, "Standard"), SkuVolume("BIG", 10.0, "large bulky")]
    _, total, _ = utilization_surcharge(45.0, rows, R2025, days=30)
    assert total is not None and total.exact and total.high == pytest.approx(70.80)


def test_a_sku_without_a_volume_makes_the_surcharge_unknown_not_zero() -> None:
    fees, total, _ = utilization_surcharge(
        30.0, [SkuVolume("A", 40.0, "Standard"), SkuVolume("B", None, "Standard")], R2026, 30)
    assert total is None and [f.sku for f in fees if f.amount is None] == ["B"]


# -- the low-inventory-level fee --------------------------------------------------------------


def _supply(sku: str, short: float | None, long: float | None, *, t7: float = 30,
            t30: float = 90, kind: str | None = "Standard", cuft: float | None = 0.05,
            exempt: bool = False) -> SkuSupply:
    return SkuSupply(sku, short, long, t7, t30, exempt, kind, cuft)


def test_low_inventory_fee_by_band_and_size() -> None:
    """30 days at 90 units a month: 90 units shipped.
    - SMALL (0.05 cu ft, fits small standard), views 10 and 12: the greater, 12, is under 14:
      90 x [0.89, 1.11] (small, or large standard of any weight) = 80.10 to 99.90;
    - LARGE (0.2 cu ft: not small standard), views 15 and 20: band 14-21:
      90 x [0.70, 0.87] = 63.00 to 78.30;
    - OK (30 days on one view): nothing; FEW (12 sold in 7 days, under 20): exempt;
    - BULKY (Oversize): bulky sizes are charged since 2026 but ipi holds no rate: unknown."""
    rows = [_supply("SMALL", 10, 12), _supply("LARGE", 15, 20, cuft=0.2),
            _supply("OK", 10, 30), _supply("FEW", 5, 5, t7=12),
            _supply("BULKY", 5, 5, kind="Oversize"), _supply("FLAG", 5, 5, exempt=True)]
    fees = low_inventory_fee(rows, R2026, days=30)
    got = {f.sku: None if f.amount is None else (round(f.amount.low, 2),
                                                  round(f.amount.high, 2)) for f in fees}
    assert got == {"SMALL": (80.10, 99.90), "LARGE": (63.00, 78.30), "BULKY": None}
    assert total_of(fees) is None  # one unknown: the total is unknown, never a smaller sum
    assert total_of(fees[:2]) == Span(pytest.approx(143.10), pytest.approx(178.20))


def test_a_missing_view_makes_the_fee_a_range_from_nothing() -> None:
    """Only the short-term view, 10 days: the fee applies if the long-term one is under 28
    too, else not: 0 to 90 x 1.11 = 99.90 (0.05 cu ft: any size tier)."""
    [fee] = low_inventory_fee([_supply("HALF", 10, None)], R2026, days=30)
    assert fee.amount is not None
    assert (fee.amount.low, round(fee.amount.high, 2)) == (0.0, 99.90)
    assert "one view missing" in fee.note
    [none] = low_inventory_fee([_supply("NONE", None, None)], R2026, days=30)
    assert none.amount is None


def test_low_inventory_fee_2025_band_21_to_28() -> None:
    """2025 rates, views 22 and 25 (band 21-28), 45 units over 15 days at 90 a month:
    45 x [0.36, 0.47] (large standard, 0.3 cu ft) = 16.20 to 21.15."""
    [fee] = low_inventory_fee([_supply("X", 22, 25, cuft=0.3)], R2025, days=15)
    assert fee.amount is not None
    assert (round(fee.amount.low, 2), round(fee.amount.high, 2)) == (16.20, 21.15)


# -- the fee calendar -----------------------------------------------------------------------


def test_the_fee_calendar_says_what_the_15th_costs_and_what_avoids_it() -> None:
    """Snapshot 2026-11-20, assessment 2026-12-15 (25 days later).
    LAMP (0.02 cu ft): 30 units in 456+ stay there: max(30 x 0.02 x 7.90 = 4.74, 10.50) =
    10.50 if nothing sells; it sells 6 a month: 5 by the 15th, from the oldest: 25 x 0.35 =
    8.75; sell or remove 25 more to pay nothing. Days of supply 150: safe.
    MUG (0.1 cu ft): 30 units 151-180 days old become 176-205, spread evenly: 181-205 is 25
    of those 30 days -> 25 units in 181-210: 25 x 0.1 x 0.50 = 1.25; it sells 60 a month:
    50 by then, more than its 30 old units: 0 at pace.
    Days of supply 400: ageing into the surcharge.
    NEW: no aged units, 10 days of supply: low-inventory risk, nothing charged."""
    snap = date(2026, 11, 20)
    stock = [AgedStock("LAMP", snap, 0.02, {(456, None): 30.0}),
             AgedStock("MUG", snap, 0.1, {(151, 180): 30.0}),
             AgedStock("NEW", snap, 0.1, {})]
    supply = {"LAMP": Supply(150, 6), "MUG": Supply(400, 60), "NEW": Supply(10, 90)}
    rows = {r.sku: r for r in fee_calendar(stock, supply, DEC_15, R2026)}
    lamp, mug, new = rows["LAMP"], rows["MUG"], rows["NEW"]
    assert (lamp.tier, lamp.charge, lamp.expected_sales) == ("456+", pytest.approx(10.50),
                                                            pytest.approx(5))
    assert (lamp.charge_at_pace, lamp.to_act, lamp.zone) == (pytest.approx(8.75),
                                                             pytest.approx(25), "safe")
    assert (mug.tier, mug.units, mug.charge) == ("181-210", pytest.approx(25),
                                                 pytest.approx(1.25))
    assert (mug.charge_at_pace, mug.to_act, mug.zone) == (0.0, 0.0,
                                                          "ageing into the surcharge")
    assert (new.tier, new.charge, new.zone) == (None, 0.0, "low-inventory risk")
    # The most to pay at pace first; then outside the safe zone, by SKU.
    assert [r.sku for r in fee_calendar(stock, supply, DEC_15, R2026)] == ["LAMP", "MUG", "NEW"]


def test_the_fee_calendar_reads_the_same_with_the_forecast_already_worked_out() -> None:
    """The exposure hands the calendar its forecast if nothing sells (of the SKUs with
    aged units): the rows are the same as the calendar working it out alone; one for
    another assessment day is not taken. A SKU without a pace has nothing at pace."""
    snap = date(2026, 11, 20)
    stock = [AgedStock("LAMP", snap, 0.02, {(456, None): 30.0}),
             AgedStock("MUG", snap, 0.1, {(151, 180): 30.0}),
             AgedStock("ODD", snap, None, {(91, 180): 4.0, (181, 270): None}),
             AgedStock("NEW", snap, 0.1, {})]
    supply = {"LAMP": Supply(150, 6), "MUG": Supply(400, 60), "NEW": Supply(10, 90),
              "ODD": Supply(None, None)}
    alone = fee_calendar(stock, supply, DEC_15, R2026)
    idle = aged_surcharge_forecast(stock[:2], DEC_15, R2026)
    assert fee_calendar(stock, supply, DEC_15, R2026, idle=idle) == alone
    elsewhere = aged_surcharge_forecast(stock, date(2027, 1, 15), R2026)
    assert fee_calendar(stock, supply, DEC_15, R2026, idle=elsewhere) == alone
    odd = next(r for r in alone if r.sku == "ODD")
    assert (odd.charge, odd.charge_at_pace, odd.to_act) == (None, None, None)


def test_the_safe_zone_lies_between_the_floor_and_the_first_aged_tier() -> None:
    assert [zone(d, R2026) for d in (None, 27.9, 28, 180, 181)] == [
        "unknown", "low-inventory risk", "safe", "safe", "ageing into the surcharge"]
