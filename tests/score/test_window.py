"""Amazon's 2020 rule: the estimate is the better of the recent and the long-term
factors; a drop shows in the recent reading (and a warning) before the estimate follows,
and a recovery shows at once."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from ipi import pipeline
from ipi.alerts.rules import State, below_threshold, projected_crossing
from ipi.demo import Simulation
from ipi.score import HELD, DailyScore, official, scores, window
from ipi.settings import Policy, Settings

D0 = date(2026, 1, 1)


def _day(i: int, stranded: float | None, carried: dict[str, date] | None = None
         ) -> dict[str, Any]:
    return {"marketplace": "US", "date": D0 + timedelta(days=i), "excess_pct": 5.0,
            "sell_through": 2.0, "stranded_pct": stranded, "in_stock_rate": 0.95,
            "carried": carried or {}}


def test_given_fewer_than_min_days_then_no_long_term_reading() -> None:
    """A new account (29 measured days) is scored on its recent factors alone; the 30th
    day gives the first long-term reading."""
    rows = [_day(i, 0.0) for i in range(window.MIN_DAYS)]
    window.long_term(rows, [])
    assert all(r["long_term"] == {} for r in rows[:-1])
    assert rows[-1]["long_term"] == {"excess": 5.0, "sell_through": 2.0, "stranded": 0.0,
                                      "in_stock": 0.95}


def test_given_a_spike_then_the_long_term_value_is_the_mean_of_the_last_90_days() -> None:
    """60 days at 0 % stranded, then 10 days at 6 %: the long-term stranded % is
    60/90 of nothing and 10 days of 6 % over the 70 days there are; 90 days later the
    early days have rolled out of the window."""
    before = [_day(i, 0.0) for i in range(60)]
    rows = [_day(60 + i, 6.0) for i in range(10)] + [_day(70 + i, 0.0) for i in range(90)]
    window.long_term(rows, before)
    assert rows[9]["long_term"]["stranded"] == round(60.0 / 70, 4)
    assert rows[79]["long_term"]["stranded"] == round(60.0 / 90, 4)  # days 0..89: one left
    assert rows[-1]["long_term"]["stranded"] == 0.0  # the spike rolled out


def test_given_carried_values_then_they_do_not_count_twice() -> None:
    """A factor carried over a missing report is yesterday's reading again: the mean
    counts measured days only, and a day whose factor is carried still gets a
    long-term reading from the measured ones."""
    before = [_day(i, 0.0) for i in range(40)]
    rows = [_day(40 + i, 6.0, {"stranded": D0 + timedelta(days=40)} if i else None)
            for i in range(3)]
    window.long_term(rows, before)
    assert rows[-1]["long_term"]["stranded"] == round(6.0 / 41, 4)


def test_given_a_missing_factor_then_the_long_term_reading_leaves_it_missing() -> None:
    """A partial day stays partial: the long-term reading covers the day's own factors
    only, never fills one the day lacks."""
    before = [_day(i, 0.0) for i in range(40)]
    rows = [_day(40, None)]
    window.long_term(rows, before)
    assert set(rows[0]["long_term"]) == {"excess", "sell_through", "in_stock"}


def _rows(settings: Settings) -> list[DailyScore]:
    with pipeline.open_store(settings, settings.accounts[0]).read() as con:
        return scores(con, "acme")


def test_given_the_demo_incident_then_the_long_term_holds_the_estimate_and_the_recent_warns(
        scored_demo: tuple[Settings, Path], demo_sim: Simulation) -> None:
    """The demo's stranded listings drop the recent factors' reading by about 150 points
    within a day; the estimate is held by the long-term factors and falls as they roll,
    the notes say so, and the warning rule fires on the recent reading while the
    critical one, on the estimate, stays quiet. Once the listings are fixed, the
    estimate is the recent reading again."""
    settings, _ = scored_demo
    rows = _rows(settings)
    held = [r for r in rows if r.score_recent is not None and r.score > r.score_recent]
    assert held, "the incident never held the estimate"
    worst = min(held, key=lambda r: r.score_recent)
    day_before = next(r for r in rows if r.date == held[0].date - timedelta(days=1))
    assert day_before.score - worst.score_recent > 100
    assert worst.score - worst.score_recent > 50
    assert HELD in worst.notes and f"{worst.score_recent:.0f}" in worst.notes
    assert held[-1].score < held[0].score  # the long-term factors follow, downwards
    assert rows[-1].score == rows[-1].score_recent  # recovered: recent again

    policy = Policy(threshold=worst.score_recent + 20)  # the recent reading under it
    assert worst.score >= policy.threshold
    warn = projected_crossing(State(), worst, policy, worst.date, None)
    assert warn.state.state in ("pending", "firing")
    crit = below_threshold(State(), worst, policy, worst.date)
    assert crit.state.state == "normal"


def test_given_official_scores_then_calibration_pairs_them_with_the_factors_that_made_the_estimate(
        scored_demo: tuple[Settings, Path]) -> None:
    """An official score on a held day is paired with the long-term factors: those made
    the estimate it is compared with."""
    settings, _ = scored_demo
    rows = _rows(settings)
    held = next(r for r in rows if r.score_recent is not None
                and r.score > r.score_recent)
    with pipeline.open_store(settings, settings.accounts[0]).write() as con:
        con.execute("INSERT INTO official_score (account, marketplace, date, score, "
                    "recorded_at) VALUES ('acme', $marketplace, $date, 500, now())",
                    {"marketplace": held.marketplace, "date": held.date})
        [point] = official.points(con, "acme")
    assert point.values == window.of(held.long_term)


def test_given_weekly_values_then_a_span_of_30_days_gives_a_long_term_reading() -> None:
    """Weekly downloads count as well as daily reports: five weekly values span 28 days,
    not yet long-term; the sixth spans 35."""
    rows = [_day(7 * i, 0.0) for i in range(6)]
    window.long_term(rows, [])
    assert [bool(r["long_term"]) for r in rows] == [False] * 5 + [True]
