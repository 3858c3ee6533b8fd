"""Helpers the score tests share (no tests here): a small seller whose four factors are
worked out by hand (``seller``), the reports' headers and a loader for more rows."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from ipi.store import Store
from ipi.store.load import load_file

D = date(2026, 4, 30)
MYI = "sku\tasin\tafn-listing-exists\tmfn-listing-exists\tafn-warehouse-quantity\t" \
      "afn-fulfillable-quantity\n"
PLAN = "snapshot-date\tsku\tasin\tavailable\tunits-shipped-t60\tunits-shipped-t90\t" \
       "estimated-excess-quantity\tsell-through\tmarketplace\n"
STRANDED = "primary-action\tdate-stranded\tstranded-reason\tasin\tsku\tfulfillable-qty\t" \
           "unfulfillable-qty\treserved-quantity\n"


def put(store: Store, folder: Path, name: str, text: str, mp: str = "US") -> None:
    """``text`` written to ``folder/name`` and loaded for acme, ingested on day ``D``."""
    path = folder / name
    path.write_text(text)
    load_file(store, "acme", path, ingest_day=D, default_marketplace=mp)


def seller(store: Store, folder: Path, *, full_history: bool, mp: str = "US") -> None:
    """ASIN A (SKU SA) sells 2 units in 60 days and was in stock half of the last 30 days;
    ASIN B (SKU SB) sells 3 and was always in stock. On hand: 100 today, 80, 60 and 80 units
    30, 60 and 90 days ago. 120 units shipped in 90 days; 25 excess; 5 stranded."""
    days = range(30) if full_history else range(1)
    for k in days:
        day = D - timedelta(days=k)
        a_stock = 4 if k % 2 else 0  # in stock on 15 of the 30 days, out today
        put(store, folder, f"myi-{mp}-{day}.txt",
            MYI + f"SA\tA\tYes\tNo\t{a_stock}\t{a_stock}\nSB\tB\tYes\tNo\t{100 - a_stock}\t"
                  f"{100 - a_stock}\n", mp)
    if full_history:
        for k, units in ((30, 80), (60, 60), (90, 80)):
            put(store, folder, f"myi-{mp}-{D - timedelta(days=k)}.txt",
                MYI + f"SB\tB\tYes\tNo\t{units}\t{units}\n", mp)
    # Amazon's own sell-through says SB's average on hand was 80 (80 / 1.0) and SA's 40.
    put(store, folder, f"plan-{mp}.txt",
        PLAN + f"{D}\tSA\tA\t0\t2\t40\t0\t1.0\t{mp}\n{D}\tSB\tB\t100\t3\t80\t25\t1.0\t{mp}\n", mp)
    put(store, folder, f"stranded-{mp}-{D}.txt",
        STRANDED + "Relist\t2026-04-01\tListing closed\tB\tSB\t3\t0\t2\n", mp)
