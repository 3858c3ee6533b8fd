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

Every figure in money is over one window, from the planning day to the next assessment
(the 15th), at the rates in force on that assessment (``rates_on``): the window Amazon's
own forecast (``ipi.fees.amazon``) is fetched for, so the two stand side by side, and
Amazon's leads where it exists (``compare``). ``calendar`` gives each SKU's next
assessment: what it costs, and what avoids it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

from ipi.capacity.usage import cubic_feet_factor
from ipi.fees import Rates
from ipi.fees.amazon import FEE_TYPES, AmazonForecast, amazon_forecast
from ipi.fees.compute import (
    WINDOW_DAYS,
    AgedForecast,
    AgedStock,
    CalendarRow,
    LowInventory,
    SkuFee,
    SkuSupply,
    SkuVolume,
    Span,
    Supply,
    SupplyDays,
    TierCharge,
    aged_surcharge_forecast,
    fee_calendar,
    low_inventory_fee,
    low_inventory_risk,
    next_assessment,
    total_of,
    utilization_surcharge,
    utilization_weeks,
)
from ipi.reports import get_fba_inventory_planning_data as planning
from ipi.reports.get_fba_inventory_planning_data import AIS_TIERS

_AIS = [f"estimated_ais_{a}_{b}_days" for a, b in AIS_TIERS] + ["estimated_ais_456_plus_days"]
# One unit's volume in cubic feet: item-volume, else storage-volume over the units on hand.
_ON_HAND = planning.SPEC.on_hand
_UNIT_CUFT = (f"coalesce(item_volume, storage_volume / nullif({_ON_HAND}, 0)) "
              f"* ({cubic_feet_factor('volume_unit_measurement')})")


def newest_day(con: duckdb.DuckDBPyConnection, account: str, marketplace: str,
               day: date | None) -> date | None:
    """The marketplace's newest planning day on or before ``day`` (None: the newest)."""
    row = con.execute(
        "SELECT max(snapshot_date) FROM fba_inventory_planning WHERE account = $account "
        "AND marketplace = $marketplace AND ($day IS NULL OR snapshot_date <= $day)",
        {"account": account, "marketplace": marketplace, "day": day}).fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class AgedView:
    forecast: AgedForecast
    amazon_total: float | None  # Amazon's estimated-ais-* summed (None: not in the report)
    amazon_by_sku: dict[str, float]
    stock: list[AgedStock]


def _stock(con: duckdb.DuckDBPyConnection, account: str, marketplace: str,
           on: date) -> tuple[list[AgedStock], dict[str, float], bool]:
    """``on``'s age buckets from 91 days per SKU, and Amazon's estimated-ais-* per SKU."""
    cur = con.execute(
        f"SELECT sku, {_UNIT_CUFT} AS cuft, coalesce(product_group, storage_type), "
        "inv_age_91_to_180_days, inv_age_181_to_270_days, inv_age_271_to_365_days, "
        "inv_age_365_plus_days, inv_age_366_to_455_days, inv_age_456_plus_days, "
        f"{', '.join(_AIS)} FROM fba_inventory_planning "
        "WHERE account = $account AND marketplace = $marketplace AND snapshot_date = $on "
        "ORDER BY sku",
        {"account": account, "marketplace": marketplace, "on": on})
    stock, amazon, seen = [], {}, False
    for r in cur.fetchall():
        sku, cuft, group, b91, b181, b271, b365, b366, b456 = r[:9]
        buckets: dict[tuple[int, int | None], float | None] = {
            (91, 180): b91, (181, 270): b181, (271, 365): b271}
        if b366 is not None or b456 is not None:  # the 2026 layout splits 365-plus
            buckets.update({(366, 455): b366, (456, None): b456})
        else:
            buckets[(366, None)] = b365
        stock.append(AgedStock(sku, on, cuft, buckets, group))
        ais = [v for v in r[9:] if v is not None]
        if ais:
            seen = True
            amazon[sku] = sum(ais)
    return stock, amazon, seen


