"""`ipi report`: one self-contained HTML page per account, its charts really rendered."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from flows.cli import main
from ipi import pipeline
from ipi.demo import Simulation
from ipi.score import official, record_official
from ipi.settings import Settings


def _has_colour(png: bytes, hex_colour: str, at_least: int = 20) -> bool:
    """Whether the rendered image has at least ``at_least`` pixels of that colour."""
    rgb = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3]
    # Lines are antialiased: a thin one has few pixels of exactly its colour.
    return int((np.abs(pixels - rgb).max(axis=-1) < 0.1).sum()) >= at_least


def test_the_report_shows_the_day_the_history_what_to_fix_and_the_plan(
        scored_demo: tuple[Settings, Path], demo_sim: Simulation, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    settings, config = scored_demo
    account = settings.accounts[0]
    store = pipeline.open_store(settings)
    day = demo_sim.day(79)  # under the threshold: stranded listings and excess
    recorded = [official.Official("US", demo_sim.day(i), 600.0 - 3 * i) for i in (30, 51, 72)]
    record_official(store, account, recorded)

    assert main(["report", "--config", str(config), "--out", str(tmp_path / "out"),
                 "--date", str(day)]) == 0
    path = tmp_path / "out" / "ipi-report-acme.html"
    assert capsys.readouterr().out.strip() == str(path)
    html = path.read_text(encoding="utf-8")

    # Self-contained: no file or address to fetch, the charts are inline PNGs.
    assert not re.search(r"(src|href)=['\"](?!data:)", html)
    score_png, factors_png = (base64.b64decode(m) for m in re.findall(
        r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html))
    assert matplotlib.image.imread(io.BytesIO(score_png), format="png").shape[:2] == (352, 825)
    assert matplotlib.image.imread(io.BytesIO(factors_png), format="png").shape[:2] == (
        462, 825)
    assert _has_colour(score_png, "#cb181d")  # the threshold line
    assert _has_colour(score_png, "#e6550d")  # the official scores' dots
    assert _has_colour(factors_png, "#08519c", 200)  # four factor lines

    row = store.query("SELECT * FROM daily_score WHERE date = ?", [day])[0]
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
    assert "Model: default weights (3 official scores recorded)" in html


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
    from ipi.store import duck

    settings, _ = scored_demo
    account, policy = settings.accounts[0], settings.policy
    store = pipeline.open_store(settings)
    seen = set()
    for i in range(61, 100, 3):
        day = demo_sim.day(i)
        [sec] = report.sections(store, settings, account, day)
        assert sec.latest is not None and sec.latest["date"] == day
        with store.begin() as conn:
            con = duck(conn)
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
