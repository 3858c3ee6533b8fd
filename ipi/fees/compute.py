"""The fee sums, pure: numbers in, numbers (or None) out; no database, no I/O.

Missing input gives None ("unknown"), never 0: a fee computed from a missing volume as if
it were nothing would tell the seller there is nothing to pay.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from ipi.fees import AgedTier, Rates

WINDOW_DAYS = 91  # Amazon's 13 weeks


def utilization_ratio(daily_on_hand_volume: Sequence[float | None],
                      daily_shipped_volume: Sequence[float | None]) -> float | None:
    """The storage utilization ratio in weeks: over the trailing 13 weeks (the last 91
    values, oldest first), the average daily on-hand volume divided by the average daily
    shipped volume gives days of supply; divided by 7, weeks.

    The on-hand volume is the caller's to give without units aged 0-30 days (Amazon leaves
    them out; ``Rates.utilization_excluded_newest_days``). None when either series has
    fewer than 91 days or a missing day among them (an average over the days that happen
    to be there would be another number). Nothing shipped with volume on hand is
    ``math.inf``: not missing data but the worst case, over any threshold; nothing on hand
    and nothing shipped is None (no ratio to speak of, and no storage to charge).
    """
    if len(daily_on_hand_volume) < WINDOW_DAYS or len(daily_shipped_volume) < WINDOW_DAYS:
        return None
    on_hand = daily_on_hand_volume[-WINDOW_DAYS:]
    shipped = daily_shipped_volume[-WINDOW_DAYS:]
    if any(v is None for v in on_hand) or any(v is None for v in shipped):
        return None
    # Both averages are over the same 91 days, so the ratio of sums is the ratio of averages.
    return utilization_weeks(math.fsum(v for v in on_hand if v is not None),
                             math.fsum(v for v in shipped if v is not None))


def utilization_weeks(avg_on_hand: float, avg_shipped: float) -> float | None:
    """Average daily on-hand volume over average daily shipped volume, in weeks (see
    ``utilization_ratio``): ``math.inf`` when nothing ships but volume is held, None
    when neither."""
    if avg_shipped == 0:
        return math.inf if avg_on_hand > 0 else None
    return avg_on_hand / avg_shipped / 7


# -- the aged inventory surcharge -------------------------------------------------------


@dataclass(frozen=True)
class AgedStock:
    """A SKU's units by age on a snapshot day: ``buckets`` maps (first day, last day)
    inclusive (last None: no end, as the report's "365-plus") to units (None: unknown);
    ``volume_cuft`` is one unit's (None: unknown); ``group`` its product group (or storage
    type), which may exempt it from some tiers (apparel: ``Rates.exempt_in``)."""

    sku: str
    snapshot: date
    volume_cuft: float | None
    buckets: Mapping[tuple[int, int | None], float | None]
    group: str | None = None


@dataclass(frozen=True)
class TierCharge:
    """One tier's forecast: units, cubic feet and charge (None: a SKU in it lacks its
    volume, so the tier's total is unknown)."""

    tier: str
    units: float
    cuft: float | None
    charge: float | None


@dataclass(frozen=True)
class SkuCharge:
    sku: str
    units: float | None  # units in charged tiers on the assessment day
    charge: float | None
    by_tier: dict[str, float] = field(default_factory=dict)  # tier -> units
    exempt_units: float = 0.0  # units in tiers its product group is not charged in


@dataclass(frozen=True)
class AgedForecast:
    """The surcharge expected on ``assessment_day`` if nothing sells or is removed before
    (an upper bound: Amazon takes sales from the oldest units first; ``sold`` lowers it).
    ``skus``: biggest charge first, unknown ones last; ``missing``: the SKUs whose charge
    is unknown."""

    assessment_day: date
    tiers: tuple[TierCharge, ...]
    skus: tuple[SkuCharge, ...]
    missing: tuple[str, ...]
    total: float | None  # None when a SKU's charge is unknown
    total_known: float  # the SKUs whose charge is known


def next_assessment(day: date, rates: Rates) -> date:
    """The first assessment day (the month's ``aged_assessment_day``) on or after ``day``."""
    on = day.replace(day=rates.aged_assessment_day)
    if on >= day:
        return on
    return (on.replace(day=1) + timedelta(days=32)).replace(day=rates.aged_assessment_day)


def _overlap(a: int, b: int, tier: AgedTier) -> int:
    """Days of [a, b] inside the tier."""
    hi = b if tier.last is None else min(b, tier.last)
    return max(0, hi - max(a, tier.first) + 1)


