"""What if: actions on SKUs change the day's factors as the reports say they would, and the
recovery plan is the fewest steps back over the threshold plus its margin."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from flows.cli import main
from ipi import pipeline
from ipi.demo import Simulation
from ipi.score import DailyScore, scores
from ipi.score.drivers import recovery
from ipi.score.whatif import Action, Plan, what_if
from ipi.settings import Settings

LOW_DAY = 79  # the demo seller's estimate is far under 450 here: stranded and excess


def _row(settings: Settings, day: date) -> DailyScore:
    with pipeline.open_store(settings, settings.accounts[0]).read() as con:
        [row] = scores(con, "acme", start=day, end=day)
    return row


def _one(settings: Settings, sql: str, day: date) -> Any:
    return pipeline.open_store(settings, settings.accounts[0]).query(sql, {"day": day})[0]


def test_removing_excess_and_fixing_a_listing_change_the_factors_as_the_reports_say(
        scored_demo: tuple[Settings, Path], demo_sim: Simulation) -> None:
    settings, _ = scored_demo
    day = demo_sim.day(LOW_DAY)
    row = _row(settings, day)
    top = _one(settings, "SELECT sku, estimated_excess_quantity AS x FROM fba_inventory_planning "
               "WHERE snapshot_date = $day ORDER BY x DESC LIMIT 1", day)
    stuck = _one(settings, "SELECT sku, sum(coalesce(fulfillable_qty, 0) + "
                 "coalesce(unfulfillable_qty, 0) + coalesce(reserved_quantity, 0)) AS n "
                 "FROM stranded_inventory WHERE snapshot_date = $day GROUP BY sku "
                 "ORDER BY n DESC LIMIT 1", day)
    removed = 100.0
    with pipeline.open_store(settings, settings.accounts[0]).write() as con:
        out = what_if(con, "acme", row, [Action("remove", top["sku"], removed),
                                                Action("fix-stranded", stuck["sku"]),
                                                Action("restock", "NOT-A-SKU")],
                      recent=True)  # the long-term factors hold this day's estimate
    left = row.units_on_hand - removed
    assert out.values_after["excess"] == pytest.approx(
        100 * (row.excess_units - removed) / left)
    assert out.values_after["stranded"] == pytest.approx(
        100 * (row.stranded_units - stuck["n"]) / left)
    # One of the four on-hand snapshots that sell-through averages is lower today.
    assert out.values_after["sell_through"] == pytest.approx(
        row.units_shipped_t90 / (row.avg_units_on_hand - removed / 4))
    assert out.unknown == ("NOT-A-SKU",)
    assert row.score > row.score_recent == out.before.score
    assert out.gain is not None and out.gain > 0
    # In 90 days all four are: the same actions win more.
    assert out.gain_later is not None and out.gain_later > out.gain


def test_the_recovery_plan_reaches_the_target_with_no_step_to_spare(
        scored_demo: tuple[Settings, Path], demo_sim: Simulation) -> None:
    settings, _ = scored_demo
    row = _row(settings, demo_sim.day(LOW_DAY))
    target = settings.policy.recovery
    assert row.score < 450 < target
    with pipeline.open_store(settings, settings.accounts[0]).write() as con:
        plan = recovery(con, "acme", row, settings.policy)
        actions = [a for a, _ in plan.steps]
        scores = [s for _, s in plan.steps]
        assert plan.reached and scores[-1] >= target and scores == sorted(scores)
        for i in range(len(actions)):  # drop any one step: the target is missed
            rest = actions[:i] + actions[i + 1:]
            after = what_if(con, "acme", row, rest).after.score
            assert after is not None and after < target, actions[i]
        assert what_if(con, "acme", row, actions).after.score == scores[-1]
    assert plan.lines()[-1] == plan.summary() and plan.summary().startswith("In all: ")


def test_a_plan_by_cost_spends_least_where_each_action_costs(
        scored_demo: tuple[Settings, Path], demo_sim: Simulation) -> None:
    """Listing fixes that cost a lot and removals that cost little turn the plan round:
    by units it fixes listings (they move no units); by cost it removes units first, and
    fixes fewer listings. Each plan's cost is what its steps add up to, and no step of it
    can be spared."""
    settings, _ = scored_demo
    row = _row(settings, demo_sim.day(LOW_DAY))
    dear_fixes = settings.policy.model_copy(update={
        "removal_fee": 0.01, "listing_fix_cost": 500.0, "restock_cost": 500.0})
    with pipeline.open_store(settings, settings.accounts[0]).write() as con:
        by_units = recovery(con, "acme", row, dear_fixes)
        by_cost = recovery(con, "acme", row,
                           dear_fixes.model_copy(update={"plan_by": "cost"}))
        assert by_units.reached and by_cost.reached
        def count(plan: Plan, kind: str) -> int:
            return sum(a.kind == kind for a, _ in plan.steps)

        assert by_units.steps[0][0].kind in ("fix-stranded", "restock")  # no units moved
        assert by_cost.steps[0][0].kind == "remove"
        assert count(by_cost, "fix-stranded") < count(by_units, "fix-stranded")
        assert count(by_cost, "remove") > count(by_units, "remove")

        def cost(plan: Plan) -> float:
            return sum(0.01 * a.units if a.kind == "remove" else 500.0 for a, _ in plan.steps)

        assert sum(by_cost.spent) == pytest.approx(cost(by_cost), abs=0.01)
        assert cost(by_cost) < cost(by_units)
        assert by_cost.summary().endswith(f"estimated cost ~{cost(by_cost):,.2f}.")
        assert by_cost.title == "Recovery plan to 470, cheapest first, by estimated cost"
        actions = [a for a, _ in by_cost.steps]
        for i in range(len(actions)):
            after = what_if(con, "acme", row, actions[:i] + actions[i + 1:]).after.score
            assert after is not None and after < by_cost.target, actions[i]


def test_whatif_command_prints_before_after_and_the_plan(
        scored_demo: tuple[Settings, Path], demo_sim: Simulation,
        capsys: pytest.CaptureFixture[str]) -> None:
    settings, config = scored_demo
    day = demo_sim.day(LOW_DAY)
    sku = _one(settings, "SELECT sku FROM stranded_inventory WHERE snapshot_date = $day "
               "ORDER BY sku LIMIT 1", day)["sku"]
    assert main(["whatif", "--config", str(config), "--date", str(day),
                 "--fix-stranded", sku, "--plan"]) == 0
    out = capsys.readouterr().out
    assert f"acme US on {day}: estimate {_row(settings, day).score:.0f}" in out
    assert f"fix the stranded listing of {sku}" in out and "points; stranded " in out
    assert "Recovery plan to 470, fewest units moved first (the recovery threshold" in out
    assert main(["whatif", "--config", str(config), "--date", str(day), "--plan",
                 "--by", "cost"]) == 0
    out = capsys.readouterr().out
    assert "Recovery plan to 470, cheapest first, by estimated cost" in out
    assert re.search(r"In all: .*; estimated cost ~[0-9,.]+\.", out)
    has = _one(settings, "SELECT afn_fulfillable_quantity AS n FROM fba_myi_inventory "
               "WHERE snapshot_date = $day AND sku = 'DEMO-0002'", day)["n"]
    assert main(["whatif", "--config", str(config), "--date", str(day),
                 "--remove", "DEMO-0002:999999", "--remove", "NOPE:3"]) == 0
    out = capsys.readouterr().out
    assert f"remove 999,999 units of DEMO-0002  (it has {has:,.0f}: counted those)" in out
    assert "remove 3 units of NOPE  (not in that day's reports: no effect)" in out
    assert "sell-through " in out.split("after: ")[1]
    assert "in 90 days, once Amazon's sell-through window has passed over the removals" in out
    assert main(["whatif", "--config", str(config), "--remove", "ABC"]) == 2
    assert "remove 'ABC': write SKU:UNITS" in capsys.readouterr().err
    assert main(["whatif", "--config", str(config)]) == 2
    assert "or ask for --plan" in capsys.readouterr().err
