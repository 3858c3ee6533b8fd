"""The four factors computed in SQL over stored snapshots, checked against hand-computed values."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ipi.score import SCORE_COLUMNS, DailyScore, day_row, latest_row, score_range, scores
from ipi.store import Store
from tests.score.helpers import MYI, PLAN, STRANDED, D, put, seller


def test_scores_are_typed_rows_of_every_column_of_daily_score(
        fresh_db: Store, tmp_path: Path) -> None:
    """``scores()`` gives ``DailyScore`` rows with every column of the table but the time
    it was computed; the day's and the newest row are the same row."""
    seller(fresh_db, tmp_path, full_history=True)
    with fresh_db.write() as con:
        score_range(con, "acme", D, D)
    with fresh_db.read() as con:
        [row] = scores(con, "acme")
        table = [c for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'daily_score' ORDER BY ordinal_position").fetchall()]
        assert day_row(con, "acme", "US", D) == row == latest_row(con, "acme", "US")
    assert isinstance(row, DailyScore)
    assert tuple(c for c in table if c != "computed_at") == SCORE_COLUMNS
    assert (row.account, row.marketplace, row.date) == ("acme", "US", D)


def test_factors_match_amazons_definitions(fresh_db: Store, tmp_path: Path) -> None:
    """With full history: excess 25 %, sell-through 120/80 = 1.5, stranded 5 %, in-stock 80 %."""
    seller(fresh_db, tmp_path, full_history=True)
    with fresh_db.write() as con:
        score_range(con, "acme", D, D)
    with fresh_db.read() as con:
        [row] = scores(con, "acme", start=D, end=D)
    assert row.units_on_hand == 100
    assert row.excess_pct == pytest.approx(25.0)
    assert row.avg_units_on_hand == pytest.approx(80.0)
    assert row.sell_through == pytest.approx(1.5)
    assert row.sell_through_approx is False
    assert row.stranded_pct == pytest.approx(5.0)
    # IPI-FACTS' example: (2 x 50 % + 3 x 100 %) / 5 = 80 %
    assert row.in_stock_rate == pytest.approx(0.8)
    assert (row.in_stock_days, row.in_stock_approx) == (30, False)
    assert row.status == "ok" and row.score is not None


def test_given_one_day_of_history_then_factors_are_marked_approximate(
        fresh_db: Store, tmp_path: Path) -> None:
    """Without the 30/60/90-day snapshots, sell-through uses the average Amazon's own
    sell-through implies and says so; in-stock from one day is approximate too."""
    seller(fresh_db, tmp_path, full_history=False)
    with fresh_db.write() as con:
        score_range(con, "acme", D, D)
    with fresh_db.read() as con:
        [row] = scores(con, "acme")
    assert row.sell_through_approx is True
    assert row.avg_units_on_hand == pytest.approx(40 + 80)  # 40/1.0 + 80/1.0
    assert row.sell_through == pytest.approx(1.0)
    assert row.in_stock_days == 1 and row.in_stock_approx is True
    assert row.in_stock_rate == pytest.approx(0.6)  # A out today, B in: 3/5
    assert row.status == "approximate"


def test_given_no_stranded_report_then_stranded_is_no_data_and_band_widens(
        fresh_db: Store, tmp_path: Path) -> None:
    """A day without a stranded report has no stranded value, never 0 %; the band widens."""
    seller(fresh_db, tmp_path, full_history=True)
    fresh_db.query("DELETE FROM report_partition WHERE report_type = "
                   "'GET_STRANDED_INVENTORY_UI_DATA'")
    with fresh_db.write() as con:
        score_range(con, "acme", D, D)
    with fresh_db.read() as con:
        [row] = scores(con, "acme")
    assert row.stranded_pct is None
    assert row.status == "partial" and "stranded" in row.notes
    assert row.score_high - row.score_low > 120


def test_canada_is_scored_without_in_stock(fresh_db: Store, tmp_path: Path) -> None:
    """In CA the in-stock rate is computed but not used by the estimate: the stored score
    is what the other three factors give with any in-stock rate, where in the US the same
    80 % would cost points."""
    from ipi.score.model import estimate, factors_for

    seller(fresh_db, tmp_path, full_history=True, mp="CA")
    with fresh_db.write() as con:
        score_range(con, "acme", D, D)
    with fresh_db.read() as con:
        [row] = scores(con, "acme")
    assert row.marketplace == "CA" and row.in_stock_rate == pytest.approx(0.8)
    assert row.status == "ok"
    values = {"excess": row.excess_pct, "sell_through": row.sell_through,
              "stranded": row.stranded_pct, "in_stock": row.in_stock_rate}
    perfect = {**values, "in_stock": 1.0}
    assert row.score == pytest.approx(estimate(perfect, factors=factors_for("CA")).score,
                                         abs=0.5)
    us, us_perfect = (estimate(v, factors=factors_for("US")).score for v in (values, perfect))
    assert us is not None and us_perfect is not None and us_perfect - us > 10


def test_rescoring_the_same_day_changes_nothing(fresh_db: Store, tmp_path: Path) -> None:
    """Recomputing a day with the same data writes nothing, not even a new timestamp."""
    seller(fresh_db, tmp_path, full_history=True)
    with fresh_db.write() as con:
        first = score_range(con, "acme", D, D)
    with fresh_db.read() as con:
        before = scores(con, "acme")
    with fresh_db.write() as con:
        again = score_range(con, "acme", D, D)
    assert (first.changed, again.changed) == (1, 0)
    with fresh_db.read() as con:
        assert scores(con, "acme") == before


@pytest.mark.parametrize(("ago", "rate"), [(5, 0.8), (35, 1.0)])
def test_an_asin_missing_from_todays_planning_report_keeps_its_weight_for_30_days(
        fresh_db: Store, tmp_path: Path, ago: int, rate: float) -> None:
    """Today's planning report leaves out-of-stock A out; the one of 5 days ago still
    weighs it (80 %, as with A listed today). Listed only 35 days ago, A has no weight
    and the rate is B's alone (100 %)."""
    seller(fresh_db, tmp_path, full_history=True)
    put(fresh_db, tmp_path, "plan-today.txt",  # replaces today's report
        PLAN + f"{D}\tSB\tB\t100\t3\t80\t25\t1.0\tUS\n")
    day = D - timedelta(days=ago)
    put(fresh_db, tmp_path, "plan-before.txt",
        PLAN + f"{day}\tSA\tA\t4\t2\t40\t0\t1.0\tUS\n{day}\tSB\tB\t96\t3\t80\t0\t1.0\tUS\n")
    with fresh_db.write() as con:
        score_range(con, "acme", D, D)
    with fresh_db.read() as con:
        [row] = scores(con, "acme", start=D, end=D)
    assert row.in_stock_rate == pytest.approx(rate)


def test_given_nothing_shipped_in_90_days_then_there_is_no_score_as_at_amazon(
        fresh_db: Store, tmp_path: Path) -> None:
    """Amazon shows "insufficient historical data" and no score to an account that sold
    nothing in 13 weeks (reference.csv): ipi stores the factors and no estimate, saying
    why, never a number."""
    put(fresh_db, tmp_path, "myi.txt", MYI + "SA\tA\tYes\tNo\t50\t50\n")
    put(fresh_db, tmp_path, "plan.txt", PLAN + f"{D}\tSA\tA\t50\t0\t0\t0\t0\tUS\n")
    put(fresh_db, tmp_path, "stranded.txt", STRANDED)
    with fresh_db.write() as con:
        score_range(con, "acme", D, D)
    with fresh_db.read() as con:
        [row] = scores(con, "acme", start=D, end=D)
    assert row.sell_through == 0 and row.excess_pct == 0
    assert (row.score, row.score_low, row.score_high) == (None, None, None)
    assert row.status == "insufficient history"
    assert "nothing shipped in 90 days" in row.notes
