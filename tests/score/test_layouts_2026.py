"""The 2026 report layouts: FC-transfer units count as on hand (Amazon's July 2025 change),
buyable on-hand units count as in stock, and older layouts read as before."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ipi.score import score_range, scores
from ipi.store import Store
from ipi.store.load import load_file

D = date(2026, 11, 20)
GOLDEN = Path(__file__).resolve().parents[1] / "data" / "reports"
MYI = ("sku\tasin\tafn-listing-exists\tmfn-listing-exists\tafn-warehouse-quantity\t"
       "afn-fulfillable-quantity\tafn-unsellable-quantity\tafn-reserved-quantity")


def _load(store: Store, path: Path) -> None:
    load_file(store, "acme", path, ingest_day=D, default_marketplace="US")


def _day(store: Store) -> dict:
    with store.write() as con:
        score_range(con, "acme", D, D)
    with store.read() as con:
        [row] = scores(con, "acme", start=D, end=D)
    return row


def test_fc_transfers_count_as_on_hand_in_the_2026_layouts(fresh_db: Store) -> None:
    """MYI 2026: the hoodie's 147 warehouse units are its parts without the 5 in transfer,
    so it holds 152; the mug's 3 units are all in transfer: 155 on hand. In stock: the
    mug's 3 buyable units count though none is fulfillable."""
    _load(fresh_db, GOLDEN / "GET_FBA_INVENTORY_PLANNING_DATA" / "layout-2026.tsv")
    _load(fresh_db, GOLDEN / "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA" / "layout-2026.tsv")
    row = _day(fresh_db)
    assert row.units_on_hand == 155
    in_stock = fresh_db.query("SELECT asin, in_stock FROM asin_day WHERE d = $day ORDER BY asin",
                              {"day": D})
    assert {r["asin"]: r["in_stock"] for r in in_stock}["B0MUGS0003"] == 1


def test_planning_fc_transfer_is_on_hand_without_an_myi_report(fresh_db: Store) -> None:
    """Planning 2026 alone: 140 + 6 + 1 + 5 (fc-transfer) and 60: 212 units on hand."""
    _load(fresh_db, GOLDEN / "GET_FBA_INVENTORY_PLANNING_DATA" / "layout-2026.tsv")
    assert _day(fresh_db).units_on_hand == 212


def test_a_warehouse_quantity_that_already_holds_the_transfers_is_not_counted_twice(
        fresh_db: Store, tmp_path: Path) -> None:
    """Whether afn-warehouse-quantity includes FC transfers is undocumented: 50 warehouse
    units made of 40 + 2 + 3 + 5 in transfer are 50, not 55."""
    path = tmp_path / f"myi-{D}.txt"
    path.write_text(MYI + "\tafn-fc-transfer-quantity\nS\tA\tYes\tNo\t50\t40\t2\t3\t5\n")
    _load(fresh_db, path)
    _load(fresh_db, GOLDEN / "GET_FBA_INVENTORY_PLANNING_DATA" / "layout-2026.tsv")
    assert _day(fresh_db).units_on_hand == 50


def test_an_older_myi_layout_counts_the_warehouse_quantity_as_before(
        fresh_db: Store, tmp_path: Path) -> None:
    """No transfer column: 47 warehouse units are 47, whatever their parts add up to."""
    path = tmp_path / f"myi-{D}.txt"
    path.write_text(MYI + "\nS\tA\tYes\tNo\t47\t40\t2\t3\n")
    _load(fresh_db, path)
    _load(fresh_db, GOLDEN / "GET_FBA_INVENTORY_PLANNING_DATA" / "layout-2026.tsv")
    assert _day(fresh_db).units_on_hand == 47
