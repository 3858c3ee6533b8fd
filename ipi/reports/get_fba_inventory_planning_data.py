"""GET_FBA_INVENTORY_PLANNING_DATA: Manage Inventory Health, one row per SKU and day.

Feeds excess (``estimated-excess-quantity``), sell-through (``units-shipped-t90``
and Amazon's own ``sell-through``) and the in-stock weights (``units-shipped-t60``);
capacity (``storage-type``, ``storage-volume``, ``item-volume``, inbound quantities) and
the fees (age buckets, ``estimated-ais-*``, historical days of supply).
Amazon renames columns without notice: the live layout says
``Total Reserved Quantity`` where older files say ``reserved-quantity``, and
dropped ``inv-age-365-plus-days`` for ``366-to-455`` and ``456-plus`` buckets (January
2026), and replaced "Reserved FC Transfer" with ``fc-transfer`` (June 2026).
"""

from __future__ import annotations

from typing import Any

from ipi.reports._base import Column, ReportSpec, parse_bytes

REPORT_TYPE = "GET_FBA_INVENTORY_PLANNING_DATA"
# The age tiers of Amazon's estimated-ais-<first>-<last>-days columns (then 456-plus).
AIS_TIERS = ((181, 210), (211, 240), (241, 270), (271, 300), (301, 330), (331, 365),
             (366, 455))

SPEC = ReportSpec(
    report_type=REPORT_TYPE,
    table="fba_inventory_planning",
    description="Manage Inventory Health (daily snapshot per SKU)",
    date_column="report_date",
    marketplace_column="report_marketplace",
    # As the factors count it when there is no MYI report that day. Units moving between
    # fulfillment centers count as on hand since July 2025: the June 2026 layout gives
    # them as ``fc-transfer``, outside the reserved quantity (the older "Reserved FC
    # Transfer" was a part of it, already counted, so it is not read).
    on_hand="coalesce(available, 0) + coalesce(reserved_quantity, 0) "
            "+ coalesce(unfulfillable_quantity, 0) + coalesce(fc_transfer, 0)",
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
        Column("fc_transfer", ("fc-transfer",), "BIGINT", count=True),
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
        # Decides the aged surcharge's apparel exemption (ipi.fees.rates.toml: exempt_groups).
        Column("product_group", ("product-group",)),
        Column("storage_volume", ("storage-volume",), "DOUBLE"),
        Column("alert", ("alert",)),
        # What capacity and the fees need (ipi/capacity.py, ipi/fees): all optional, since
        # each layout has its own subset. One unit's volume, in volume-unit-measurement.
        Column("item_volume", ("item-volume",), "DOUBLE"),
        Column("volume_unit_measurement", ("volume-unit-measurement",)),
        Column("inbound_working", ("inbound-working",), "BIGINT", count=True),
        Column("inbound_shipped", ("inbound-shipped",), "BIGINT", count=True),
        Column("inbound_received", ("inbound-received",), "BIGINT", count=True),
        Column("inv_age_0_to_30_days", ("inv-age-0-to-30-days",), "BIGINT", count=True),
        Column("inv_age_31_to_60_days", ("inv-age-31-to-60-days",), "BIGINT", count=True),
        Column("inv_age_61_to_90_days", ("inv-age-61-to-90-days",), "BIGINT", count=True),
        Column("inv_age_181_to_330_days", ("inv-age-181-to-330-days",), "BIGINT", count=True),
        Column("inv_age_331_to_365_days", ("inv-age-331-to-365-days",), "BIGINT", count=True),
        # Amazon's own aged inventory surcharge estimates, in the report's currency.
        *(Column(f"estimated_ais_{a}_{b}_days", (f"estimated-ais-{a}-{b}-days",), "DOUBLE")
          for a, b in AIS_TIERS),
        Column("estimated_ais_456_plus_days", ("estimated-ais-456-plus-days",), "DOUBLE"),
        Column("estimated_storage_cost_next_month", ("estimated-storage-cost-next-month",),
               "DOUBLE"),
        # The low-inventory-level fee: days of supply as Amazon judges them, and its verdict.
        Column("historical_days_of_supply", ("historical-days-of-supply",), "DOUBLE"),
        Column("short_term_historical_days_of_supply",
               ("short-term-historical-days-of-supply",), "DOUBLE"),
        Column("long_term_historical_days_of_supply",
               ("long-term-historical-days-of-supply",), "DOUBLE"),
        Column("fba_minimum_inventory_level", ("fba-minimum-inventory-level",), "DOUBLE"),
        Column("fba_inventory_level_health_status", ("fba-inventory-level-health-status",)),
        # Seller Central writes these two as questions ("...fee?"): headers are normalized.
        Column("exempted_from_low_inventory_level_fee",
               ("exempted-from-low-inventory-level-fee",)),
        Column("low_inventory_level_fee_applied",
               ("low-inventory-level-fee-applied-in-current-week",
                "low-inventory-level-fee-applied")),
    ),
)


def parse(data: bytes, *, charset: str | None = None) -> list[dict[str, Any]]:
    return parse_bytes(SPEC, data, charset=charset)
