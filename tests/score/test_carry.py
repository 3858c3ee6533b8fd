"""A missing report is not a missing factor: the day's estimate carries what the report
feeds from its newest day, stays inside the full day's band, and pages nothing it does
not know."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from flows.cli import main
from ipi import page, pipeline
from ipi.alerts.rules import State, below_threshold
from ipi.demo import Simulation
from ipi.reports import get_fba_inventory_planning_data as planning
from ipi.reports import get_fba_myi_unsuppressed_inventory_data as myi
from ipi.reports import get_stranded_inventory_ui_data as stranded
from ipi.score import DailyScore
from ipi.settings import Policy, Settings
from tests.helpers import Webhook

DAY = 60  # a healthy day of the demo seller, with all three reports
FEEDS = {planning.REPORT_TYPE: ("excess", "sell_through"), myi.REPORT_TYPE: ("in_stock",),
         stranded.REPORT_TYPE: ("stranded",)}
LABEL = {"excess": "excess", "sell_through": "sell-through", "stranded": "stranded",
         "in_stock": "in-stock"}


def _row(settings: Settings, day: date) -> dict[str, Any]:
    [row] = pipeline.open_store(settings, settings.accounts[0]).query(
        "SELECT * FROM daily_score WHERE account = 'acme' AND date = $day", {"day": day})
    return row


@pytest.mark.parametrize("missing", [
    (planning.REPORT_TYPE,), (myi.REPORT_TYPE,), (stranded.REPORT_TYPE,),
    (planning.REPORT_TYPE, stranded.REPORT_TYPE), (myi.REPORT_TYPE, stranded.REPORT_TYPE),
    (planning.REPORT_TYPE, myi.REPORT_TYPE),
], ids=["planning", "myi", "stranded", "planning+stranded", "myi+stranded", "planning+myi"])
def test_given_a_day_missing_reports_then_the_estimate_holds_within_the_full_days_band(
        missing: tuple[str, ...], scored_demo: tuple[Settings, Path],
        demo_sim: Simulation) -> None:
    """With one or two of the day's reports gone, the factors they feed are carried from
    the day before: the estimate is no partial one, stays inside the full day's band, and
    says what it carried and from when."""
    settings, _ = scored_demo
    day = demo_sim.day(DAY)
    full = _row(settings, day)
    for report_type in missing:
        pipeline.forget(settings, settings.accounts[0], day, report_type=report_type)
    now = _row(settings, day)
    fed = {f for t in missing for f in FEEDS[t]}
    if {planning.REPORT_TYPE, myi.REPORT_TYPE} <= set(missing):
        fed.add("stranded")  # its units on hand come from those two: no share without them
    assert now["status"] != "partial" and now["score"] is not None
    assert full["score_low"] <= now["score"] <= full["score_high"]
    assert set(json.loads(now["carried"])) == fed
    assert all(f"{LABEL[f]} carried from {day - timedelta(days=1)}" in now["notes"]
               for f in fed)
    assert now["carry_margin"] > 0 and now["score_high"] - now["score_low"] > \
        full["score_high"] - full["score_low"]


def test_past_its_limit_a_factor_is_unknown_and_the_day_partial(
        scored_demo: tuple[Settings, Path], demo_sim: Simulation,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The stranded report missing four days running: carried for three (its limit),
    the band wider each day; on the fourth, stranded is unknown and the day partial,
    which `ipi score` and the report lead with as what is known, never a bare number."""
    settings, config = scored_demo
    days = [demo_sim.day(DAY + k) for k in range(4)]
    for day in days:
        pipeline.forget(settings, settings.accounts[0], day,
                        report_type=stranded.REPORT_TYPE)
    rows = [_row(settings, d) for d in days]
    source = demo_sim.day(DAY - 1).isoformat()
    assert [json.loads(r["carried"] or "{}") for r in rows] == [{"stranded": source}] * 3 + [{}]
    margins = [r["carry_margin"] for r in rows[:3]]
    assert margins == sorted(margins) and len(set(margins)) == 3
    assert rows[3]["status"] == "partial" and "no data for stranded" in rows[3]["notes"]
    line = (f"partial: 3 of 4 factors known, {rows[3]['score_low']:.0f}\u2013"
            f"{rows[3]['score_high']:.0f}")
    capsys.readouterr()
    assert main(["score", "--date", str(days[3]), "--config", str(config)]) == 0
    printed = capsys.readouterr().out.splitlines()[1]
    assert printed.split()[3] == "-" and printed.endswith(line)  # the score column is empty
    store = pipeline.open_store(settings, settings.accounts[0])
    html = page.render(settings.accounts[0], settings,
                       page.sections(store, settings, settings.accounts[0], days[3]), None)
    assert f"<span class=big>{line}</span>" in html


