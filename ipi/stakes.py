"""What the score costs on a day, in cubic feet and money: each storage type's capacity
outlook (``ipi.capacity.usage``) and each marketplace's fee exposure (``ipi.fees``), as
plain values for ``ipi capacity``, the pages, the daily artifacts and the alerts.

Amazon's published IPI threshold moved over the years (350, 400, 500, 450, 400); since
March 2023 the IPI feeds monthly capacity limits per storage type rather than one storage
cliff, and the fees follow the same habits the IPI grades. So the figures here, not the
points alone, say what is at stake.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb

from ipi.capacity.usage import outlook
from ipi.errors import ConfigError
from ipi.fees import load_rates, marketplaces
from ipi.fees.exposure import exposure
from ipi.settings import Account, Settings


def stakes(con: duckdb.DuckDBPyConnection, settings: Settings, account: Account,
           day: date | None = None, *, fees: bool = True) -> dict[str, Any]:
    """The account's capacity outlook and fee exposure on its newest planning day on or
    before ``day``; ``lines``: the sentences worth an alert (capacity past its warning,
    a surcharge due, the utilization ratio over its threshold, SKUs at low-inventory
    risk). ``fees=False``: what can page alone, cheaply: the storage types with a
    capacity limit, no fees (their SKU by SKU forecast is for a message)."""
    storage = [o.record() for o in outlook(
        con, account.name, day, account.capacity, settings.policy_for(account),
        settings.capacity.warn_share, limited=not fees)]
    exposures: list[dict[str, Any]] = []
    for mp in account.marketplaces if fees else ():
        if mp not in marketplaces():
            exposures.append({"marketplace": mp, "date": None, "note":
                              f"no fee rates for {mp} in ipi yet (ipi/fees/rates.toml)"})
            continue
        try:
            rates = load_rates(mp, settings.fee_overrides(account, mp))
        except ConfigError as exc:  # checked when the configuration was read; say so anyway
            exposures.append({"marketplace": mp, "date": None, "note": str(exc)})
            continue
        got = exposure(con, account.name, mp, day, rates)
        exposures.append(got or {"marketplace": mp, "date": None,
                                 "note": "no data: no planning report stored"})
    return {"account": account.name, "storage": storage, "fees": exposures,
            "lines": at_risk_lines(storage, exposures)}


def _money(value: float, currency: str) -> str:
    return f"{value:,.2f} {currency}"


def at_risk_lines(storage: list[dict[str, Any]], fees: list[dict[str, Any]]) -> list[str]:
    """One line per figure at risk, for alerts and summaries; none when nothing is."""
    lines = [s["line"] for s in storage if s["status"] in ("over", "warning")]
    for f in fees:
        if f.get("date") is None:
            continue
        mp, cur = f["marketplace"], f["currency"]
        a = f["aged"]
        due = a["total"] if a["total"] is not None else a["total_known"]
        if due:
            amazon = (f"; Amazon estimates {_money(a['amazon_total'], cur)}"
                      if a["amazon_total"] is not None else "")
            partial = (f" (at least: {len(a['skus_unknown'])} SKU(s) without a volume)"
                       if a["total"] is None else "")
            lines.append(f"{mp} aged inventory surcharge on {a['assessment_day']}: about "
                         f"{_money(due, cur)}{partial} if nothing sells before{amazon}")
        u = f["utilization"]
        if u["over"]:
            lines.append(f"{mp} storage utilization ratio {u['ratio']:.1f} weeks, over "
                         f"{u['threshold_weeks']:g}: the storage surcharge applies"
                         + (f" ({u['note']})" if u["note"] else ""))
        low = f["low_inventory"]
        if low["at_risk"]:
            lines.append(f"{mp} low-inventory-level fee: {low['at_risk']} SKU(s) under "
                         f"{low['floor_days']:g} days of supply on both views")
    return lines
