"""What if: the estimate after actions on SKUs, and the smallest plan back over the line.

Actions change one day's factor inputs, and the account's own model scores them:

- ``remove SKU:UNITS``: a removal order or liquidation. On-hand falls by UNITS,
  excess by as many of them as the SKU had in excess.
- ``fix-stranded SKU``: the listing fixed; its stranded units become sellable.
- ``restock SKU``: back in stock for the whole 30-day window; its share of the
  weighted in-stock rate (its 60-day units over everyone's) counts as in stock.

Sell-through is units shipped in 90 days over the average of four on-hand
snapshots (today, 30, 60 and 90 days ago). Units removed today lower that
average by a quarter of themselves at once, and by all of themselves once the
window has passed over them, 90 days on: ``after`` is the day's estimate with
the actions done, ``later`` the same once the window has passed, shipments and
everything else held. Neither is a forecast.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

import duckdb

from ipi.errors import UsageError
from ipi.score import DailyScore, window
from ipi.score.model import Estimate, estimate, factors_for
from ipi.score.official import model_for
from ipi.score.prior import Model

Kind = Literal["remove", "fix-stranded", "restock"]


@dataclass(frozen=True)
class Action:
    kind: Kind
    sku: str
    units: float = 0.0  # removals only

    def label(self) -> str:
        if self.kind == "remove":
            return f"remove {self.units:,.0f} units of {self.sku}"
        return f"fix the stranded listing of {self.sku}" if self.kind == "fix-stranded" \
            else f"restock {self.sku}"


def parse_remove(spec: str) -> Action:
    m = re.fullmatch(r"(.+):(\d+(?:\.\d+)?)", spec.strip())
    if not m or float(m.group(2)) <= 0:
        raise UsageError(f"remove {spec!r}: write SKU:UNITS, e.g. ABC-123:40 (a SKU, a colon "
                         "and a number of units over 0)")
    return Action("remove", m.group(1), float(m.group(2)))


@dataclass(frozen=True)
class Facts:
    """One SKU on the day: what the actions can change."""

    excess: float  # units in excess (planning report)
    on_hand: float  # sellable units (MYI, else planning)
    stranded: float  # stranded units
    share: float  # its ASIN's share of the in-stock weights, if out of stock (else 0)


def sku_facts(con: duckdb.DuckDBPyConnection, account: str, marketplace: str, day: date,
              skus: Sequence[str]) -> dict[str, Facts]:
    """The facts of ``skus`` on ``day`` (SKUs the reports do not name are left out)."""
    p = {"a": account, "m": marketplace, "d": day, "skus": list(skus)}
    rows = con.execute("""
        WITH plan AS (
            SELECT sku, asin, estimated_excess_quantity AS excess, available AS on_hand
            FROM fba_inventory_planning
            WHERE account = $a AND marketplace = $m AND snapshot_date = $d
              AND sku IN (SELECT unnest($skus))),
        myi AS (
            SELECT sku, asin, afn_fulfillable_quantity AS on_hand
            FROM fba_myi_inventory
            WHERE account = $a AND marketplace = $m AND snapshot_date = $d
              AND sku IN (SELECT unnest($skus))),
        stranded AS (
            SELECT sku, any_value(asin) AS asin,
                   sum(coalesce(fulfillable_qty, 0) + coalesce(unfulfillable_qty, 0)
                       + coalesce(reserved_quantity, 0)) AS units
            FROM stranded_inventory
            WHERE account = $a AND marketplace = $m AND snapshot_date = $d
              AND sku IN (SELECT unnest($skus)) GROUP BY sku),
        sold AS (
            SELECT asin, arg_max(units_shipped_t60, snapshot_date) AS t60
            FROM fba_inventory_planning
            WHERE account = $a AND marketplace = $m
              AND snapshot_date BETWEEN $d - 29 AND $d GROUP BY asin),
        skus AS (SELECT sku FROM plan UNION SELECT sku FROM myi UNION SELECT sku FROM stranded)
        SELECT s.sku, coalesce(p.excess, 0), coalesce(m.on_hand, p.on_hand, 0),
               coalesce(st.units, 0),
               CASE WHEN m.sku IS NOT NULL AND coalesce(m.on_hand, 0) = 0
                    THEN coalesce(so.t60, 0) / nullif((SELECT sum(t60) FROM sold
                                                      WHERE t60 > 0), 0) END
        FROM skus s LEFT JOIN plan p USING (sku) LEFT JOIN myi m USING (sku)
        LEFT JOIN stranded st USING (sku)
        LEFT JOIN sold so ON so.asin = coalesce(m.asin, p.asin, st.asin)""", p).fetchall()
    return {sku: Facts(float(ex), float(oh), float(sd), float(sh or 0.0))
            for sku, ex, oh, sd, sh in rows}


def values_of(row: DailyScore) -> dict[str, float | None]:
    return {"excess": row.excess_pct, "sell_through": row.sell_through,
            "stranded": row.stranded_pct, "in_stock": row.in_stock_rate}


@dataclass(frozen=True)
class Totals:
    """What a set of actions adds up to; a plan adds one action at a time."""

    removed: float = 0.0  # units out of on-hand
    excess_removed: float = 0.0  # of those, units that were excess
    fixed: float = 0.0  # stranded units made sellable
    share: float = 0.0  # in-stock weight back in stock

    def plus(self, a: Action, f: Facts | None) -> Totals:
        if f is None:
            return self
        if a.kind == "remove":
            units = min(a.units, f.on_hand)  # no more than the SKU has
            return replace(self, removed=self.removed + units,
                           excess_removed=self.excess_removed + min(units, f.excess))
        if a.kind == "fix-stranded":
            return replace(self, fixed=self.fixed + f.stranded)
        return replace(self, share=self.share + f.share)


def totals(actions: Sequence[Action], facts: Mapping[str, Facts]) -> Totals:
    t = Totals()
    for a in actions:
        t = t.plus(a, facts.get(a.sku))
    return t


def apply(row: DailyScore, t: Totals, settled: bool = False) -> dict[str, float | None]:
    """The day's factor values (``row``: its daily_score) after the actions ``t``; once
    the 90-day sell-through window has passed over the removals if ``settled``."""
    values = values_of(row)
    excess, stranded = row.excess_units, row.stranded_units
    left = float(row.units_on_hand or 0.0) - t.removed
    # Only what the actions touched is recomputed: the stored values stay as they are.
    if left > 0 and t.removed and excess is not None and values["excess"] is not None:
        values["excess"] = 100.0 * max(float(excess) - t.excess_removed, 0.0) / left
    if left > 0 and (t.removed or t.fixed) and stranded is not None \
            and values["stranded"] is not None:
        values["stranded"] = 100.0 * max(float(stranded) - t.fixed, 0.0) / left
    shipped, avg = row.units_shipped_t90, row.avg_units_on_hand
    if t.removed and shipped is not None and avg and values["sell_through"] is not None:
        # One of the four snapshots is lower today, all four in 90 days. Never below one
        # unit on hand: removing everything would otherwise divide by zero.
        lower = t.removed * (1.0 if settled else 0.25)
        values["sell_through"] = float(shipped) / max(float(avg) - lower, 1.0)
    if t.share and values["in_stock"] is not None:
        values["in_stock"] = min(1.0, float(values["in_stock"]) + t.share)
    return values


@dataclass(frozen=True)
class Outcome:
    before: Estimate
    after: Estimate
    later: Estimate  # once the 90-day windows have passed over the actions
    values_after: Mapping[str, float | None]
    unknown: tuple[str, ...]  # SKUs the day's reports do not name
    capped: Mapping[str, float]  # removals of more than the SKU has: the units it has
    # ``later`` without the actions: today's factors alone, as the long-term ones will
    # have rolled to them by then (the same as ``before`` on a day they do not hold)
    later_without: Estimate | None = None

    @property
    def gain(self) -> float | None:
        return _diff(self.after, self.before)

    @property
    def gain_later(self) -> float | None:
        return _diff(self.later, self.later_without or self.before)


def _diff(a: Estimate, b: Estimate) -> float | None:
    return None if a.score is None or b.score is None else a.score - b.score


def what_if(con: duckdb.DuckDBPyConnection, account: str, row: DailyScore,
            actions: Sequence[Action], facts: Mapping[str, Facts] | None = None,
            model: Model | None = None, *, recent: bool = False) -> Outcome:
    """The estimate of the day ``row`` (its daily_score) before and after the actions
    (``facts`` and ``model``: already read, when asking many questions of one day;
    ``recent``: the estimate from today's factors alone, see ``scorer``)."""
    mp, day = row.marketplace, row.date
    if facts is None:
        facts = sku_facts(con, account, mp, day, [a.sku for a in actions])
    model = model or model_for(con, account)
    score = scorer(row, model, recent=recent)
    done = totals(actions, facts)
    after = apply(row, done)
    capped = {a.sku: facts[a.sku].on_hand for a in actions
              if a.kind == "remove" and a.sku in facts and a.units > facts[a.sku].on_hand}
    # In 90 days the long-term window holds only days after the actions: no hold then.
    today = scorer(row, model, recent=True)
    return Outcome(score(values_of(row)), score(after), today(apply(row, done, settled=True)),
                   after, tuple(sorted({a.sku for a in actions} - set(facts))), capped,
                   today(values_of(row)))


def scorer(row: DailyScore, model: Model, *, recent: bool = False
           ) -> Callable[[Mapping[str, float | None]], Estimate]:
    """Factor values of the day ``row`` in, the account's estimate out (``recent``: the
    estimate from those values alone, without the long-term factors' hold)."""
    factors = factors_for(row.marketplace)
    approx = {f for f, flag in (("sell_through", row.sell_through_approx),
                                ("in_stock", row.in_stock_approx)) if flag}
    long_term = {} if recent else window.of(row.long_term)

    def score(values: Mapping[str, float | None]) -> Estimate:
        recent = estimate(values, factors=factors, approximate=approx,
                          weights=model.weights, model_error=model.model_error)
        if not long_term or recent.score is None:
            return recent
        held = estimate(long_term, factors=factors, approximate=approx,
                        weights=model.weights, model_error=model.model_error)
        # The 2020 rule, as the stored estimate: actions move the recent factors, and the
        # long-term ones hold the score while they score higher.
        return held if held.score is not None and held.score > recent.score else recent

    return score


@dataclass(frozen=True)
class Costs:
    """What a recovery plan keeps small: the units moved, or an estimated cost (in the
    marketplace's currency) per unit removed, listing fixed and SKU restocked."""

    by: Literal["units", "cost"] = "units"
    removal_fee: float = 0.0
    listing_fix: float = 0.0
    restock: float = 0.0

    def of(self, a: Action, f: Facts) -> float:
        units = min(a.units, f.on_hand) if a.kind == "remove" else 0.0
        if self.by == "units":
            return units
        return (units * self.removal_fee if a.kind == "remove" else
                self.listing_fix if a.kind == "fix-stranded" else self.restock)


@dataclass(frozen=True)
class Plan:
    """Actions, cheapest first, each with the estimate once it and those before are done
    and what it costs (``costs.by``: units moved or estimated cost)."""

    start: float | None
    target: float
    steps: tuple[tuple[Action, float], ...]
    spent: tuple[float, ...] = ()  # each step's cost
    costs: Costs = Costs()
    held: float | None = None  # the estimate, where the long-term factors hold it over start

    @property
    def reached(self) -> bool:
        last = self.steps[-1][1] if self.steps else self.start
        return last is not None and last >= self.target

    @property
    def title(self) -> str:
        return f"Recovery plan to {self.target:.0f}, " + (
            "fewest units moved first" if self.costs.by == "units"
            else "cheapest first, by estimated cost")

    def cost_of(self, i: int) -> str:
        """Step ``i``'s cost as shown: nothing by units (its label says them)."""
        return f" (~{self.spent[i]:,.2f})" if self.costs.by == "cost" else ""

    def lines(self) -> list[str]:
        out = [f"{i + 1}. {a.label()} -> {score:.0f}{self.cost_of(i)}"
               for i, (a, score) in enumerate(self.steps)]
        if self.held is not None and self.start is not None:
            out.insert(0, f"(today's factors alone read {self.start:.0f}; the long-term ones "
                          f"hold the estimate at {self.held:.0f} and follow today's as the "
                          "days roll, so the plan lifts today's)")
        if self.steps:
            out.append(self.summary())
        elif self.reached:
            out.append(f"(the estimate is already at or over {self.target:.0f}: nothing to do)")
        if not self.reached:
            out.append(f"(the candidates above reach {self.steps[-1][1]:.0f}, not "
                       f"{self.target:.0f}: the rest is sell-through over the coming weeks)"
                       if self.steps else "(no SKU-level action found in the reports)")
        return out

    def summary(self) -> str:
        kinds = [a.kind for a, _ in self.steps]
        removed = sum(a.units for a, _ in self.steps if a.kind == "remove")
        parts = [f"{removed:,.0f} units removed" if removed else "",
                 _count(kinds.count("fix-stranded"), "listing fixed", "listings fixed"),
                 _count(kinds.count("restock"), "SKU restocked", "SKUs restocked")]
        cost = f"; estimated cost ~{sum(self.spent):,.2f}" if self.costs.by == "cost" else ""
        return "In all: " + ", ".join(p for p in parts if p) + cost + "."


def _count(n: int, one: str, many: str) -> str:
    return "" if not n else f"1 {one}" if n == 1 else f"{n} {many}"


def recovery_plan(con: duckdb.DuckDBPyConnection, account: str, row: DailyScore,
                  target: float, candidates: Sequence[Action],
                  costs: Costs = Costs()) -> Plan:
    """The plan that brings the day's estimate to ``target`` for the least ``costs``
    (units moved by default): greedy by points per unit of cost (fixing a listing or
    restocking moves no units, so by units they come first), then the costliest steps
    the target does not need are dropped and the last removal is cut to the units
    needed."""
    facts = sku_facts(con, account, row.marketplace, row.date,
                      [a.sku for a in candidates])
    # Actions move today's factors; where the long-term ones hold the estimate (the 2020
    # rule), a single action moves nothing until today's pass them, so the plan is made on
    # today's factors alone, and the estimate follows them to the target.
    estimate_of = scorer(row, model_for(con, account), recent=True)

    def at(t: Totals) -> float:
        s = estimate_of(apply(row, t)).score
        return -1.0 if s is None else s

    def score(actions: Sequence[Action]) -> float:
        return at(totals(actions, facts))

    def cost(a: Action) -> float:
        return costs.of(a, facts[a.sku])

    start = score([])
    chosen: list[Action] = []
    current, done = start, Totals()
    left = [a for a in candidates if a.sku in facts]
    while current < target and left:  # each candidate tried on top of what is chosen
        gains = [(g, a) for a in left
                 if (g := at(done.plus(a, facts[a.sku])) - current) > 0.05]
        if not gains:
            break
        # The 1 keeps a free step's ratio finite: among free steps, the biggest gain.
        gain, best = max(gains, key=lambda g: g[0] / (1.0 + cost(g[1])))
        chosen.append(best)
        left.remove(best)
        done = done.plus(best, facts[best.sku])
        current += gain
    if current >= target:
        # Drop what the target does not need, the costliest first (stable: later first).
        for a in sorted(reversed(chosen), key=cost, reverse=True):
            if len(chosen) > 1 and score([x for x in chosen if x is not a]) >= target:
                chosen.remove(a)
        chosen = _trim_last_removal(chosen, score, target)
    # A removal says the units it really moves: no more than the SKU has.
    chosen = [replace(a, units=min(a.units, facts[a.sku].on_hand)) if a.kind == "remove"
              else a for a in chosen]
    steps = [(a, round(score(chosen[:i + 1]), 1)) for i, a in enumerate(chosen)]
    held = row.score if row.score_recent is not None \
        and (row.score or 0) > row.score_recent else None
    return Plan(None if start < 0 else start, target, tuple(steps),
                tuple(round(cost(a), 2) for a in chosen), costs, held)


def _trim_last_removal(chosen: list[Action], score: Callable[[Sequence[Action]], float],
                       target: float) -> list[Action]:
    """The last removal cut to the fewest whole units that still reach the target."""
    if not chosen or chosen[-1].kind != "remove":
        return chosen
    last = chosen[-1]
    lo, hi = 0, int(last.units)
    while lo < hi:
        mid = (lo + hi) // 2
        if mid and score([*chosen[:-1], Action("remove", last.sku, mid)]) >= target:
            hi = mid
        else:
            lo = mid + 1
    return [*chosen[:-1], Action("remove", last.sku, max(hi, 1))]