def _spread(units: float, first: int, last: int | None,
            tiers: Sequence[AgedTier]) -> dict[str, float]:
    """A bucket's units by tier once aged: spread evenly over the bucket's days (the
    report gives no finer ages). An open-ended bucket lies in the open-ended tier only
    once its first day does; before, it is counted whole in the tier of its first day
    (the report's "365-plus" aged forward stays in the tier it starts in)."""
    out: dict[str, float] = {}
    if last is None:
        tier = next((t for t in tiers if t.first <= first and (t.last is None
                                                               or first <= t.last)), None)
        if tier is not None:
            out[tier.label] = units
        return out
    span = last - first + 1
    for t in tiers:
        days = _overlap(first, last, t)
        if days:
            out[t.label] = units * days / span
    return out


def _after_sales(buckets: Mapping[tuple[int, int | None], float | None],
                 sold: float) -> Mapping[tuple[int, int | None], float | None]:
    """The buckets once ``sold`` units have gone, the oldest first (as Amazon ships)."""
    if sold <= 0:
        return buckets
    out = dict(buckets)
    for key in _oldest_first(tuple(out)):
        units = out[key]
        if sold <= 0:
            break
        if not units:
            continue
        took = min(units, sold)
        out[key], sold = units - took, sold - took
    return out


@functools.cache
def _oldest_first(keys: tuple[tuple[int, int | None], ...]
                  ) -> tuple[tuple[int, int | None], ...]:
    # A report's SKUs share their buckets: sorted once per layout, not per SKU.
    return tuple(sorted(keys, key=lambda k: (k[1] is None, k[0]), reverse=True))


def _charge(units: float, volume: float, tier: AgedTier) -> float:
    # Per unit, whichever is greater: one SKU's units share a volume, so per SKU.
    by_volume = tier.per_cuft * volume * units
    return max(by_volume, tier.per_unit * units) if tier.per_unit is not None else by_volume


def aged_surcharge_forecast(rows: Sequence[AgedStock], assessment_day: date, rates: Rates,
                            *, sold: Mapping[str, float] | None = None) -> AgedForecast:
    """Each SKU's units aged forward from its snapshot to ``assessment_day``, by tier,
    with the charge per tier and per SKU: the SKUs to act on before that day. ``rates``
    are those in force on that day; ``sold``: units each SKU is expected to sell before
    it, taken from its oldest units (none given: the upper bound, nothing sells)."""
    tiers = rates.aged_tiers
    by_label = {t.label: t for t in tiers}
    # A bucket's spread is linear in its units and depends only on its days once aged:
    # worked out once per bucket and shift, not per SKU (a planning day's SKUs share it).
    shares: dict[tuple[int, int | None], list[tuple[str, float]]] = {}
    exempt_of: dict[tuple[str, str | None], bool] = {}
    skus: list[SkuCharge] = []
    t_units = dict.fromkeys(by_label, 0.0)
    t_cuft: dict[str, float | None] = dict.fromkeys(by_label, 0.0)
    t_charge: dict[str, float | None] = dict.fromkeys(by_label, 0.0)
    for row in rows:
        shift = (assessment_day - row.snapshot).days
        if shift < 0:
            raise ValueError(f"{row.sku}: snapshot {row.snapshot} is after the assessment "
                             f"day {assessment_day}")
        units_known = None not in row.buckets.values()
        if not any(row.buckets.values()):  # nothing aged 91 days or more: most SKUs
            nothing = 0.0 if units_known else None
            skus.append(SkuCharge(row.sku, nothing, nothing, {}, 0.0))
            continue
        buckets = _after_sales(row.buckets, (sold or {}).get(row.sku, 0.0))
        by_tier: dict[str, float] = {}
        exempt = 0.0
        for (first, last), units in buckets.items():
            if units:
                key = (first + shift, None if last is None else last + shift)
                if key not in shares:
                    shares[key] = list(_spread(1.0, key[0], key[1], tiers).items())
                for label, share in shares[key]:
                    n = units * share
                    if (label, row.group) not in exempt_of:
                        exempt_of[label, row.group] = rates.exempt_in(label, row.group)
                    if exempt_of[label, row.group]:
                        exempt += n
                    else:
                        by_tier[label] = by_tier.get(label, 0.0) + n
        charged = math.fsum(by_tier.values())
        volume = row.volume_cuft
        charge: float | None = None
        each = {lb: _charge(n, volume or 0.0, by_label[lb]) for lb, n in by_tier.items()}
        if units_known and (volume is not None or charged == 0):
            charge = math.fsum(each.values())
        for label, n in by_tier.items():
            t_units[label] += n
            c, ch = t_cuft[label], t_charge[label]
            t_cuft[label] = None if c is None or volume is None else c + n * volume
            t_charge[label] = None if ch is None or volume is None else ch + each[label]
        skus.append(SkuCharge(row.sku, charged if units_known else None, charge, by_tier,
                              exempt))
    skus.sort(key=lambda s: (s.charge is None, -(s.charge or 0.0), s.sku))
    missing = tuple(s.sku for s in skus if s.charge is None)
    known = math.fsum(s.charge for s in skus if s.charge is not None)
    return AgedForecast(
        assessment_day,
        tuple(TierCharge(t.label, t_units[t.label], t_cuft[t.label], t_charge[t.label])
              for t in tiers),
        tuple(skus), missing, None if missing else known, known)


