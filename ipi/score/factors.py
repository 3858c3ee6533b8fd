"""The four IPI factors, as Amazon defines them, computed in DuckDB SQL.

One query computes every (marketplace, day) of a date range for an account,
with window functions over the stored snapshots, so a day costs the same
whatever the length of the history.

- FBA units on hand: ``afn-warehouse-quantity`` summed over the MYI report
  (fulfillable + unsellable + reserved); without an MYI report that day, the
  planning report's available + reserved + unfulfillable. Since Amazon's July 2025
  change, units moving between fulfillment centers count as on hand rather than
  reserved: the 2026 layouts give them apart (MYI ``afn-fc-transfer-quantity``,
  planning ``fc-transfer``) and they are added (each report's ``SPEC.on_hand``).
- excess %: Σ ``estimated-excess-quantity`` / units on hand x 100.
- sell-through: Σ ``units-shipped-t90`` / mean(units on hand today and 30, 60,
  90 days ago). When one of those snapshots is missing: the average on hand that
  Amazon's own per-SKU ``sell-through`` implies (t90 / sell-through), else the
  mean of the snapshots there are; marked approximate.
- stranded %: Σ (fulfillable + unfulfillable + reserved) over the stranded
  report / units on hand x 100; no stranded report that day means no value
  (a header-only report means 0).
- in-stock rate: over each ASIN with units shipped in the past 60 days, the
  share of the past 30 days' MYI snapshots in which it had fulfillable units,
  weighted by those 60-day units; approximate with fewer than 30 snapshots.
  The 60-day units come from the latest planning report of the last 30 days
  that lists the ASIN, since the planning report drops most out-of-stock SKUs.
  Read from ``asin_day`` (one row per ASIN and day, kept on load) in one sorted
  pass per ASIN.

History before ``ipi`` started comes from the inventory ledger
(GET_LEDGER_SUMMARY_VIEW_DATA, daily): on a day without an MYI or planning
report, units on hand are the ledger's ending warehouse balances; units
shipped in 90 days are the ledger's customer shipments over the 90 days before
(with fewer ledger days, their pace over 90 days, approximate); an ASIN is in
stock on a ledger day when its SELLABLE ending balance is above 0 (approximate:
that balance includes reserved units), and on days without a planning report
in the 30 days before, the ledger's shipments over 60 days weigh the ASINs. The
ledger says nothing about excess or stranded units: those days are partial.

A day whose reports were loaded but marked unreliable (their row count
collapsed) carries the reason in ``unreliable``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb

from ipi.reports import get_fba_inventory_planning_data as planning
from ipi.reports import get_fba_myi_unsuppressed_inventory_data as myi
from ipi.reports import get_ledger_summary_view_data as ledger
from ipi.reports import get_stranded_inventory_ui_data as stranded

# On-hand counts on each day and 30, 60 and 90 days before it (sell-through's
# snapshots): only those days are read, so one new day costs the same whatever the history.
_ON_HAND_DAYS = " OR ".join(
    f"snapshot_date BETWEEN $start - {k} AND $end - {k}" for k in (0, 30, 60, 90))

FACTOR_SQL = f"""
WITH
parts AS (
    SELECT marketplace, snapshot_date AS d, report_type, unreliable FROM report_partition
    WHERE account = $account AND snapshot_date BETWEEN $start - 120 AND $end
),
days AS (
    SELECT DISTINCT marketplace, d FROM parts WHERE d BETWEEN $start AND $end
),
myi_day AS (
    SELECT marketplace, snapshot_date AS d, sum({myi.SPEC.on_hand}) AS units
    FROM fba_myi_inventory
    WHERE account = $account AND snapshot_date BETWEEN $start - 90 AND $end
        AND ({_ON_HAND_DAYS})
    GROUP BY ALL
),
plan_day AS (
    SELECT marketplace, snapshot_date AS d,
        sum({planning.SPEC.on_hand}) AS units,
        sum(coalesce(estimated_excess_quantity, 0)) AS excess_units,
        sum(coalesce(units_shipped_t90, 0)) AS shipped_t90,
        -- the average on hand Amazon used per SKU, where its sell-through says it
        sum(CASE WHEN sell_through > 0 THEN units_shipped_t90 / sell_through
                 ELSE {planning.SPEC.on_hand} END) AS report_avg,
        count(sell_through) AS with_sell_through
    FROM fba_inventory_planning
    WHERE account = $account AND snapshot_date BETWEEN $start - 90 AND $end
        AND ({_ON_HAND_DAYS})
    GROUP BY ALL
),
ledger_day AS (
    SELECT marketplace, d, units,
        sum(shipped) OVER w90 AS shipped_t90, count(*) OVER w90 AS t90_days
    FROM (SELECT marketplace, snapshot_date AS d,
                 sum(coalesce(ending_warehouse_balance, 0)) AS units,
                 -sum(coalesce(customer_shipments, 0)) AS shipped
          FROM ledger_summary
          WHERE account = $account AND snapshot_date BETWEEN $start - 120 AND $end
          GROUP BY ALL)
    WINDOW w90 AS (PARTITION BY marketplace ORDER BY d
                   RANGE BETWEEN INTERVAL 89 DAYS PRECEDING AND CURRENT ROW)
),
has AS (
    SELECT marketplace, d,
        bool_or(report_type = '{planning.REPORT_TYPE}') AS has_planning,
        bool_or(report_type = '{myi.REPORT_TYPE}') AS has_myi,
        bool_or(report_type = '{stranded.REPORT_TYPE}') AS has_stranded,
        bool_or(report_type = '{ledger.REPORT_TYPE}') AS has_ledger,
        string_agg(unreliable, '; ') AS unreliable
    FROM parts GROUP BY ALL
),
onhand AS (
    SELECT h.marketplace, h.d,
        CASE WHEN h.has_myi THEN coalesce(m.units, 0)
             WHEN h.has_planning THEN coalesce(p.units, 0)
             WHEN h.has_ledger THEN coalesce(l.units, 0) END AS units
    FROM has h
    LEFT JOIN myi_day m ON m.marketplace = h.marketplace AND m.d = h.d
    LEFT JOIN plan_day p ON p.marketplace = h.marketplace AND p.d = h.d
    LEFT JOIN ledger_day l ON l.marketplace = h.marketplace AND l.d = h.d
),
strand AS (
    SELECT marketplace, snapshot_date AS d,
        sum(coalesce(fulfillable_qty, 0) + coalesce(unfulfillable_qty, 0)
            + coalesce(reserved_quantity, 0)) AS units
    FROM stranded_inventory
    WHERE account = $account AND snapshot_date BETWEEN $start AND $end
    GROUP BY ALL
),
stock_snaps AS (
    SELECT marketplace, d, count(*) OVER w30 AS snaps,
        sum((NOT is_myi)::INTEGER) OVER w30 AS ledger_snaps
    FROM (SELECT marketplace, d, bool_or(report_type = '{myi.REPORT_TYPE}') AS is_myi
          FROM parts
          WHERE report_type IN ('{myi.REPORT_TYPE}', '{ledger.REPORT_TYPE}')
              AND d >= $start - 29
          GROUP BY ALL)
    WINDOW w30 AS (PARTITION BY marketplace ORDER BY d
                   RANGE BETWEEN INTERVAL 29 DAYS PRECEDING AND CURRENT ROW)
),
-- whether a planning report of the last 30 days exists, per marketplace and day
plan_near AS (
    SELECT s.marketplace, s.d, coalesce(s.d - p.d <= 29, false) AS near
    FROM (SELECT DISTINCT marketplace, d FROM parts WHERE d >= $start - 59) s
    ASOF LEFT JOIN (SELECT DISTINCT marketplace, d FROM parts
                    WHERE report_type = '{planning.REPORT_TYPE}') p
        ON p.marketplace = s.marketplace AND s.d >= p.d
),
-- The days without a planning report of the last 30 days, per marketplace: there the
-- ledger's shipments weigh the ASINs.
ledger_span AS (
    SELECT marketplace, min(d) AS first, max(d) AS last
    FROM plan_near WHERE d BETWEEN $start AND $end AND NOT near GROUP BY ALL
),
-- One sorted pass per ASIN over asin_day (kept on load: ipi/store/asin_day.py): its
-- days in stock of the last 30, and the 60-day units of the latest planning report of
-- those 30 days that lists it (a day's report leaves most out-of-stock SKUs out: an
-- earlier one still gives their weight). Days are numbered: a RANGE frame over an
-- integer is cheaper than over a date.
asin_window AS (
    SELECT marketplace, d, in_stock, sum(in_stock) OVER w30 AS in_days,
        last_value(t60 IGNORE NULLS) OVER w30 AS t60
    FROM (SELECT *, (d - DATE '2000-01-01')::INTEGER AS dn FROM asin_day
          WHERE account = $account AND d BETWEEN $start - 29 AND $end)
    WINDOW w30 AS (PARTITION BY marketplace, asin ORDER BY dn
                   RANGE BETWEEN 29 PRECEDING AND CURRENT ROW)
),
-- The same with the ledger's shipments of the last 60 days as weights, over the days
-- that need them only (none while planning reports come daily).
ledger_window AS (
    SELECT marketplace, d, in_stock, sum(in_stock) OVER w30 AS in_days,
        sum(shipped) OVER w60 AS t60
    FROM (SELECT a.*, (a.d - DATE '2000-01-01')::INTEGER AS dn FROM asin_day a
          JOIN ledger_span s ON s.marketplace = a.marketplace
              AND a.d BETWEEN s.first - 59 AND s.last
          WHERE a.account = $account AND a.d BETWEEN $start - 59 AND $end)
    WINDOW w30 AS (PARTITION BY marketplace, asin ORDER BY dn
                   RANGE BETWEEN 29 PRECEDING AND CURRENT ROW),
           w60 AS (PARTITION BY marketplace, asin ORDER BY dn
                   RANGE BETWEEN 59 PRECEDING AND CURRENT ROW)
),
weighted AS (
    SELECT w.marketplace, w.d, w.in_days, w.t60
    FROM (SELECT *, true AS planned FROM asin_window
          UNION ALL SELECT *, false FROM ledger_window) w
    JOIN plan_near n ON n.marketplace = w.marketplace AND n.d = w.d AND n.near = w.planned
    WHERE w.in_stock IS NOT NULL AND w.d BETWEEN $start AND $end
),
instock AS (
    SELECT w.marketplace, w.d, sum(w.t60 * w.in_days / s.snaps) / sum(w.t60) AS rate,
        any_value(s.snaps) AS snaps, any_value(s.ledger_snaps) AS ledger_snaps
    FROM weighted w JOIN stock_snaps s ON s.marketplace = w.marketplace AND s.d = w.d
    WHERE w.t60 > 0
    GROUP BY ALL
)
SELECT x.marketplace, x.d AS date, o0.units AS units_on_hand,
    CASE WHEN h.has_planning THEN coalesce(p.excess_units, 0) END AS excess_units,
    CASE WHEN h.has_planning AND o0.units > 0
         THEN 100.0 * coalesce(p.excess_units, 0) / o0.units END AS excess_pct,
    CASE WHEN h.has_planning THEN coalesce(p.shipped_t90, 0)
         -- fewer than 90 ledger days: their pace over 90 days (approximate), not a shortfall
         WHEN h.has_ledger THEN coalesce(l.shipped_t90, 0) * 90.0 / l.t90_days
         END AS units_shipped_t90,
    CASE WHEN o30.units IS NOT NULL AND o60.units IS NOT NULL AND o90.units IS NOT NULL
         THEN (o0.units + o30.units + o60.units + o90.units) / 4.0
         WHEN h.has_planning AND p.with_sell_through > 0 THEN p.report_avg
         ELSE (o0.units + coalesce(o30.units, 0) + coalesce(o60.units, 0)
               + coalesce(o90.units, 0))
              / (1 + (o30.units IS NOT NULL)::INT + (o60.units IS NOT NULL)::INT
                 + (o90.units IS NOT NULL)::INT) END AS avg_units_on_hand,
    NOT (o30.units IS NOT NULL AND o60.units IS NOT NULL AND o90.units IS NOT NULL)
        OR (NOT h.has_planning AND coalesce(l.t90_days, 0) < 90) AS sell_through_approx,
    CASE WHEN h.has_stranded THEN coalesce(s.units, 0) END AS stranded_units,
    CASE WHEN h.has_stranded AND o0.units > 0
         THEN 100.0 * coalesce(s.units, 0) / o0.units END AS stranded_pct,
    i.rate AS in_stock_rate,
    i.snaps AS in_stock_days,
    coalesce(i.snaps, 0) < 30 OR coalesce(i.ledger_snaps, 0) > 0 AS in_stock_approx,
    h.has_ledger AND NOT (h.has_myi OR h.has_planning) AS from_ledger,
    h.unreliable
