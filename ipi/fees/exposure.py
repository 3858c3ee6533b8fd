"""The fees a marketplace's stock is exposed to, from the stored planning reports: the
inputs ``ipi.fees.compute`` needs, read with their SQL, and Amazon's own figures beside.

- **Aged inventory surcharge**: the newest day's age buckets (from 91 days: younger
  units cannot reach 181 before the next assessment) aged to the next assessment day.
- **Storage utilization ratio**: the average daily on-hand volume over the 91 days to
  the newest day (every one of them stored, else no ratio) over the newest report's
  shipped volume (``units-shipped-t90`` x one unit's volume, a day's average). Units aged
  0-30 days are left out where the report has that bucket; where it has not, the ratio
  includes them, reads high, and says so.
- **Low-inventory-level fee**: each SKU's historical days of supply (``short-term-`` and
  ``long-term-historical-days-of-supply``; a lone ``historical-days-of-supply`` is taken
  as the short-term view) and Amazon's exemption, with Amazon's own verdict beside.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import duckdb

from ipi.capacity.usage import cubic_feet_factor
from ipi.fees import Rates
from ipi.fees.compute import (
    WINDOW_DAYS,
    AgedForecast,
    AgedStock,
    LowInventory,
    SupplyDays,
    aged_surcharge_forecast,
    low_inventory_risk,
    next_assessment,
    utilization_weeks,
)
from ipi.reports.get_fba_inventory_planning_data import AIS_TIERS

_AIS = [f"estimated_ais_{a}_{b}_days" for a, b in AIS_TIERS] + ["estimated_ais_456_plus_days"]
# One unit's volume in cubic feet: item-volume, else storage-volume over the units on hand.
_UNIT_CUFT = (f"coalesce(item_volume, storage_volume / nullif(coalesce(available, 0) "
              f"+ coalesce(reserved_quantity, 0) + coalesce(unfulfillable_quantity, 0), 0)) "
              f"* ({cubic_feet_factor('volume_unit_measurement')})")


def newest_day(con: duckdb.DuckDBPyConnection, account: str, marketplace: str,
               day: date | None) -> date | None:
    """The marketplace's newest planning day on or before ``day`` (None: the newest)."""
    row = con.execute(
        "SELECT max(snapshot_date) FROM fba_inventory_planning WHERE account = ? "
        "AND marketplace = ? AND (? IS NULL OR snapshot_date <= ?)",
        [account, marketplace, day, day]).fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class AgedView:
    forecast: AgedForecast
    amazon_total: float | None  # Amazon's estimated-ais-* summed (None: not in the report)
    amazon_by_sku: dict[str, float]


def aged(con: duckdb.DuckDBPyConnection, account: str, marketplace: str, on: date,
         rates: Rates) -> AgedView:
    """The surcharge forecast at the next assessment from ``on``'s age buckets."""
    cur = con.execute(
        f"SELECT sku, {_UNIT_CUFT} AS cuft, inv_age_91_to_180_days, inv_age_181_to_270_days, "
        "inv_age_271_to_365_days, inv_age_365_plus_days, inv_age_366_to_455_days, "
        f"inv_age_456_plus_days, {', '.join(_AIS)} FROM fba_inventory_planning "
        "WHERE account = ? AND marketplace = ? AND snapshot_date = ? ORDER BY sku",
        [account, marketplace, on])
    stock, amazon, seen = [], {}, False
    for r in cur.fetchall():
        sku, cuft, b91, b181, b271, b365, b366, b456 = r[:8]
        buckets: dict[tuple[int, int | None], float | None] = {
            (91, 180): b91, (181, 270): b181, (271, 365): b271}
        if b366 is not None or b456 is not None:  # the 2026 layout splits 365-plus
            buckets.update({(366, 455): b366, (456, None): b456})
        else:
            buckets[(366, None)] = b365
        stock.append(AgedStock(sku, on, cuft, buckets))
        ais = [v for v in r[8:] if v is not None]
        if ais:
            seen = True
            amazon[sku] = sum(ais)
    forecast = aged_surcharge_forecast(stock, next_assessment(on, rates), rates)
    return AgedView(forecast, sum(amazon.values()) if seen else None, amazon)


@dataclass(frozen=True)
class Utilization:
    ratio: float | None  # weeks; None: not enough stored days or no shipped volume known
    threshold_weeks: float
    days: int  # days of on-hand volume stored in the 91
    includes_newest: bool  # units aged 0-30 days could not be left out
    note: str


