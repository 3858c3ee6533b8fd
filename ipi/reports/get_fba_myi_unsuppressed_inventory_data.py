"""GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA: every active listing, zero stock included.

The basis of FBA units on hand (``afn-warehouse-quantity``, with FC transfers since the
2026 layout) and of the daily in-stock history (fulfillable or, in the 2026 layout,
buyable on-hand units): unlike the planning report, it keeps out-of-stock SKUs.
"""

from __future__ import annotations

from typing import Any

from ipi.reports._base import Column, ReportSpec, parse_bytes

REPORT_TYPE = "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA"

SPEC = ReportSpec(
    report_type=REPORT_TYPE,
    table="fba_myi_inventory",
    description="Manage FBA Inventory, active listings (snapshot)",
    # As the factors count it. Since July 2025 units moving between fulfillment centers
    # count as on hand, and the 2026 layout gives them apart (afn-fc-transfer-quantity);
    # whether afn-warehouse-quantity includes them is not documented, so the greater of it
    # and the parts with the transfers counts each unit once either way.
    on_hand="CASE WHEN afn_fc_transfer_quantity IS NULL THEN coalesce(afn_warehouse_quantity, 0) "
            "ELSE greatest(coalesce(afn_warehouse_quantity, 0), "
            "coalesce(afn_fulfillable_quantity, 0) + coalesce(afn_unsellable_quantity, 0) "
            "+ coalesce(afn_reserved_quantity, 0) + afn_fc_transfer_quantity) END",
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
        # The 2026 layout: units moving between fulfillment centers (on hand since July
        # 2025), and the units on hand customers can buy (FC transfers included).
        Column("afn_fc_transfer_quantity", ("afn-fc-transfer-quantity",), "BIGINT",
               count=True),
        Column("afn_onhand_buyable_quantity", ("afn-onhand-buyable-quantity",), "BIGINT",
               count=True),
    ),
)


def parse(data: bytes, *, charset: str | None = None) -> list[dict[str, Any]]:
    return parse_bytes(SPEC, data, charset=charset)
