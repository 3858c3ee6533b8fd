"""Drivers: the SKUs whose fix lifts the estimate most, ranked by that gain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ipi.score import score_range, scores
from ipi.score.drivers import Driver, top_drivers
from ipi.score.model import estimate
from ipi.store import Store
from tests.score.helpers import MYI, PLAN, D, put, seller


def test_drivers_are_ranked_by_the_points_their_fix_would_win(
        fresh_db: Store, tmp_path: Path) -> None:
    """Each factor's culprit is named with its action, and its gain is the model's own:
    SB's 25 excess units, SB's 5 stranded units, and SA out of stock (40 % of 60-day sales).
    Removing SB's excess also lowers today's on-hand snapshot, one of the four that
    sell-through averages, and in 90 days all four."""
    seller(fresh_db, tmp_path, full_history=True)
    with fresh_db.write() as con:
        score_range(con, "acme", D, D)
    with fresh_db.read() as con:
        [row] = scores(con, "acme")
    with fresh_db.write() as con:
        drivers = top_drivers(con, "acme", "US", D, 5, row)
    by = {d.factor: d for d in drivers}
    assert set(by) == {"excess", "stranded", "in_stock"}
    base = {"excess": 25.0, "sell_through": 1.5, "stranded": 5.0, "in_stock": 0.8}
    shipped, avg = row.units_shipped_t90, row.avg_units_on_hand
    assert shipped / avg == pytest.approx(base["sell_through"])
    removed = {**base, "excess": 0.0, "stranded": 5 / 75 * 100}
    want = {
        "excess": estimate({**removed, "sell_through": shipped / (avg - 25 / 4)}).score,
        "stranded": estimate({**base, "stranded": 0.0}).score,
        "in_stock": estimate({**base, "in_stock": 1.0}).score,
    }
    for factor, after in want.items():
        assert by[factor].gain == pytest.approx(after - row.score, abs=0.2), factor
    assert [d.gain for d in drivers] == sorted((d.gain for d in drivers), reverse=True)
    assert by["excess"].later == pytest.approx(
        estimate({**removed, "sell_through": shipped / (avg - 25)}).score - row.score,
        abs=0.2)
    assert by["stranded"].later is None and by["in_stock"].later is None
    assert by["excess"].sku == "SB" and by["in_stock"].sku == "SA"
    assert "Listing closed" in by["stranded"].detail and by["stranded"].action == \
        "fix the listing"
    assert "[~+" in by["stranded"].line()


def _scored_drivers(store: Store) -> tuple[dict[str, Any], list[Driver]]:
    """The day D scored, and its ten drivers."""
    with store.write() as con:
        score_range(con, "acme", D, D)
    with store.read() as con:
        [row] = scores(con, "acme")
    with store.write() as con:
        return row, top_drivers(con, "acme", "US", D, 10, row)


def test_an_excess_driver_says_how_much_of_the_stock_is_old(
        fresh_db: Store, tmp_path: Path) -> None:
    """The planning report's age columns, in the layout that splits 365+ days in two:
    7 + 3 + 2 of SB's units are over 180 days old."""
    seller(fresh_db, tmp_path, full_history=True)
    aged = PLAN.rstrip("\n") + "\tinv-age-181-to-270-days\tinv-age-366-to-455-days\t" \
        "inv-age-456-plus-days\n"
    put(fresh_db, tmp_path, "plan-aged.txt",  # the same day again: it replaces the first
        aged + f"{D}\tSA\tA\t0\t2\t40\t0\t1.0\tUS\t0\t0\t0\n"
               f"{D}\tSB\tB\t100\t3\t80\t25\t1.0\tUS\t7\t3\t2\n")
    _, drivers = _scored_drivers(fresh_db)
    [excess] = [d for d in drivers if d.factor == "excess"]
    assert excess.detail == "25 excess units, 12 units on hand over 180 days old"


def test_a_slow_seller_with_stock_to_spare_is_a_sell_through_driver(
        fresh_db: Store, tmp_path: Path) -> None:
    """SC is not in excess but holds 60 units for 6 sold in 90 days (Amazon's sell-through
    0.1): the fix keeps 60 days of its sales (4 units) and removes 56. SD sells its stock
    every 90 days and SE was restocked last week (sell-through 1.2 on a higher average):
    neither is named."""
    seller(fresh_db, tmp_path, full_history=True)
    put(fresh_db, tmp_path, "myi-more.txt", MYI + "SA\tA\tYes\tNo\t0\t0\n"
        "SB\tB\tYes\tNo\t100\t100\nSC\tC\tYes\tNo\t60\t60\nSD\tD\tYes\tNo\t30\t30\n"
        "SE\tE\tYes\tNo\t50\t50\n")
    put(fresh_db, tmp_path, "plan-more.txt", PLAN
        + f"{D}\tSA\tA\t0\t2\t40\t0\t1.0\tUS\n{D}\tSB\tB\t100\t3\t80\t25\t1.0\tUS\n"
          f"{D}\tSC\tC\t60\t4\t6\t0\t0.1\tUS\n{D}\tSD\tD\t30\t20\t30\t0\t1.0\tUS\n"
          f"{D}\tSE\tE\t50\t10\t30\t0\t1.2\tUS\n")
    row, drivers = _scored_drivers(fresh_db)
    [slow] = [d for d in drivers if d.factor == "sell_through"]
    assert slow.sku == "SC" and slow.units == 56
    assert slow.detail == "sell-through 0.10: 60 units on hand, 6 sold in 90 days"
    assert slow.action == "discount, or remove 56 units (beyond 60 days of sales)"
    # Its gain is the model's own: on-hand falls by 56 (excess and stranded rise a little),
    # sell-through's average on hand by a quarter of that today and all of it in 90 days.
    left = row.units_on_hand - 56
    after = {"excess": 100 * row.excess_units / left,
             "stranded": 100 * row.stranded_units / left, "in_stock": row.in_stock_rate}
    shipped, avg = row.units_shipped_t90, row.avg_units_on_hand
    now = estimate({**after, "sell_through": shipped / (avg - 56 / 4)}).score
    later = estimate({**after, "sell_through": shipped / (avg - 56)}).score
    assert slow.gain == pytest.approx(now - row.score, abs=0.2)
    assert slow.later == pytest.approx(later - row.score, abs=0.2)
    # In so small a stock the units left carry the same excess and stranded units: the
    # removal costs points today and wins them once the window has passed. Both are said.
    assert slow.gain < 0 < slow.later
    assert slow.line().endswith(f"[~{slow.gain:+.0f} pts, ~{slow.later:+.0f} in 90 days]")
    assert {d.sku for d in drivers if d.factor == "sell_through"} == {"SC"}