FROM days x
JOIN has h ON h.marketplace = x.marketplace AND h.d = x.d
LEFT JOIN onhand o0 ON o0.marketplace = x.marketplace AND o0.d = x.d
LEFT JOIN onhand o30 ON o30.marketplace = x.marketplace AND o30.d = x.d - 30
LEFT JOIN onhand o60 ON o60.marketplace = x.marketplace AND o60.d = x.d - 60
LEFT JOIN onhand o90 ON o90.marketplace = x.marketplace AND o90.d = x.d - 90
LEFT JOIN plan_day p ON p.marketplace = x.marketplace AND p.d = x.d
LEFT JOIN strand s ON s.marketplace = x.marketplace AND s.d = x.d
LEFT JOIN instock i ON i.marketplace = x.marketplace AND i.d = x.d
LEFT JOIN ledger_day l ON l.marketplace = x.marketplace AND l.d = x.d
ORDER BY x.d, x.marketplace
"""


def compute_factors(con: duckdb.DuckDBPyConnection, account: str, start: date,
                    end: date) -> list[dict[str, Any]]:
    """Factor values per marketplace and day with data in [start, end]."""
    cur = con.execute(FACTOR_SQL, {"account": account, "start": start, "end": end})
    names = [d[0] for d in cur.description or ()]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    for r in rows:
        st = r["units_shipped_t90"]
        avg = r["avg_units_on_hand"]
        r["sell_through"] = (st / avg) if st is not None and avg else None
    return rows
