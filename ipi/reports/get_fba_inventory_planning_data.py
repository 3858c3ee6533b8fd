"""GET_FBA_INVENTORY_PLANNING_DATA: Manage Inventory Health, one row per SKU and day.

Feeds excess (``estimated-excess-quantity``), sell-through (``units-shipped-t90``
and Amazon's own ``sell-through``) and the in-stock weights (``units-shipped-t60``).
Amazon renames columns without notice: the live layout says
``Total Reserved Quantity`` where older files say ``reserved-quantity``, and
dropped ``inv-age-365-plus-days`` for ``366-to-455`` and ``456-plus`` buckets.
"""

from __future__ import annotations

from typing import Any

from ipi.reports._base import Column, ReportSpec, parse_bytes

REPORT_TYPE = "GET_FBA_INVENTORY_PLANNING_DATA"

SPEC = ReportSpec(
    report_type=REPORT_TYPE,
    table="fba_inventory_planning",
    description="Manage Inventory Health (daily snapshot per SKU)",
    date_column="report_date",
    marketplace_column="report_marketplace",
    # As the factors count it when there is no MYI report that day.
    on_hand="coalesce(available, 0) + coalesce(reserved_quantity, 0) "
            "+ coalesce(unfulfillable_quantity, 0)",
    signature=(
        "snapshot-date", "estimated-excess-quantity", "units-shipped-t90", "days-of-supply",
        "inv-age-0-to-90-days", "recommended-action", "sell-through", "healthy-inventory-level",
        "units-shipped-t30", "weeks-of-cover-t90",
    ),
    columns=(
        Column("report_date", ("snapshot-date",), "DATE"),
        Column("report_marketplace", ("marketplace",)),
        Column("sku", ("sku",), required=True, key=True),
        Column("fnsku", ("fnsku",)),
        Column("asin", ("asin",), required=True),
        Column("product_name", ("product-name",)),
        Column("condition", ("condition",)),
        # Every BIGINT here counts units in stock, inbound, aged or shipped: never negative.
        Column("available", ("available",), "BIGINT", required=True, count=True),
        Column("pending_removal_quantity", ("pending-removal-quantity",), "BIGINT", count=True),
        Column("reserved_quantity", ("Total Reserved Quantity", "reserved-quantity"), "BIGINT",
               count=True),
        Column("unfulfillable_quantity", ("unfulfillable-quantity",), "BIGINT", count=True),
        Column("inbound_quantity", ("inbound-quantity",), "BIGINT", count=True),
        Column("units_shipped_t7", ("units-shipped-t7",), "BIGINT", count=True),
        Column("units_shipped_t30", ("units-shipped-t30",), "BIGINT", count=True),
        Column("units_shipped_t60", ("units-shipped-t60",), "BIGINT", required=True, count=True),
        Column("units_shipped_t90", ("units-shipped-t90",), "BIGINT", required=True, count=True),
        Column("sell_through", ("sell-through",), "DOUBLE"),
        Column("days_of_supply", ("days-of-supply",), "DOUBLE"),
        # Units too, though Amazon may write them with decimals.
        Column("estimated_excess_quantity", ("estimated-excess-quantity",), "DOUBLE",
               required=True, count=True),
        Column("recommended_action", ("recommended-action",)),
        Column("healthy_inventory_level", ("healthy-inventory-level",), "DOUBLE"),
        Column("inv_age_0_to_90_days", ("inv-age-0-to-90-days",), "BIGINT", count=True),
        Column("inv_age_91_to_180_days", ("inv-age-91-to-180-days",), "BIGINT", count=True),
        Column("inv_age_181_to_270_days", ("inv-age-181-to-270-days",), "BIGINT", count=True),
        Column("inv_age_271_to_365_days", ("inv-age-271-to-365-days",), "BIGINT", count=True),
        Column("inv_age_365_plus_days", ("inv-age-365-plus-days",), "BIGINT", count=True),
        Column("inv_age_366_to_455_days", ("inv-age-366-to-455-days",), "BIGINT", count=True),
        Column("inv_age_456_plus_days", ("inv-age-456-plus-days",), "BIGINT", count=True),
        Column("currency", ("currency",)),
        Column("your_price", ("your-price",), "DOUBLE"),
        Column("storage_type", ("storage-type",)),
        Column("storage_volume", ("storage-volume",), "DOUBLE"),
        Column("alert", ("alert",)),
    ),
)


def parse(data: bytes, *, charset: str | None = None) -> list[dict[str, Any]]:
    return parse_bytes(SPEC, data, charset=charset)
