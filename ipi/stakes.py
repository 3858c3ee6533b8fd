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
from functools import partial
from typing import Any

import duckdb

from ipi.capacity.usage import outlook
from ipi.errors import ConfigError
from ipi.fees import load_rates, marketplaces
from ipi.fees.compute import Span
from ipi.fees.exposure import calendar, calendar_record, exposure, newest_day
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
        # A day's fees at the rates in force that day (a backfilled 2025 day at 2025's).
        rates_on = partial(load_rates, mp, settings.fee_overrides(account, mp))
        try:
            got = exposure(con, account.name, mp, day, rates_on)
        except ConfigError as exc:  # overrides are checked when the configuration is read;
            # a day older than ipi's rates is refused here
            exposures.append({"marketplace": mp, "date": None, "note": str(exc)})
            continue
        exposures.append(got or {"marketplace": mp, "date": None,
                                 "note": "no data: no planning report stored"})
    return {"account": account.name, "storage": storage, "fees": exposures,
            "lines": at_risk_lines(storage, exposures)}


def fee_calendar(con: duckdb.DuckDBPyConnection, settings: Settings, account: Account,
                 day: date | None = None) -> list[dict[str, Any]]:
    """Per marketplace, each SKU's next assessment: what it costs and what avoids it
    (``ipi.fees.compute.fee_calendar``), as plain values; a marketplace without rates or
    planning reports carries a ``note`` instead."""
    out: list[dict[str, Any]] = []
    for mp in account.marketplaces:
        if mp not in marketplaces():
            out.append({"marketplace": mp, "date": None, "rows": [],
                        "note": f"no fee rates for {mp} in ipi yet (ipi/fees/rates.toml)"})
            continue
        rates_on = partial(load_rates, mp, settings.fee_overrides(account, mp))
        try:
            rows = calendar(con, account.name, mp, day, rates_on)
        except ConfigError as exc:
            out.append({"marketplace": mp, "date": None, "rows": [], "note": str(exc)})
            continue
        if rows is None:
            out.append({"marketplace": mp, "date": None, "rows": [],
                        "note": "no data: no planning report stored"})
            continue
        on = newest_day(con, account.name, mp, day)
        out.append({"marketplace": mp, "date": on, "currency": rates_on(on).currency,
                    "assessment": rows[0].assessment if rows else None,
                    "rows": [calendar_record(r) for r in rows]})
    return out


def _money(value: float, currency: str) -> str:
    return f"{value:,.2f} {currency}"


FEE_NAMES = {"aged": "aged inventory surcharge", "utilization": "storage utilization surcharge",
             "low_inventory": "low-inventory-level fee"}


def span_text(v: dict[str, float] | None, currency: str) -> str:
    """A plain ``{"low", "high"}`` amount as text: one figure, or a range ("-": none)."""
    return "-" if v is None else Span(v["low"], v["high"]).text(currency)


def fee_text(row: dict[str, Any], currency: str) -> str:
    """A fee's figure as it leads: Amazon's own forecast where it gave one, with ipi's as
    the explanation beside; else ipi's (a range where a size is unknown)."""
    mine = "no data" if row["ipi"] is None else span_text(row["ipi"], currency)
    if row["headline"] == "amazon":
        return f"{_money(row['amazon'], currency)} by Amazon's forecast (ipi: {mine})"
    return mine if row["ipi"] is None or mine.startswith("up to") else f"about {mine}"


def at_risk_lines(storage: list[dict[str, Any]], fees: list[dict[str, Any]]) -> list[str]:
    """One line per figure at risk, for alerts and summaries; none when nothing is."""
    lines = [s["line"] for s in storage if s["status"] in ("over", "warning")]
    for f in fees:
        if f.get("date") is None:
            continue
        mp, cur, a = f["marketplace"], f["currency"], f["aged"]
        due = f["window"]["end"]
        for row in f["compare"]:
            ipi, amazon = row["ipi"], row["amazon"]
            # Only what is due for certain: a range from nothing (a view missing) is shown
            # in `ipi capacity` and the pages, never put in a page.
            if not ((ipi and ipi["low"] > 0) or amazon):
                continue
            what = FEE_NAMES[row["fee"]]
            if row["fee"] == "aged":
                unknown = (f" (at least: {len(a['skus_unknown'])} SKU(s) without a volume)"
                           if a["total"] is None else "")
                lines.append(f"{mp} {what} on {due}: {fee_text(row, cur)}{unknown} if nothing "
                             "sells before")
            else:
                lines.append(f"{mp} {what} until {due}: {fee_text(row, cur)}")
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
