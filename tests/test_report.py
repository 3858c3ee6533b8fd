"""`ipi report`: one self-contained HTML page per account, its charts inline."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from flows.cli import main
from ipi import pipeline
from ipi.demo import Simulation
from ipi.score import official, record_official
from ipi.settings import Settings


def _charts(html: str) -> list[ET.Element]:
    """The page's inline SVG charts, parsed."""
    return [ET.fromstring(svg) for svg in re.findall(r"<svg .*?</svg>", html, re.S)]


def _marks(svg: ET.Element, cls: str) -> list[ET.Element]:
    return [e for e in svg.iter() if e.get("class") == cls]


def test_the_report_shows_the_day_the_history_what_to_fix_and_the_plan(
        scored_demo: tuple[Settings, Path], demo_sim: Simulation, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    settings, config = scored_demo
    account = settings.accounts[0]
    store = pipeline.open_store(settings, account)
    day = demo_sim.day(79)  # under the threshold: stranded listings and excess
    recorded = [official.Official("US", demo_sim.day(i), 600.0 - 3 * i) for i in (30, 51, 72)]
    with store.write() as con:
        record_official(con, account, recorded)

    assert main(["report", "--config", str(config), "--out", str(tmp_path / "out"),
                 "--date", str(day)]) == 0
    path = tmp_path / "out" / "ipi-report-acme.html"
    assert capsys.readouterr().out.strip() == str(path)
    html = path.read_text(encoding="utf-8")

    # Self-contained: no file or address to fetch, the charts are inline SVG.
    assert not re.search(r"(src|href)=['\"](?!data:)", html)
    score, factors = _charts(html)
    assert [c.get("viewBox") for c in (score, factors)] == ["0 0 825 352", "0 0 825 462"]
    history = [r for r in store.query("SELECT * FROM daily_score WHERE date <= $day "
                                      "AND score IS NOT NULL", {"day": day})]
    [estimate] = _marks(score, "estimate")
    assert len(estimate.get("points", "").split()) == len(history)
    assert _marks(score, "threshold") and len(_marks(score, "official")) == len(recorded)
    assert len(_marks(factors, "panel")) == 4 and len(_marks(factors, "series")) >= 4

    row = store.query("SELECT * FROM daily_score WHERE date = $day", {"day": day})[0]
    assert f"<span class=big>{row['score']:.0f}</span>" in html
    assert f"under the threshold on {day}" in html and "card bad" in html
    assert sum(html.count(f"<tr><td>{factor}</td>")
               for factor in ("excess", "sell-through", "stranded", "in-stock")) == 10
    # A removal wins more once the 90-day sell-through window has passed over it.
    removals = re.findall(r"<tr><td>excess</td>.*?<td class=num>([-+0-9.]+)</td>"
                          r"<td class=num>([-+0-9.]+)</td></tr>", html)
    assert removals and all(float(later) > float(now) for now, later in removals)
    plan = html.split("<h3>Recovery plan to 470</h3>")[1].split("</ol>")[0]
    assert plan.count("<li>") >= 1 and "fix the stranded listing of DEMO-" in plan
    officials = html.split("<h3>Official scores</h3>")[1]
    assert all(f"<td>{o.date}</td><td class=num>{o.score:.0f}</td>" in officials
               for o in recorded)
    assert "it misses this account&#x27;s 3 official score(s) by" in html
    assert "Record this week&#x27;s official score" in html  # the last is months old


def test_an_account_without_estimates_gets_a_page_that_says_what_to_do(
        make_settings: type, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, config = make_settings()
    assert main(["report", "--config", str(config), "--out", str(tmp_path)]) == 0
    html = (tmp_path / "ipi-report-acme.html").read_text()
    assert "No estimate yet: load reports" in html and "<img" not in html


@pytest.mark.slow
def test_the_report_and_the_alert_tell_the_same_projection(
        scored_demo: tuple[Settings, Path], demo_sim: Simulation) -> None:
    """Across the demo story, the report's trend and the projected-crossing rule's text
    come from the one projection: the same numbers, or no trend in both."""
    from ipi import page as report
    from ipi.alerts.calendar import next_checkpoint
    from ipi.alerts.context import steps
    from ipi.score.projection import projection

    settings, _ = scored_demo
    account, policy = settings.accounts[0], settings.policy
    store = pipeline.open_store(settings, account)
    seen = set()
    for i in range(61, 100, 3):
        day = demo_sim.day(i)
        [sec] = report.sections(store, settings, account, day)
        assert sec.latest is not None and sec.latest.date == day
        with store.write() as con:
            proj = projection(con, "acme", "US", day, next_checkpoint(policy, day), policy)
            detail = next(d for rule, _, _, d in steps(con, "acme", "US", day, sec.latest,
                                                       policy)
                          if rule == "projected_crossing")
        assert proj is not None and sec.projection == proj
        text = report.markdown(account, settings, [sec], None)
        assert f"Trend: {proj.describe()}." in text
        if proj.value is not None:
            assert f"it reaches {proj.value:.0f} (90 % range" in detail
        seen.add(proj.value is None)
    assert seen == {True, False}  # the story has both: shifts, and trends to fit
