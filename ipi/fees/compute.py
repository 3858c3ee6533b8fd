"""The fee sums, pure: numbers in, numbers (or None) out; no database, no I/O.

Missing input gives None ("unknown"), never 0: a fee computed from a missing volume as if
it were nothing would tell the seller there is nothing to pay.
"""

from __future__ import annotations

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
    inclusive (last None: no end, as the report's "365+") to units (None: unknown);
    ``volume_cuft`` is one unit's (None: unknown)."""

    sku: str
    snapshot: date
    volume_cuft: float | None
    buckets: Mapping[tuple[int, int | None], float | None]


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


@dataclass(frozen=True)
class AgedForecast:
    """The surcharge expected on ``assessment_day`` if nothing sells or is removed before
    (an upper bound: Amazon takes sales from the oldest units first). ``skus``: biggest
    charge first, unknown ones last; ``missing``: the SKUs whose charge is unknown."""

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
    (the report's "365+" aged forward stays in "365+")."""
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


def _charge(units: float, volume: float, tier: AgedTier) -> float:
    # Per unit, whichever is greater: one SKU's units share a volume, so per SKU.
    by_volume = tier.per_cuft * volume * units
    return max(by_volume, tier.per_unit * units) if tier.per_unit is not None else by_volume


def aged_surcharge_forecast(rows: Sequence[AgedStock], assessment_day: date,
                            rates: Rates) -> AgedForecast:
    """Each SKU's units aged forward from its snapshot to ``assessment_day``, by tier,
    with the charge per tier and per SKU: the SKUs to act on before that day."""
    tiers = rates.aged_tiers
    by_label = {t.label: t for t in tiers}
    skus: list[SkuCharge] = []
    t_units = dict.fromkeys(by_label, 0.0)
    t_cuft: dict[str, float | None] = dict.fromkeys(by_label, 0.0)
    t_charge: dict[str, float | None] = dict.fromkeys(by_label, 0.0)
    for row in rows:
        shift = (assessment_day - row.snapshot).days
        if shift < 0:
            raise ValueError(f"{row.sku}: snapshot {row.snapshot} is after the assessment "
                             f"day {assessment_day}")
        units_known = all(u is not None for u in row.buckets.values())
        by_tier: dict[str, float] = {}
        for (first, last), units in row.buckets.items():
            if units:
                aged = _spread(units, first + shift, None if last is None else last + shift,
                               tiers)
                for label, n in aged.items():
                    by_tier[label] = by_tier.get(label, 0.0) + n
        charged = math.fsum(by_tier.values())
        volume = row.volume_cuft
        charge: float | None = None
        if units_known and (volume is not None or charged == 0):
            charge = math.fsum(_charge(n, volume or 0.0, by_label[lb])
                               for lb, n in by_tier.items())
        for label, n in by_tier.items():
            t_units[label] += n
            c, ch = t_cuft[label], t_charge[label]
            t_cuft[label] = None if c is None or volume is None else c + n * volume
            t_charge[label] = (None if ch is None or volume is None
                               else ch + _charge(n, volume, by_label[label]))
        skus.append(SkuCharge(row.sku, charged if units_known else None, charge, by_tier))
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
