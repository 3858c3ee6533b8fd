"""GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA: every active listing, zero stock included.

The basis of FBA units on hand (``afn-warehouse-quantity``) and of the daily
in-stock history: unlike the planning report, it keeps out-of-stock SKUs.
"""

from __future__ import annotations

from typing import Any

from ipi.reports._base import Column, ReportSpec, parse_bytes

REPORT_TYPE = "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA"

SPEC = ReportSpec(
    report_type=REPORT_TYPE,
    table="fba_myi_inventory",
    description="Manage FBA Inventory, active listings (snapshot)",
    on_hand="coalesce(afn_warehouse_quantity, 0)",  # as the factors count it
    signature=(
        "mfn-listing-exists", "afn-listing-exists", "afn-warehouse-quantity",
        "afn-fulfillable-quantity", "afn-unsellable-quantity", "afn-total-quantity",
        "afn-reserved-quantity", "mfn-fulfillable-quantity",
    ),
    columns=(
        Column("sku", ("sku",), required=True, key=True),
        Column("fnsku", ("fnsku",)),
        Column("asin", ("asin",), required=True),
        Column("product_name", ("product-name",)),
        Column("condition", ("condition",)),
        Column("your_price", ("your-price",), "DOUBLE"),
        Column("mfn_listing_exists", ("mfn-listing-exists",)),
        # Every quantity here counts units (in stock, reserved, inbound): never negative.
        Column("mfn_fulfillable_quantity", ("mfn-fulfillable-quantity",), "BIGINT",
               count=True),
        Column("afn_listing_exists", ("afn-listing-exists",)),
        Column("afn_warehouse_quantity", ("afn-warehouse-quantity",), "BIGINT", required=True,
               count=True),
        Column("afn_fulfillable_quantity", ("afn-fulfillable-quantity",), "BIGINT",
               required=True, count=True),
        Column("afn_unsellable_quantity", ("afn-unsellable-quantity",), "BIGINT", count=True),
        Column("afn_reserved_quantity", ("afn-reserved-quantity",), "BIGINT", count=True),
        Column("afn_total_quantity", ("afn-total-quantity",), "BIGINT", count=True),
        Column("per_unit_volume", ("per-unit-volume",), "DOUBLE"),
        Column("afn_inbound_working_quantity", ("afn-inbound-working-quantity",), "BIGINT",
               count=True),
        Column("afn_inbound_shipped_quantity", ("afn-inbound-shipped-quantity",), "BIGINT",
               count=True),
        Column("afn_inbound_receiving_quantity", ("afn-inbound-receiving-quantity",), "BIGINT",
               count=True),
        Column("afn_researching_quantity", ("afn-researching-quantity",), "BIGINT",
               count=True),
    ),
)


def parse(data: bytes, *, charset: str | None = None) -> list[dict[str, Any]]:
    return parse_bytes(SPEC, data, charset=charset)
