"""History rebuilt from the inventory ledger, checked against hand-computed values."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from ipi.score import score_range, scores
from ipi.store import Store
from ipi.store.load import load_file

D = date(2026, 4, 30)
LEDGER = ("Date\tFNSKU\tASIN\tMSKU\tTitle\tDisposition\tStartingWarehouseBalance\t"
          "CustomerShipments\tEndingWarehouseBalance\tLocation\n")
MYI = "sku\tasin\tafn-listing-exists\tmfn-listing-exists\tafn-warehouse-quantity\t" \
      "afn-fulfillable-quantity\n"


def ledger_row(day: date, asin: str, disposition: str, shipped: int, ending: int) -> str:
    return (f"{day:%m/%d/%Y}\tX{asin}\t{asin}\tS{asin}\tItem {asin}\t{disposition}\t0\t"
            f"{-shipped}\t{ending}\tUS\n")


def write_ledger(folder: Path, days: range) -> Path:
    """ASIN B: 100 on hand today (98 sellable, 2 defective), 80, 60 and 80 units 30, 60
    and 90 days ago, 90 otherwise; ships 3 units 10 days ago and 87 75 days ago.
    ASIN A: 4 sellable units on odd days of the last 30, none otherwise; ships 2 units
    5 days ago and 28 80 days ago. So 120 units shipped in 90 days, 5 in 60 days."""
    b_units = {0: 100, 30: 80, 60: 60, 90: 80}
    b_ship = {10: 3, 75: 87}
    a_ship = {5: 2, 80: 28}
    rows = []
    for k in days:
        day = D - timedelta(days=k)
        b = b_units.get(k, 90)
        if k == 0:
            rows.append(ledger_row(day, "B", "SELLABLE", b_ship.get(k, 0), b - 2))
            rows.append(ledger_row(day, "B", "DEFECTIVE", 0, 2))
        else:
            rows.append(ledger_row(day, "B", "SELLABLE", b_ship.get(k, 0), b))
        rows.append(ledger_row(day, "A", "SELLABLE", a_ship.get(k, 0),
                               4 if k < 30 and k % 2 else 0))
    path = folder / "ledger.tsv"
    path.write_text(LEDGER + "".join(rows))
    return path


def test_factors_from_a_full_ledger_match_amazons_definitions(
        fresh_db: Store, tmp_path: Path) -> None:
    """91 days of ledger: on hand 100, average (100 + 80 + 60 + 80) / 4 = 80, 120 units
    shipped: sell-through 1.5; in-stock (2 x 50 % + 3 x 100 %) / 5 = 80 %. Nothing
    about excess or stranded: the day is partial and says where it came from."""
    result = load_file(fresh_db, "acme", write_ledger(tmp_path, range(91)), ingest_day=D,
                       default_marketplace="US")
    assert len(result.partitions) == 91
    with fresh_db.write() as con:
        score_range(con, "acme", D, D)
    with fresh_db.read() as con:
        [row] = scores(con, "acme", start=D, end=D)
    assert row.units_on_hand == 100
    assert row.units_shipped_t90 == 120
    assert row.avg_units_on_hand == pytest.approx(80.0)
    assert row.sell_through == pytest.approx(1.5)
    assert row.sell_through_approx is False
    assert row.in_stock_rate == pytest.approx(0.8)
    assert row.in_stock_days == 30
    assert row.in_stock_approx is True  # a sellable balance includes reserved units
    assert row.excess_pct is None and row.stranded_pct is None
    assert row.status == "partial" and row.score is not None
    assert "rebuilt from the inventory ledger" in row.notes


def test_every_ledger_day_is_scored_in_one_recompute(fresh_db: Store, tmp_path: Path) -> None:
    """Each day sums its own 90 days: 11 days back, the 3 and 2 units shipped 10 and 5
    days before D are still to come."""
    load_file(fresh_db, "acme", write_ledger(tmp_path, range(102)), ingest_day=D,
              default_marketplace="US")
    with fresh_db.write() as con:
        run = score_range(con, "acme", D - timedelta(days=101), D)
    assert run.days == 102
    with fresh_db.read() as con:
        by_day = {r.date: r for r in scores(con, "acme")}
    assert by_day[D - timedelta(days=11)].units_shipped_t90 == 120 - 3 - 2
    assert by_day[D - timedelta(days=6)].units_shipped_t90 == 120 - 2
    assert not by_day[D - timedelta(days=6)].sell_through_approx
    # the oldest day has one ledger day behind it, and no sales in it to weigh in-stock by
    oldest = by_day[D - timedelta(days=101)]
    assert oldest.sell_through_approx is True and oldest.in_stock_rate is None


def test_given_a_short_ledger_then_sell_through_is_approximate(
        fresh_db: Store, tmp_path: Path) -> None:
    """Eleven days of ledger: 3 + 2 shipped, at that pace 5 x 90 / 11 in 90 days; on hand
    100 today and no 30/60/90-day balances."""
    load_file(fresh_db, "acme", write_ledger(tmp_path, range(11)), ingest_day=D,
              default_marketplace="US")
    with fresh_db.write() as con:
        score_range(con, "acme", D, D)
    with fresh_db.read() as con:
        [row] = scores(con, "acme", start=D, end=D)
    assert row.units_shipped_t90 == pytest.approx(5 * 90 / 11, abs=1e-4)
    assert row.avg_units_on_hand == pytest.approx(100.0)
    assert row.sell_through == pytest.approx(5 * 90 / 11 / 100, abs=1e-4)
    assert row.sell_through_approx is True
    assert row.in_stock_days == 11


def test_given_an_myi_snapshot_then_it_wins_over_the_ledger_that_day(
        fresh_db: Store, tmp_path: Path) -> None:
    """Today's MYI says A is out and B holds 50 units: on hand 50; in-stock counts today's
    MYI and the 29 ledger days before (A in stock on 15 of them), still approximate."""
    load_file(fresh_db, "acme", write_ledger(tmp_path, range(91)), ingest_day=D,
              default_marketplace="US")
    path = tmp_path / f"myi-{D}.txt"
    path.write_text(MYI + "SA\tA\tYes\tNo\t0\t0\nSB\tB\tYes\tNo\t50\t50\n")
    load_file(fresh_db, "acme", path, ingest_day=D, default_marketplace="US")
    with fresh_db.write() as con:
        score_range(con, "acme", D, D)
    with fresh_db.read() as con:
        [row] = scores(con, "acme", start=D, end=D)
    assert row.units_on_hand == 50
    assert row.avg_units_on_hand == pytest.approx((50 + 80 + 60 + 80) / 4)
    assert row.in_stock_days == 30 and row.in_stock_approx is True
    assert row.in_stock_rate == pytest.approx((2 * 15 / 30 + 3 * 1.0) / 5)
    assert "ledger" not in (row.notes or "")


def test_planning_weights_where_a_report_is_near_ledger_weights_before(
        fresh_db: Store, tmp_path: Path) -> None:
    """A planning report today listing only B: today A has no weight (B alone, 100 %);
    yesterday no planning report is near, so the ledger's 60-day shipments weigh both:
    (2 x 50 % + 3 x 100 %) / 5 = 80 %."""
    load_file(fresh_db, "acme", write_ledger(tmp_path, range(91)), ingest_day=D,
              default_marketplace="US")
    path = tmp_path / "plan.txt"
    path.write_text("snapshot-date\tsku\tasin\tavailable\tunits-shipped-t60\tunits-shipped-t90\t"
                    "estimated-excess-quantity\tsell-through\tmarketplace\n"
                    f"{D}\tSB\tB\t98\t3\t90\t0\t1.0\tUS\n")
    load_file(fresh_db, "acme", path, ingest_day=D, default_marketplace="US")
    with fresh_db.write() as con:
        score_range(con, "acme", D - timedelta(days=1), D)
    with fresh_db.read() as con:
        by_day = {r.date: r for r in scores(con, "acme")}
    assert by_day[D].in_stock_rate == pytest.approx(1.0)
    assert by_day[D - timedelta(days=1)].in_stock_rate == pytest.approx(0.8)
