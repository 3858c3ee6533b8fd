"""The SKUs that pull a day's estimate down the most, with what to do about them.

Candidates come from four places: the largest excess quantities (with Amazon's
recommended action), SKUs not in excess that hold more than 90 days of their
own sales (low sell-through with high on-hand), the largest stranded quantities
(with the reason), and best sellers that are out of stock. Each gets the points
the estimate would gain if that one SKU were fixed (``whatif``: remove the
excess, or the units beyond 60 days of sales; fix the listing; restock), through
the account's score model, and the list is ranked by that gain. A removal's
``later`` gain is the same once Amazon's 90-day sell-through window has passed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date

import duckdb

from ipi.score import DailyScore
from ipi.score.official import model_for
from ipi.score.whatif import Action, Costs, Kind, Plan, recovery_plan, sku_facts, what_if
from ipi.settings import Policy

_CANDIDATES = 10  # per factor, before ranking
_PLAN_CANDIDATES = 40  # per factor, for a recovery plan: it may need many small fixes
# Amazon's guideline is 30-60 days of supply: a slow SKU keeps 60 days of its sales.
_KEEP_DAYS = 60


@dataclass(frozen=True)
class Driver:
    factor: str  # excess | sell_through | stranded | in_stock
    sku: str
    asin: str | None
    name: str | None
    units: float  # to remove (excess, sell_through); in-stock: its share of the weights
    detail: str
    action: str
    gain: float | None = None  # estimate points won by fixing it
    later: float | None = None  # the same, once the sell-through window has passed

    def fix(self) -> Action:
        """The what-if action that fixes it: remove units, fix the listing, restock."""
        kind: Kind = ("remove" if self.factor in ("excess", "sell_through") else
                      "fix-stranded" if self.factor == "stranded" else "restock")
        return Action(kind, self.sku, self.units if kind == "remove" else 0.0)

    def line(self) -> str:
        label = f"{self.sku}" + (f" ({self.asin})" if self.asin else "")
        # A removal can cost points today (the units left carry the same excess and
        # stranded units) and win them once sell-through's window has passed: say both.
        gain = f"~{self.gain:+.0f} pts" if self.gain and abs(self.gain) >= 0.5 else ""
        if self.later is not None and abs(self.later - (self.gain or 0.0)) >= 0.5:
            gain += (", " if gain else "") + f"~{self.later:+.0f} in 90 days"
        return f"{label}: {self.detail} -> {self.action}" + (f" [{gain}]" if gain else "")


def _candidates(con: duckdb.DuckDBPyConnection, account: str, marketplace: str,
                day: date, n: int = _CANDIDATES) -> list[Driver]:
    p = {"a": account, "m": marketplace, "d": day, "n": n}
    out: list[Driver] = []
    for sku, asin, name, units, action, aged in con.execute(
        """SELECT sku, asin, product_name, estimated_excess_quantity, recommended_action,
                  -- units on hand over 180 days old (older layouts split 365+ in two)
                  coalesce(inv_age_181_to_270_days, 0) + coalesce(inv_age_271_to_365_days, 0)
                  + coalesce(inv_age_365_plus_days, coalesce(inv_age_366_to_455_days, 0)
                             + coalesce(inv_age_456_plus_days, 0))
           FROM fba_inventory_planning
           WHERE account = $a AND marketplace = $m AND snapshot_date = $d
             AND estimated_excess_quantity > 0
           ORDER BY estimated_excess_quantity DESC, sku LIMIT $n""", p).fetchall():
        act = action if action and action.lower() != "no action" else "discount or remove"
        old = f", {aged:,.0f} units on hand over 180 days old" if aged else ""
        out.append(Driver("excess", sku, asin, name, units, f"{units:,.0f} excess units{old}",
                          act))
    for sku, asin, name, on_hand, t90, st in con.execute(
        """SELECT sku, asin, product_name, available, coalesce(units_shipped_t90, 0) AS t90,
                  coalesce(sell_through, t90 / available) AS st
           FROM fba_inventory_planning
           WHERE account = $a AND marketplace = $m AND snapshot_date = $d
             AND coalesce(estimated_excess_quantity, 0) = 0 AND available > t90 AND st < 1
           ORDER BY available - t90 DESC, sku LIMIT $n""", p).fetchall():
        units = on_hand - math.ceil(t90 * _KEEP_DAYS / 90)
        out.append(Driver("sell_through", sku, asin, name, units,
                          f"sell-through {st:.2f}: {on_hand:,.0f} units on hand, "
                          f"{t90:,.0f} sold in 90 days",
                          f"discount, or remove {units:,.0f} units (beyond {_KEEP_DAYS} "
                          "days of sales)"))
    for sku, asin, name, units, reason, since in con.execute(
        """SELECT sku, any_value(asin), any_value(product_name),
                  sum(coalesce(fulfillable_qty, 0) + coalesce(unfulfillable_qty, 0)
                      + coalesce(reserved_quantity, 0)) AS units,
                  string_agg(DISTINCT stranded_reason, '; '), min(date_stranded)
           FROM stranded_inventory
           WHERE account = $a AND marketplace = $m AND snapshot_date = $d
           GROUP BY sku HAVING units > 0 ORDER BY units DESC, sku LIMIT $n""", p).fetchall():
        age = (day - since).days if since else None
        days = "" if age is None else ", since today" if age == 0 else f", for {age} days"
        out.append(Driver("stranded", sku, asin, name, units,
                          f"{units:,.0f} stranded units ({reason}{days})", "fix the listing"))
    for sku, asin, name, t60, share in con.execute(
        """WITH sold AS (
               SELECT sku, asin, arg_max(units_shipped_t60, snapshot_date) AS t60
               FROM fba_inventory_planning
               WHERE account = $a AND marketplace = $m
                 AND snapshot_date BETWEEN $d - 29 AND $d GROUP BY sku, asin)
           SELECT m.sku, m.asin, m.product_name, s.t60,
                  s.t60 / (SELECT sum(t60) FROM sold WHERE t60 > 0)
           FROM fba_myi_inventory m JOIN sold s USING (sku)
           WHERE m.account = $a AND m.marketplace = $m AND m.snapshot_date = $d
             AND coalesce(m.afn_fulfillable_quantity, 0) = 0 AND s.t60 > 0
           ORDER BY s.t60 DESC, m.sku LIMIT $n""", p).fetchall():
        out.append(Driver("in_stock", sku, asin, name, share,
                          f"out of stock, {t60:,.0f} units sold in 60 days", "restock"))
    return out


def top_drivers(con: duckdb.DuckDBPyConnection, account: str, marketplace: str, day: date,
                n: int = 5, row: DailyScore | None = None) -> list[Driver]:
    """The ``n`` SKUs whose fix would lift the day's estimate most (``row``: its daily_score)."""
    found = _candidates(con, account, marketplace, day)
    if row is None or row.score is None:
        return found[:n]
    facts = sku_facts(con, account, marketplace, day, [d.sku for d in found])
    model = model_for(con, account)
    # Points on today's factors: where the long-term ones hold the estimate (the 2020
    # rule), one fix alone moves it nothing, yet each moves what it follows.
    outcomes = [what_if(con, account, row, [d.fix()], facts, model, recent=True)
                for d in found]
    ranked = [replace(d, gain=o.gain, later=o.gain_later if d.fix().kind == "remove" else None)
              for d, o in zip(found, outcomes, strict=True)]
    ranked.sort(key=lambda d: (-(d.gain or 0.0), d.factor, d.sku))
    return ranked[:n]


def recovery(con: duckdb.DuckDBPyConnection, account: str, row: DailyScore,
             policy: Policy) -> Plan:
    """The recovery plan of the day ``row`` (its daily_score) to the policy's recovery
    threshold, at the least units moved or estimated cost it asks for, from the same
    candidates as the drivers."""
    found = _candidates(con, account, row.marketplace, row.date, _PLAN_CANDIDATES)
    costs = Costs(policy.plan_by, policy.removal_fee, policy.listing_fix_cost,
                  policy.restock_cost)
    return recovery_plan(con, account, row, policy.recovery, [d.fix() for d in found], costs)