# -- the low-inventory-level fee --------------------------------------------------------


@dataclass(frozen=True)
class SupplyDays:
    """A SKU's historical days of supply on the short-term (30-day) and long-term (90-day)
    views (None: not in the report); ``exempt``: low-volume or new, so never charged."""

    sku: str
    short_term: float | None
    long_term: float | None
    exempt: bool = False


@dataclass(frozen=True)
class LowInventory:
    sku: str
    at_risk: bool | None  # None: no data to say
    reason: str


def low_inventory_risk(rows: Sequence[SupplyDays], rates: Rates) -> list[LowInventory]:
    """Each SKU's exposure to the low-inventory-level fee: at risk when both views are
    under the floor. One view at or over the floor clears it whatever the other is; a view
    missing otherwise leaves it unknown (None), never "not at risk" by default. At risk
    first, then unknown, then the rest, each in the order given."""
    floor = rates.low_inventory_floor_days
    out = []
    for r in rows:
        views = (r.short_term, r.long_term)
        if r.exempt:
            out.append(LowInventory(r.sku, False, "exempt"))
        elif any(v is not None and v >= floor for v in views):
            out.append(LowInventory(r.sku, False, f"days of supply at or over {floor:g}"))
        elif any(v is None for v in views):
            out.append(LowInventory(r.sku, None, "no data"))
        else:
            out.append(LowInventory(r.sku, True, f"both views under {floor:g} days"))
    order = {True: 0, None: 1, False: 2}
    return sorted(out, key=lambda x: order[x.at_risk])


# -- money: ranges where the size is unknown --------------------------------------------


@dataclass(frozen=True)
class Span:
    """An amount known to lie in [low, high]: equal when the inputs fix it, apart when a
    SKU's size tier or weight is unknown (the fee is then one of several rates, never 0)."""

    low: float
    high: float

    @property
    def exact(self) -> bool:
        return math.isclose(self.low, self.high, abs_tol=0.005)

    def __add__(self, other: Span) -> Span:
        return Span(self.low + other.low, self.high + other.high)

    def times(self, k: float) -> Span:
        return Span(self.low * k, self.high * k)

    def text(self, currency: str) -> str:
        if self.exact:
            return f"{self.high:,.2f} {currency}"
        if self.low == 0:
            return f"up to {self.high:,.2f} {currency}"
        return f"{self.low:,.2f} to {self.high:,.2f} {currency}"


ZERO = Span(0.0, 0.0)

# Amazon's storage types as the planning report writes them, by the size the utilization
# surcharge charges: apparel and footwear are standard-size storage.
_STANDARD = {"standard", "standard-size", "standard size", "apparel", "footwear", "shoes"}
_BULKY = {"oversize", "large bulky", "large-bulky", "bulky", "extra-large", "extra large"}
# A small standard item is at most 15 x 12 x 0.75 inches: 135 cubic inches.
SMALL_STANDARD_CUFT = 135 / 1728


def storage_size(storage_type: str | None) -> str | None:
    """``standard`` or ``large_bulky`` from the report's storage type (None: unknown)."""
    kind = (storage_type or "").strip().lower()
    return "standard" if kind in _STANDARD else "large_bulky" if kind in _BULKY else None


def _step_up(steps: Sequence[tuple[float, float]], value: float) -> float:
    """The amount of the last step whose bound ``value`` is over (0 under the first)."""
    got = 0.0
    for bound, amount in steps:
        if value > bound:
            got = amount
    return got


