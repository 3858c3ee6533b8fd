"""GET_LEDGER_SUMMARY_VIEW_DATA: the inventory ledger, per FNSKU and day (or week, month).

The one inventory report that takes a date range (``aggregatedByTimePeriod``
DAILY, about 18 months back): daily ending balances and customer shipments
rebuild on-hand and sell-through history from before ``ipi`` started. CamelCase
headers and MM/DD/YYYY dates; one file spans many days, each a partition.
"""

from __future__ import annotations

from typing import Any

from ipi.reports._base import Column, ReportSpec, parse_bytes

REPORT_TYPE = "GET_LEDGER_SUMMARY_VIEW_DATA"

SPEC = ReportSpec(
    report_type=REPORT_TYPE,
    table="ledger_summary",
    description="Inventory ledger summary (daily balances and events per FNSKU)",
    date_column="report_date",
    unique=False,  # one row per FNSKU, disposition and location
    steady_rows=False,
    on_hand="coalesce(ending_warehouse_balance, 0)",  # as the factors count it
    signature=(
        "StartingWarehouseBalance", "InTransitBetweenWarehouses", "Receipts",
        "CustomerShipments", "CustomerReturns", "EndingWarehouseBalance", "Disposition",
        "UnknownEvents", "VendorReturns",
    ),
    columns=(
        Column("report_date", ("Date",), "DATE", required=True),
        Column("fnsku", ("FNSKU",), required=True, key=True),
        Column("asin", ("ASIN",)),
        Column("msku", ("MSKU",)),
        Column("title", ("Title",)),
        Column("disposition", ("Disposition",), required=True),
        # No column here is refused when negative. The events are signed: units leaving
        # (CustomerShipments, VendorReturns, Lost, Damaged, Disposed) are written negative
        # (-6 shipped in the golden file), and transfers, in-transit, other and unknown
        # events move both ways. The balances are Amazon's running totals of those events
        # (starting + events = ending), not a count taken on a shelf: refusing a 30-day
        # window for one row of an event posted out of order would lose all the history
        # it carries. The tenfold-jump warning watches their daily sum instead.
        Column("starting_warehouse_balance", ("StartingWarehouseBalance",), "BIGINT"),
        Column("in_transit_between_warehouses", ("InTransitBetweenWarehouses",), "BIGINT"),
        Column("receipts", ("Receipts",), "BIGINT"),
        Column("customer_shipments", ("CustomerShipments",), "BIGINT", required=True),
        Column("customer_returns", ("CustomerReturns",), "BIGINT"),
        Column("vendor_returns", ("VendorReturns",), "BIGINT"),
        Column("warehouse_transfer_in_out", ("WarehouseTransferIn/Out",), "BIGINT"),
        Column("found", ("Found",), "BIGINT"),
        Column("lost", ("Lost",), "BIGINT"),
        Column("damaged", ("Damaged",), "BIGINT"),
        Column("disposed", ("Disposed",), "BIGINT"),
        Column("other_events", ("OtherEvents",), "BIGINT"),
        Column("ending_warehouse_balance", ("EndingWarehouseBalance",), "BIGINT",
               required=True),
        Column("unknown_events", ("UnknownEvents",), "BIGINT"),
        Column("location", ("Location",)),
    ),
)


def parse(data: bytes, *, charset: str | None = None) -> list[dict[str, Any]]:
    return parse_bytes(SPEC, data, charset=charset)