def utilization(con: duckdb.DuckDBPyConnection, account: str, marketplace: str, on: date,
                rates: Rates) -> Utilization:
    """The storage utilization ratio on ``on`` (see the module's note)."""
    first = on - timedelta(days=WINDOW_DAYS - 1)
    row = con.execute(
        f"""WITH p AS (
            SELECT snapshot_date AS d, {_UNIT_CUFT} AS cuft, storage_volume
                * ({cubic_feet_factor('volume_unit_measurement')}) AS stored,
                inv_age_0_to_30_days AS young, units_shipped_t90 AS t90
            FROM fba_inventory_planning
            WHERE account = ? AND marketplace = ? AND snapshot_date BETWEEN ? AND ?
        ), days AS (
            SELECT d, sum(coalesce(stored, 0) - coalesce(young * cuft, 0)) AS held,
                bool_and(young IS NOT NULL) AS has_young,
                count(*) FILTER (WHERE stored IS NULL AND cuft IS NULL) AS unknown
            FROM p GROUP BY d
        )
        SELECT (SELECT count(*) FROM days), (SELECT avg(held) FROM days),
            (SELECT bool_and(has_young) FROM days), (SELECT sum(unknown) FROM days),
            (SELECT sum(t90 * cuft) / 90 FROM p WHERE d = ?),
            (SELECT count(*) FILTER (WHERE t90 > 0 AND cuft IS NULL) FROM p WHERE d = ?)""",
        [account, marketplace, first, on, on, on]).fetchone()
    assert row is not None
    days, held, has_young, unknown, shipped, ship_unknown = row
    threshold = rates.utilization_threshold_weeks
    includes = not has_young
    if days < WINDOW_DAYS:
        return Utilization(None, threshold, days, includes,
                           f"no data: {days} of the 91 days of on-hand volume stored")
    if unknown or ship_unknown or shipped is None:
        return Utilization(None, threshold, days, includes,
                           "no data: SKUs without a volume in the planning report")
    ratio = utilization_weeks(float(held), float(shipped))
    note = ("includes units aged 0-30 days (the report has no 0-30 bucket): reads high"
            if includes else "")
    return Utilization(ratio, threshold, days, includes, note)


@dataclass(frozen=True)
class LowView:
    risks: list[LowInventory]
    amazon_applied: list[str]  # SKUs Amazon says the fee applied to this week


def low_inventory(con: duckdb.DuckDBPyConnection, account: str, marketplace: str, on: date,
                  rates: Rates) -> LowView:
    """Each SKU's low-inventory-level fee risk on ``on``, with Amazon's own verdict."""
    rows = con.execute(
        "SELECT sku, coalesce(short_term_historical_days_of_supply, "
        "historical_days_of_supply), long_term_historical_days_of_supply, "
        "lower(trim(exempted_from_low_inventory_level_fee)) IN ('yes', 'y', 'true'), "
        "lower(trim(low_inventory_level_fee_applied)) IN ('yes', 'y', 'true') "
        "FROM fba_inventory_planning WHERE account = ? AND marketplace = ? "
        "AND snapshot_date = ? ORDER BY sku", [account, marketplace, on]).fetchall()
    risks = low_inventory_risk([SupplyDays(s, short, long, bool(ex))
                                for s, short, long, ex, _ in rows], rates)
    return LowView(risks, [r[0] for r in rows if r[4]])


def exposure(con: duckdb.DuckDBPyConnection, account: str, marketplace: str,
             day: date | None, rates: Rates, top: int = 10) -> dict[str, Any] | None:
    """The marketplace's fee exposure on its newest planning day on or before ``day``, as
    plain values (None: no planning report)."""
    on = newest_day(con, account, marketplace, day)
    if on is None:
        return None
    a = aged(con, account, marketplace, on, rates)
    u = utilization(con, account, marketplace, on, rates)
    low = low_inventory(con, account, marketplace, on, rates)
    f = a.forecast
    at_risk = [r for r in low.risks if r.at_risk]
    return {
        "marketplace": marketplace, "date": on, "currency": rates.currency,
        "aged": {
            "assessment_day": f.assessment_day, "total": f.total,
            "total_known": f.total_known, "skus_unknown": list(f.missing),
            "amazon_total": a.amazon_total,
            "tiers": [{"tier": t.tier, "units": t.units, "cuft": t.cuft, "charge": t.charge}
                      for t in f.tiers if t.units],
            "skus": [{"sku": s.sku, "units": s.units, "charge": s.charge,
                      "amazon": a.amazon_by_sku.get(s.sku)}
                     for s in f.skus if s.units or s.charge is None][:top],
        },
        "utilization": {"ratio": u.ratio, "threshold_weeks": u.threshold_weeks,
                        "over": None if u.ratio is None else u.ratio > u.threshold_weeks,
                        "days": u.days, "note": u.note},
        "low_inventory": {
            "floor_days": rates.low_inventory_floor_days, "at_risk": len(at_risk),
            "unknown": sum(r.at_risk is None for r in low.risks),
            "skus": [{"sku": r.sku, "reason": r.reason} for r in at_risk][:top],
            "amazon_applied": low.amazon_applied[:top],
            "amazon_applied_count": len(low.amazon_applied)},
        "rates": {"aged": f"{rates.aged_source}, effective {rates.aged_effective}",
                  "utilization": f"{rates.utilization_source}, effective "
                                 f"{rates.utilization_effective}",
                  "low_inventory": f"{rates.low_inventory_source}, effective "
                                   f"{rates.low_inventory_effective}"},
    }