def test_a_carried_value_is_never_carried_again(
        scored_demo: tuple[Settings, Path], demo_sim: Simulation) -> None:
    """Rescoring a day after a gap takes the value measured before the gap, not one
    carried into it: a gap cannot stretch a value past its limit."""
    settings, _ = scored_demo
    account = settings.accounts[0]
    for k in range(4):
        pipeline.forget(settings, account, demo_sim.day(DAY + k),
                        report_type=stranded.REPORT_TYPE)
    pipeline.score(settings, account, demo_sim.day(DAY + 3))  # rescored on its own
    assert _row(settings, demo_sim.day(DAY + 3))["status"] == "partial"


def _policy() -> Policy:
    return Policy(threshold=450)


def _day(score: float, status: str, margin: float | None = None) -> DailyScore:
    return DailyScore(account="acme", marketplace="US", date=date(2026, 6, 4), score=score,
                      status=status, model="prior", carry_margin=margin)


def test_a_partial_day_neither_pages_nor_resolves() -> None:
    """A firing alert stays firing, unpaged, on a partial day however high it reads."""
    firing = State("firing", date(2026, 6, 1), 3, date(2026, 6, 1), date(2026, 6, 3),
                   "firing")
    step = below_threshold(firing, _day(900.0, "partial"), _policy(), date(2026, 6, 4))
    assert step.notify is None and step.state == firing
    normal = State()
    step = below_threshold(normal, _day(100.0, "partial"), _policy(), date(2026, 6, 4))
    assert step.notify is None and step.state == normal


@pytest.mark.parametrize("score, margin, pages", [
    (430.0, 30.0, False),  # carried data could put it over 450: held
    (410.0, 30.0, True),  # under 450 whatever the carried data says
    (430.0, None, True),  # nothing carried
])
def test_carried_data_that_could_cross_the_threshold_holds_the_page(
        score: float, margin: float | None, pages: bool) -> None:
    """An estimate under the threshold pages unless its carried factors alone could put
    it over."""
    step = below_threshold(State(), _day(score, "ok", margin), _policy(), date(2026, 6, 4))
    assert (step.notify == "firing") is pages


def test_a_gap_in_a_report_sends_one_ops_message_however_long_it_lasts(
        make_settings: Callable[..., tuple[Settings, Path]], scored_demo_data: Path,
        demo_sim: Simulation, webhook_server: Webhook) -> None:
    """The stranded report missing two days: one [OPS] message on the first, naming the
    report, the marketplace, since when and what it does to the estimate; none on the
    second; a new gap later is a new message."""
    settings, _ = make_settings(urls=[webhook_server.url])
    shutil.copytree(scored_demo_data, settings.data_dir)
    account = settings.accounts[0]
    for k in (0, 1, 3):
        pipeline.forget(settings, account, demo_sim.day(DAY + k),
                        report_type=stranded.REPORT_TYPE)
    for k in range(5):
        pipeline.alert(settings, account, demo_sim.day(DAY + k))
    titles = [m["title"] for m in webhook_server.received]
    first, second = demo_sim.day(DAY - 1), demo_sim.day(DAY + 2)
    assert titles == [f"[OPS] IPI acme US: no Stranded inventory report since {first}",
                      f"[OPS] IPI acme US: no Stranded inventory report since {second}"]
    body = webhook_server.received[0]["message"]
    assert "(GET_STRANDED_INVENTORY_UI_DATA)" in body and "1 day(s) missing" in body
    assert f"carried from {first} until {first + timedelta(days=3)}" in body