def aged(con: duckdb.DuckDBPyConnection, account: str, marketplace: str, on: date,
         rates: Rates) -> AgedView:
    """The surcharge forecast at the next assessment from ``on``'s age buckets, at the
    ``rates`` in force on that assessment day."""
    stock, amazon, seen = _stock(con, account, marketplace, on)
    forecast = aged_surcharge_forecast(stock, next_assessment(on, rates), rates)
    return AgedView(forecast, sum(amazon.values()) if seen else None, amazon, stock)


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
            WHERE account = $account AND marketplace = $marketplace
                AND snapshot_date BETWEEN $first AND $on
        ), days AS (
            SELECT d, sum(coalesce(stored, 0) - coalesce(young * cuft, 0)) AS held,
                bool_and(young IS NOT NULL) AS has_young,
                count(*) FILTER (WHERE stored IS NULL AND cuft IS NULL) AS unknown
            FROM p GROUP BY d
        )
        SELECT (SELECT count(*) FROM days), (SELECT avg(held) FROM days),
            (SELECT bool_and(has_young) FROM days), (SELECT sum(unknown) FROM days),
            (SELECT sum(t90 * cuft) / 90 FROM p WHERE d = $on),
            (SELECT count(*) FILTER (WHERE t90 > 0 AND cuft IS NULL) FROM p WHERE d = $on)""",
        {"account": account, "marketplace": marketplace, "first": first, "on": on}).fetchone()
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
        "FROM fba_inventory_planning WHERE account = $account AND marketplace = $marketplace "
        "AND snapshot_date = $on ORDER BY sku",
        {"account": account, "marketplace": marketplace, "on": on}).fetchall()
    risks = low_inventory_risk([SupplyDays(s, short, long, bool(ex))
                                for s, short, long, ex, _ in rows], rates)
    return LowView(risks, [r[0] for r in rows if r[4]])


@dataclass(frozen=True)
class SkuRow:
    """What the money forecasts need of one SKU on a planning day."""

    volume: SkuVolume
    supply: SkuSupply
    days_of_supply: float | None


def sku_rows(con: duckdb.DuckDBPyConnection, account: str, marketplace: str,
             on: date) -> list[SkuRow]:
    """Each SKU's volume, storage type, days of supply and pace on ``on``."""
    factor = cubic_feet_factor("volume_unit_measurement")
    rows = con.execute(
        f"""SELECT sku, storage_type, {_UNIT_CUFT} AS unit,
            coalesce(storage_volume * ({factor}), {_UNIT_CUFT} * ({_ON_HAND})) AS stored,
            coalesce(short_term_historical_days_of_supply, historical_days_of_supply),
            long_term_historical_days_of_supply, units_shipped_t7, units_shipped_t30,
            lower(trim(exempted_from_low_inventory_level_fee)) IN ('yes', 'y', 'true'),
            coalesce(days_of_supply, CASE WHEN units_shipped_t30 > 0
                THEN ({_ON_HAND}) / (units_shipped_t30 / 30) END)
        FROM fba_inventory_planning WHERE account = $account AND marketplace = $marketplace
            AND snapshot_date = $on ORDER BY sku""",
        {"account": account, "marketplace": marketplace, "on": on}).fetchall()
    return [SkuRow(SkuVolume(sku, stored, kind),
                   SkuSupply(sku, short, long, t7, t30, bool(ex), kind, unit), days)
            for sku, kind, unit, stored, short, long, t7, t30, ex, days in rows]


def calendar(con: duckdb.DuckDBPyConnection, account: str, marketplace: str,
             day: date | None, rates_on: Callable[[date], Rates]) -> list[CalendarRow] | None:
    """The per-SKU fee calendar for the next assessment after the newest planning day on or
    before ``day`` (None: no planning report)."""
    on = newest_day(con, account, marketplace, day)
    if on is None:
        return None
    stock, _, _ = _stock(con, account, marketplace, on)
    return _calendar(on, stock, sku_rows(con, account, marketplace, on), rates_on)


def _calendar(on: date, stock: list[AgedStock], skus: list[SkuRow],
              rates_on: Callable[[date], Rates],
              idle: AgedForecast | None = None) -> list[CalendarRow]:
    """``calendar`` from the planning day's rows already read (``idle``: their forecast
    if nothing sells, already worked out)."""
    due = next_assessment(on, rates_on(on))
    have = {s.sku for s in stock}
    supply = {r.volume.sku: Supply(r.days_of_supply, r.supply.shipped_30) for r in skus}
    # SKUs without aged buckets still have a zone to show.
    rows = stock + [AgedStock(sku, on, None, {}) for sku in supply if sku not in have]
    return fee_calendar(rows, supply, due, rates_on(due), idle=idle)


@dataclass(frozen=True, slots=True)
class FeeRow:
    """A SKU's fee by ipi until the assessment (a range where its size is unknown; None:
    unknown), with Amazon's forecast of it beside."""

    sku: str
    ipi: Span | None
    note: str
    amazon: float | None


def _fee_rows(fees: list[SkuFee], amazon: dict[str, dict[str, float]], kind: str,
              top: int) -> list[FeeRow]:
    return [FeeRow(f.sku, f.amount, f.note, amazon.get(f.sku, {}).get(kind))
            for f in fees][:top]


