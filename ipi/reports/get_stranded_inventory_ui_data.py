"""GET_STRANDED_INVENTORY_UI_DATA: units in Amazon's warehouses that cannot sell now.

Feeds stranded inventory %. A header-only file is a valid report: nothing is
stranded. A SKU can be listed once per stranded reason, so rows are not unique
by SKU.
"""

from __future__ import annotations

from typing import Any

from ipi.reports._base import Column, ReportSpec, parse_bytes

REPORT_TYPE = "GET_STRANDED_INVENTORY_UI_DATA"

SPEC = ReportSpec(
    report_type=REPORT_TYPE,
    table="stranded_inventory",
    description="Stranded inventory (point in time)",
    unique=False,
    steady_rows=False,
    # No on_hand: stranded units going from none to many and back is what the report is for.
    signature=(
        "primary-action", "date-stranded", "stranded-reason", "status-primary",
        "status-secondary", "error-message", "fulfillable-qty", "unfulfillable-qty",
    ),
    columns=(
        Column("sku", ("sku",), required=True, key=True),
        Column("asin", ("asin",)),
        Column("fnsku", ("fnsku",)),
        Column("product_name", ("product-name",)),
        Column("condition", ("condition",)),
        Column("primary_action", ("primary-action",)),
        Column("date_stranded", ("date-stranded",), "DATE"),
        Column("date_to_take_auto_removal", ("Date-to-take-auto-removal",), "DATE"),
        Column("status_primary", ("status-primary",)),
        Column("status_secondary", ("status-secondary",)),
        Column("error_message", ("error-message",)),
        Column("stranded_reason", ("stranded-reason",), required=True),
        Column("fulfilled_by", ("fulfilled-by",)),
        # Stranded units, per disposition: never negative.
        Column("fulfillable_qty", ("fulfillable-qty",), "BIGINT", required=True, count=True),
        Column("unfulfillable_qty", ("unfulfillable-qty",), "BIGINT", count=True),
        Column("reserved_quantity", ("reserved-quantity",), "BIGINT", count=True),
        Column("inbound_shipped_qty", ("inbound-shipped-qty",), "BIGINT", count=True),
        Column("your_price", ("your-price",), "DOUBLE"),
    ),
)


def parse(data: bytes, *, charset: str | None = None) -> list[dict[str, Any]]:
    return parse_bytes(SPEC, data, charset=charset)
