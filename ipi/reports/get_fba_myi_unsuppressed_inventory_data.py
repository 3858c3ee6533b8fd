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
        Column("mfn_fulfillable_quantity", ("mfn-fulfillable-quantity",), "BIGINT"),
        Column("afn_listing_exists", ("afn-listing-exists",)),
        Column("afn_warehouse_quantity", ("afn-warehouse-quantity",), "BIGINT", required=True),
        Column("afn_fulfillable_quantity", ("afn-fulfillable-quantity",), "BIGINT",
               required=True),
        Column("afn_unsellable_quantity", ("afn-unsellable-quantity",), "BIGINT"),
        Column("afn_reserved_quantity", ("afn-reserved-quantity",), "BIGINT"),
        Column("afn_total_quantity", ("afn-total-quantity",), "BIGINT"),
        Column("per_unit_volume", ("per-unit-volume",), "DOUBLE"),
        Column("afn_inbound_working_quantity", ("afn-inbound-working-quantity",), "BIGINT"),
        Column("afn_inbound_shipped_quantity", ("afn-inbound-shipped-quantity",), "BIGINT"),
        Column("afn_inbound_receiving_quantity", ("afn-inbound-receiving-quantity",), "BIGINT"),
        Column("afn_researching_quantity", ("afn-researching-quantity",), "BIGINT"),
    ),
)


def parse(data: bytes, *, charset: str | None = None) -> list[dict[str, Any]]:
    return parse_bytes(SPEC, data, charset=charset)