@dataclass(frozen=True, slots=True)
class Comparison:
    """One fee type until the assessment: ipi's figure, Amazon's, ipi's minus Amazon's,
    and which leads (``headline``: "amazon" or "ipi"); ``note``: what ipi's assumes."""

    fee: str
    ipi: Span | None
    amazon: float | None
    difference: Span | None
    headline: str
    note: str


def compare(ipi: dict[str, Span | None], amazon: AmazonForecast | None,
            notes: dict[str, str]) -> list[Comparison]:
    """Per fee type, Amazon's figure beside ipi's, and which one leads: Amazon's where it
    gave one (its own forecast of its own charge), ipi's otherwise, as the explanation;
    ``notes``: what ipi's figure assumes, per fee type."""
    out = []
    for kind in FEE_TYPES:
        mine = ipi.get(kind)
        theirs = None if amazon is None else amazon.totals.get(kind)
        if amazon is not None and theirs is None:
            theirs = 0.0  # Amazon answered for the window and charged none of this fee
        diff = (None if theirs is None or mine is None
                else Span(mine.low - theirs, mine.high - theirs))
        out.append(Comparison(kind, mine, theirs, diff,
                              "amazon" if theirs is not None else "ipi", notes.get(kind, "")))
    return out


@dataclass(frozen=True, slots=True)
class Window:
    """From the planning day to the next assessment, both counted: what every figure in
    money covers."""

    start: date
    end: date
    days: int


@dataclass(frozen=True, slots=True)
class AgedSku:
    sku: str
    units: float | None  # units in charged tiers on the assessment day
    charge: float | None
    amazon: float | None  # the planning report's estimated-ais-* columns
    amazon_forecast: float | None  # Amazon's forecast for the window


@dataclass(frozen=True, slots=True)
class AgedExposure:
    """The aged inventory surcharge at the next assessment if nothing sells before; a
    total of None with ``skus_unknown``: the SKUs without a volume, ``total_known`` the
    rest's."""

    assessment_day: date
    total: float | None
    total_known: float
    skus_unknown: list[str]
    amazon_total: float | None
    tiers: list[TierCharge]
    skus: list[AgedSku]


@dataclass(frozen=True, slots=True)
class UtilizationExposure:
    """The storage utilization ratio against its threshold (``over`` None: no ratio) and
    the surcharge it brings until the assessment."""

    ratio: float | None
    threshold_weeks: float
    over: bool | None
    days: int
    note: str
    surcharge: Span | None
    surcharge_note: str
    skus: list[FeeRow]

    @property
    def nothing_shipped(self) -> bool:
        return self.ratio == math.inf


@dataclass(frozen=True, slots=True)
class LowRisk:
    sku: str
    reason: str


@dataclass(frozen=True, slots=True)
class LowInventoryExposure:
    """The SKUs at low-inventory-level fee risk (``unknown``: without both views), the
    ones Amazon applied it to, and the fee at their 30-day pace until the assessment."""

    floor_days: float
    at_risk: int
    unknown: int
    skus: list[LowRisk]
    amazon_applied: list[str]
    amazon_applied_count: int
    fee: Span | None
    fee_skus: list[FeeRow]


@dataclass(frozen=True, slots=True)
class Beside:
    """A SKU's fee by Amazon's forecast beside ipi's."""

    sku: str
    fee: str
    ipi: Span | None
    amazon: float


@dataclass(frozen=True, slots=True)
class FeeExposure:
    """A marketplace's fees on its planning day ``date``, until the next assessment
    (``window``), at the rates in force then (``rates``: their period and sources, as
    text), with Amazon's own forecast beside where stored (``amazon``, ``compare``,
    ``beside``), and the SKUs' calendar rows worth a look (a charge, or outside the safe
    zone)."""

    marketplace: str
    date: date
    currency: str
    window: Window
    aged: AgedExposure
    utilization: UtilizationExposure
    low_inventory: LowInventoryExposure
    amazon: AmazonForecast | None
    compare: list[Comparison]
    calendar: list[CalendarRow]
    beside: list[Beside]
    rates: dict[str, str]