@dataclass(frozen=True)
class SkuVolume:
    """A SKU's average daily on-hand volume in cubic feet (units 0-30 days old left out
    where the report has them) and its storage type."""

    sku: str
    cuft: float | None
    storage_type: str | None


@dataclass(frozen=True)
class SkuFee:
    sku: str
    amount: Span | None  # None: unknown (no volume, or no rate for its size)
    note: str = ""


def utilization_surcharge(ratio: float | None, rows: Sequence[SkuVolume], rates: Rates,
                          days: int) -> tuple[list[SkuFee], Span | None, str]:
    """The storage utilization surcharge over ``days`` days (a month's charge pro rata):
    each SKU's average volume x the surcharge per cubic foot its size pays at ``ratio``.
    No charge at or under the threshold, or under the minimum average volume; a SKU
    whose storage type is unknown is a range over the sizes. Total None when unknown."""
    threshold = rates.utilization_threshold_weeks
    if ratio is None:
        return [], None, "no ratio yet"
    if ratio <= threshold:
        return [], ZERO, f"ratio {ratio:.1f} weeks, at or under {threshold:g}"
    known = [r.cuft for r in rows if r.cuft is not None]
    if len(known) == len(rows) and math.fsum(known) < rates.utilization_min_average_cuft:
        return [], ZERO, (f"under {rates.utilization_min_average_cuft:g} cu ft of average "
                          "daily volume: not charged")
    share = days / 30
    per = {size: _step_up(steps, ratio) for size, steps in rates.utilization_surcharge.items()}
    out: list[SkuFee] = []
    for r in rows:
        size = storage_size(r.storage_type)
        if r.cuft is None:
            out.append(SkuFee(r.sku, None, "no volume in the report"))
            continue
        rate = Span(per[size], per[size]) if size in per else Span(min(per.values()),
                                                                    max(per.values()))
        out.append(SkuFee(r.sku, rate.times(r.cuft * share),
                          "" if size in per else "storage type unknown: a range"))
    out.sort(key=lambda f: (f.amount is None, -(f.amount.high if f.amount else 0), f.sku))
    return out, total_of(out), f"ratio {ratio:.1f} weeks, over {threshold:g}"


@dataclass(frozen=True)
class SkuSupply:
    """What the low-inventory-level fee needs of a SKU: its two historical days-of-supply
    views, units shipped in 7 and 30 days, Amazon's exemption, and its size clues."""

    sku: str
    short_term: float | None
    long_term: float | None
    shipped_7: float | None
    shipped_30: float | None
    exempt: bool
    storage_type: str | None
    unit_cuft: float | None


def _sizes_possible(r: SkuSupply, rates: Rates) -> list[str] | None:
    """The low-inventory size tiers the SKU may be in (None: a size ipi has no rate for)."""
    if storage_size(r.storage_type) == "large_bulky":
        return None
    sizes = list(rates.low_inventory_per_unit)
    if r.unit_cuft is not None and r.unit_cuft > SMALL_STANDARD_CUFT:
        sizes = [s for s in sizes if s != "small_standard"]
    return sizes


def low_inventory_fee(rows: Sequence[SkuSupply], rates: Rates, days: int) -> list[SkuFee]:
    """The low-inventory-level fee over ``days`` days at each SKU's 30-day pace: charged
    per unit shipped when both views are under the floor, at the rate of the greater
    view's band and the SKU's size tier. The reports give no weight, so a SKU's fee is a
    range over the tiers its volume allows. Exempt: Amazon's flag, or fewer than
    ``min_units_7_days`` units sold in 7 days. Only SKUs with a fee or an unknown one."""
    floor = rates.low_inventory_floor_days
    out: list[SkuFee] = []
    for r in rows:
        views = (r.short_term, r.long_term)
        if r.exempt or any(v is not None and v >= floor for v in views):
            continue
        if r.shipped_7 is not None and r.shipped_7 < rates.low_inventory_min_units_7_days:
            continue
        if r.shipped_30 is None or all(v is None for v in views):
            out.append(SkuFee(r.sku, None, "no days of supply or 30-day units shipped"))
            continue
        supply = max(v for v in views if v is not None)
        sizes = _sizes_possible(r, rates)
        if sizes is None:
            out.append(SkuFee(r.sku, None, "bulky: no rate in ipi"))
            continue
        # The first band the supply is under (an overridden floor past the last band:
        # the last band's fee).
        fees = [next((fee for under, fee in rates.low_inventory_per_unit[s] if supply < under),
                     rates.low_inventory_per_unit[s][-1][1]) for s in sizes]
        units = r.shipped_30 / 30 * days
        notes = [f"{supply:.0f} days of supply"]
        if len(sizes) > 1:
            notes.append("weight unknown: a range")
        low = min(fees)
        if any(v is None for v in views):
            # The fee needs both views under the floor: with one unknown, it may be 0.
            notes.append("one view missing: none if it is over the floor")
            low = 0.0
        out.append(SkuFee(r.sku, Span(low, max(fees)).times(units), "; ".join(notes)))
    out.sort(key=lambda f: (f.amount is None, -(f.amount.high if f.amount else 0), f.sku))
    return out


