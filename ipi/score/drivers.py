"""The SKUs that pull a day's factors down the most, with what to do about them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb


@dataclass(frozen=True)
class Driver:
    factor: str  # excess | stranded | in_stock
    sku: str
    asin: str | None
    name: str | None
    units: float
    detail: str
    action: str

    def line(self) -> str:
        label = f"{self.sku}" + (f" ({self.asin})" if self.asin else "")
        return f"{label}: {self.detail} -> {self.action}"


def top_drivers(con: duckdb.DuckDBPyConnection, account: str, marketplace: str, day: date,
                n: int = 3) -> list[Driver]:
    """Top ``n`` SKUs for excess and stranded units, and stocked-out best sellers."""
    p = {"a": account, "m": marketplace, "d": day, "n": n}
    out: list[Driver] = []
    for sku, asin, name, units, action in con.execute(
        """SELECT sku, asin, product_name, estimated_excess_quantity, recommended_action
           FROM fba_inventory_planning
           WHERE account = $a AND marketplace = $m AND snapshot_date = $d
             AND estimated_excess_quantity > 0
           ORDER BY estimated_excess_quantity DESC, sku LIMIT $n""", p).fetchall():
        act = action if action and action.lower() != "no action" else "discount or remove"
        out.append(Driver("excess", sku, asin, name, units, f"{units:,.0f} excess units", act))
    for sku, asin, name, units, reason, since in con.execute(
        """SELECT sku, any_value(asin), any_value(product_name),
                  sum(coalesce(fulfillable_qty, 0) + coalesce(unfulfillable_qty, 0)
                      + coalesce(reserved_quantity, 0)) AS units,
                  string_agg(DISTINCT stranded_reason, '; '), min(date_stranded)
           FROM stranded_inventory
           WHERE account = $a AND marketplace = $m AND snapshot_date = $d
           GROUP BY sku HAVING units > 0 ORDER BY units DESC, sku LIMIT $n""", p).fetchall():
        days = f", {(day - since).days} days" if since else ""
        out.append(Driver("stranded", sku, asin, name, units,
                          f"{units:,.0f} stranded units ({reason}{days})", "fix the listing"))
    for sku, asin, name, t60 in con.execute(
        """SELECT m.sku, m.asin, m.product_name, p.units_shipped_t60
           FROM fba_myi_inventory m
           JOIN (SELECT sku, arg_max(units_shipped_t60, snapshot_date) AS units_shipped_t60
                 FROM fba_inventory_planning
                 WHERE account = $a AND marketplace = $m
                   AND snapshot_date BETWEEN $d - 29 AND $d GROUP BY sku) p USING (sku)
           WHERE m.account = $a AND m.marketplace = $m AND m.snapshot_date = $d
             AND coalesce(m.afn_fulfillable_quantity, 0) = 0 AND p.units_shipped_t60 > 0
           ORDER BY p.units_shipped_t60 DESC, m.sku LIMIT $n""", p).fetchall():
        out.append(Driver("in_stock", sku, asin, name, t60,
                          f"out of stock, {t60:,.0f} units sold in 60 days", "restock"))
    return out
