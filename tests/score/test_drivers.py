"""Drivers: the SKUs whose fix lifts the estimate most, ranked by that gain."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipi.score import score_range, scores
from ipi.score.drivers import top_drivers
from ipi.score.model import estimate
from ipi.store import Store, duck
from tests.score.test_factors import D, seller


def test_drivers_are_ranked_by_the_points_their_fix_would_win(
        fresh_db: Store, tmp_path: Path) -> None:
    """Each factor's culprit is named with its action, and its gain is the model's own:
    SB's 25 excess units, SB's 5 stranded units, and SA out of stock (40 % of 60-day sales)."""
    seller(fresh_db, tmp_path, full_history=True)
    score_range(fresh_db, "acme", D, D)
    [row] = scores(fresh_db, "acme")
    with fresh_db.begin() as conn:
        drivers = top_drivers(duck(conn), "acme", "US", D, 5, row)
    by = {d.factor: d for d in drivers}
    assert set(by) == {"excess", "stranded", "in_stock"}
    base = {"excess": 25.0, "sell_through": 1.5, "stranded": 5.0, "in_stock": 0.8}
    want = {
        "excess": estimate({**base, "excess": 0.0, "stranded": 5 / 75 * 100}).score,
        "stranded": estimate({**base, "stranded": 0.0}).score,
        "in_stock": estimate({**base, "in_stock": 1.0}).score,
    }
    for factor, after in want.items():
        assert by[factor].gain == pytest.approx(after - row["score"], abs=0.2), factor
    assert [d.gain for d in drivers] == sorted((d.gain for d in drivers), reverse=True)
    assert by["excess"].sku == "SB" and by["in_stock"].sku == "SA"
    assert "Listing closed" in by["stranded"].detail and by["stranded"].action == \
        "fix the listing"
    assert "[~+" in by["stranded"].line()


def test_an_excess_driver_says_how_much_of_the_stock_is_old(
        fresh_db: Store, tmp_path: Path) -> None:
    """The planning report's age columns, in the layout that splits 365+ days in two:
    7 + 3 + 2 of SB's units are over 180 days old."""
    from tests.score.test_factors import PLAN, put

    seller(fresh_db, tmp_path, full_history=True)
    aged = PLAN.rstrip("\n") + "\tinv-age-181-to-270-days\tinv-age-366-to-455-days\t" \
        "inv-age-456-plus-days\n"
    put(fresh_db, tmp_path, "plan-aged.txt",  # the same day again: it replaces the first
        aged + f"{D}\tSA\tA\t0\t2\t40\t0\t1.0\tUS\t0\t0\t0\n"
               f"{D}\tSB\tB\t100\t3\t80\t25\t1.0\tUS\t7\t3\t2\n")
    score_range(fresh_db, "acme", D, D)
    [row] = scores(fresh_db, "acme")
    with fresh_db.begin() as conn:
        drivers = top_drivers(duck(conn), "acme", "US", D, 5, row)
    [excess] = [d for d in drivers if d.factor == "excess"]
    assert excess.detail == "25 excess units, 12 units on hand over 180 days old"