def total_of(fees: Sequence[SkuFee]) -> Span | None:
    """The fees' sum (None: one of them is unknown)."""
    total = ZERO
    for f in fees:
        if f.amount is None:
            return None
        total = total + f.amount
    return total


# -- the fee calendar -------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarRow:
    """A SKU's next assessment: the tier its oldest units reach by then, the charge if
    nothing sells and at its 30-day pace (sales take the oldest units first), the units to
    sell or remove beyond that pace so that nothing is charged, and where its days of supply
    sit between the low-inventory floor and the surcharge's first tier."""

    sku: str
    assessment: date
    tier: str | None  # the oldest charged tier on that day (None: nothing charged)
    units: float | None  # charged if nothing sells
    charge: float | None
    expected_sales: float | None  # before the assessment, at the 30-day pace
    charge_at_pace: float | None
    to_act: float | None  # units to sell or remove beyond the pace to pay nothing
    days_of_supply: float | None
    zone: str  # "low-inventory risk" | "safe" | "ageing into the surcharge" | "unknown"


@dataclass(frozen=True)
class Supply:
    """A SKU's days of supply (Amazon's, else on hand over the 30-day pace) and pace."""

    days_of_supply: float | None
    shipped_30: float | None


def zone(days_of_supply: float | None, rates: Rates) -> str:
    """Where days of supply sit: under the low-inventory floor, past the first aged tier
    (units bought today would be charged before they sell), or in between: safe."""
    if days_of_supply is None:
        return "unknown"
    if days_of_supply < rates.low_inventory_floor_days:
        return "low-inventory risk"
    if days_of_supply >= rates.aged_tiers[0].first:
        return "ageing into the surcharge"
    return "safe"


def fee_calendar(rows: Sequence[AgedStock], supply: Mapping[str, Supply],
                 assessment_day: date, rates: Rates, *,
                 idle: AgedForecast | None = None) -> list[CalendarRow]:
    """Each SKU's calendar row for ``assessment_day``: the most to pay at pace first, then
    those outside the safe zone, then the rest by SKU. ``idle``: the forecast if nothing
    sells of some of ``rows`` at these rates, already worked out (the rest is)."""
    done = ({s.sku: s for s in idle.skus}
            if idle is not None and idle.assessment_day == assessment_day else {})
    rest = [row for row in rows if row.sku not in done]
    idle_of = done | {s.sku: s for s in aged_surcharge_forecast(rest, assessment_day,
                                                                 rates).skus}
    sold: dict[str, float] = {}
    for row in rows:
        pace = supply.get(row.sku, Supply(None, None)).shipped_30
        if pace is not None:
            sold[row.sku] = pace / 30 * (assessment_day - row.snapshot).days
    # At pace, only the SKUs with a pace are read.
    paced = {s.sku: s for s in aged_surcharge_forecast(
        [row for row in rows if row.sku in sold], assessment_day, rates, sold=sold).skus}
    order = {t.label: i for i, t in enumerate(rates.aged_tiers)}
    out = []
    for row in rows:
        a, p = idle_of[row.sku], paced.get(row.sku)
        tiers = [t for t, n in a.by_tier.items() if n > 1e-9]
        days = supply.get(row.sku, Supply(None, None)).days_of_supply
        out.append(CalendarRow(
            row.sku, assessment_day, max(tiers, key=order.__getitem__) if tiers else None,
            a.units, a.charge, sold.get(row.sku), None if p is None else p.charge,
            None if p is None else p.units, days, zone(days, rates)))
    out.sort(key=lambda r: (-(r.charge_at_pace if r.charge_at_pace is not None
                              else r.charge or 0.0), r.zone == "safe", r.sku))
    return out
