"""``asin_day``: one narrow row per account, marketplace, day and ASIN for the in-stock factor.

Derived from the MYI, planning and ledger rows in the transaction that loads them, so
the factor SQL's one sorted pass per ASIN reads one row per ASIN and day instead of
grouping three reports (28 million rows for a large seller's two years) on every
recompute. A load of any of the three for a day rebuilds that day from all three.

- ``in_stock``: on a day with an MYI report, whether the ASIN had fulfillable units (or,
  in the 2026 layout, buyable on-hand units; NULL when the report does not list it);
  else, from the ledger, whether it had a SELLABLE ending balance; NULL without either.
- ``shipped``: the ledger's customer shipments that day.
- ``t60``: the planning report's 60-day units shipped, where it lists the ASIN.
"""

from __future__ import annotations

from datetime import date

from ipi.reports import get_fba_inventory_planning_data as planning
from ipi.reports import get_fba_myi_unsuppressed_inventory_data as myi
from ipi.reports import get_ledger_summary_view_data as ledger

SOURCES = (myi.REPORT_TYPE, planning.REPORT_TYPE, ledger.REPORT_TYPE)


def refresh_sql(days: str, lo: date = date.min, hi: date = date.max) -> list[str]:
    """Statements that rebuild ``asin_day`` for the (account, marketplace, d) rows of
    ``days`` (a table or subquery), whose dates lie in [lo, hi]: the bounds let each report
    table be read over those days only."""
    bounds = f"snapshot_date BETWEEN DATE '{lo.isoformat()}' AND DATE '{hi.isoformat()}'"
    return [f"""
    DELETE FROM asin_day a USING ({days}) p
    WHERE a.d BETWEEN DATE '{lo.isoformat()}' AND DATE '{hi.isoformat()}'
        AND a.account = p.account AND a.marketplace = p.marketplace AND a.d = p.d
    """, f"""
    INSERT INTO asin_day (account, marketplace, d, asin, in_stock, shipped, t60)
    WITH days AS (
        SELECT p.account, p.marketplace, p.d,
            EXISTS (SELECT 1 FROM report_partition r
                    WHERE r.account = p.account AND r.marketplace = p.marketplace
                        AND r.snapshot_date = p.d
                        AND r.report_type = '{myi.REPORT_TYPE}') AS has_myi
        FROM ({days}) p
    )
    SELECT x.account, x.marketplace, x.d, x.asin,
        CASE WHEN any_value(days.has_myi) THEN max(x.myi_in) ELSE max(x.ledger_in) END,
        sum(x.shipped), sum(x.t60)
    FROM (
        SELECT account, marketplace, snapshot_date AS d, asin,
            -- the 2026 layout's buyable on-hand units include FC transfers customers can buy
            (greatest(coalesce(afn_fulfillable_quantity, 0),
                      coalesce(afn_onhand_buyable_quantity, 0)) > 0)::INTEGER AS myi_in,
            NULL::INTEGER AS ledger_in, NULL::BIGINT AS shipped, NULL::BIGINT AS t60
        FROM fba_myi_inventory
        WHERE {bounds} AND asin IS NOT NULL
        UNION ALL
        SELECT account, marketplace, snapshot_date, coalesce(asin, fnsku), NULL,
            (disposition = 'SELLABLE' AND ending_warehouse_balance > 0)::INTEGER,
            -coalesce(customer_shipments, 0), NULL
        FROM ledger_summary
        WHERE {bounds}
        UNION ALL
        SELECT account, marketplace, snapshot_date, asin, NULL, NULL, NULL,
            coalesce(units_shipped_t60, 0)
        FROM fba_inventory_planning
        WHERE {bounds} AND asin IS NOT NULL
    ) x
    JOIN days ON days.account = x.account AND days.marketplace = x.marketplace
        AND days.d = x.d
    GROUP BY x.account, x.marketplace, x.d, x.asin
    """]