def exposure(con: duckdb.DuckDBPyConnection, account: str, marketplace: str,
             day: date | None, rates_on: Callable[[date], Rates],
             top: int = 10) -> FeeExposure | None:
    """The marketplace's fee exposure on its newest planning day on or before ``day``
    (None: no planning report): each fee until the next assessment, in money, at the
    rates in force then, with Amazon's own forecast beside where stored."""
    on = newest_day(con, account, marketplace, day)
    if on is None:
        return None
    due = next_assessment(on, rates_on(on))
    rates = rates_on(due)
    days = (due - on).days + 1
    a = aged(con, account, marketplace, on, rates)
    u = utilization(con, account, marketplace, on, rates)
    low = low_inventory(con, account, marketplace, on, rates)
    skus = sku_rows(con, account, marketplace, on)
    util_fees, util_total, util_note = utilization_surcharge(
        u.ratio, [r.volume for r in skus], rates, days)
    low_fees = low_inventory_fee([r.supply for r in skus], rates, days)
    # The planning snapshot is often dated the day before the run that fetched Amazon's
    # forecast; a preview for another assessment (an earlier cycle's) is not this window's.
    amazon = amazon_forecast(con, account, marketplace, on + timedelta(days=1))
    if amazon is not None and amazon.end != due:
        amazon = None
    by_sku = amazon.by_sku if amazon else {}
    f = a.forecast
    at_risk = [r for r in low.risks if r.at_risk]
    # SKUs without a volume leave the total unknown; what is known is a floor, said so.
    known = f.total if f.total is not None else f.total_known or None
    aged_total = None if known is None else Span(known, known)
    # The calendar from the rows and the forecast read above: not twice.
    cal = _calendar(on, a.stock, skus, rates_on, idle=f)
    return FeeExposure(
        marketplace=marketplace, date=on, currency=rates.currency,
        window=Window(on, due, days),
        aged=AgedExposure(
            f.assessment_day, f.total, f.total_known, list(f.missing), a.amazon_total,
            [t for t in f.tiers if t.units],
            [AgedSku(s.sku, s.units, s.charge, a.amazon_by_sku.get(s.sku),
                     by_sku.get(s.sku, {}).get("aged"))
             for s in f.skus if s.units or s.charge is None][:top]),
        utilization=UtilizationExposure(
            u.ratio, u.threshold_weeks, None if u.ratio is None else u.ratio > u.threshold_weeks,
            u.days, u.note, util_total, util_note,
            _fee_rows(util_fees, by_sku, "utilization", top)),
        low_inventory=LowInventoryExposure(
            rates.low_inventory_floor_days, len(at_risk),
            sum(r.at_risk is None for r in low.risks),
            [LowRisk(r.sku, r.reason) for r in at_risk][:top], low.amazon_applied[:top],
            len(low.amazon_applied), total_of(low_fees),
            _fee_rows(low_fees, by_sku, "low_inventory", top)),
        amazon=amazon,
        compare=compare({"aged": aged_total, "utilization": util_total,
                         "low_inventory": total_of(low_fees)}, amazon,
                        {"aged": "if nothing sells before", "utilization": util_note,
                         "low_inventory": f"{len(low_fees)} SKU(s) charged or unknown "
                                          "at their 30-day pace"}),
        calendar=[r for r in cal if r.charge or r.zone != "safe"][:top],
        beside=beside(f, util_fees, low_fees, amazon, top),
        rates={"period": f"{rates.marketplace} rates in force from {rates.effective}",
               "source": rates.source, "aged": rates.aged_source,
               "utilization": rates.utilization_source,
               "low_inventory": rates.low_inventory_source})


def beside(aged: AgedForecast, utilization: list[SkuFee], low: list[SkuFee],
           amazon: AmazonForecast | None, top: int) -> list[Beside]:
    """Per SKU and fee, Amazon's forecast beside ipi's, the largest first: every SKU either
    charges (empty without Amazon's forecast: the fee tables say ipi's alone)."""
    if amazon is None:
        return []
    mine: dict[tuple[str, str], Span | None] = {
        (s.sku, "aged"): None if s.charge is None else Span(s.charge, s.charge)
        for s in aged.skus}
    mine.update({(f.sku, "utilization"): f.amount for f in utilization})
    mine.update({(f.sku, "low_inventory"): f.amount for f in low})
    keys = set(mine) | {(sku, kind) for sku, fees in amazon.by_sku.items() for kind in fees}
    pairs = [(sku, kind, mine.get((sku, kind)), amazon.by_sku.get(sku, {}).get(kind, 0.0))
             for sku, kind in keys]
    pairs = [p for p in pairs if p[3] or (p[2] is not None and p[2].high)]
    pairs.sort(key=lambda p: (-max(p[3], p[2].high if p[2] else 0.0), p[0], p[1]))
    return [Beside(sku, kind, ipi, theirs) for sku, kind, ipi, theirs in pairs[:top]]

