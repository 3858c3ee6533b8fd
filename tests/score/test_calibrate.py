"""Calibration against official scores: the fit recovers known weights from generated
data, stays within its bounds, leans on the defaults when data is thin; and through the
CLI, recorded scores refit the account's model and rescore its history."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from flows.cli import main
from ipi import pipeline
from ipi.demo import Simulation
from ipi.score import window
from ipi.score.calibrate import (
    BAND_PER_MAE,
    MIN_POINTS,
    W_MAX,
    W_MIN,
    Point,
    calibrate,
    fit,
)
from ipi.score.model import ALL_FACTORS, DEFAULT_WEIGHTS, estimate
from ipi.settings import Settings

TOLERANCE = 0.03  # on each weight: 26 weekly scores with 5 points of noise


def _weeks(true: dict[str, float], n: int, noise: float, seed: int) -> list[Point]:
    """n weeks of factor values spread as sellers' are, and the 'official' score a model
    with the ``true`` weights gives them, plus noise, rounded as Amazon shows it."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        v = {"excess": rng.uniform(0, 40), "sell_through": rng.uniform(0.3, 6),
             "stranded": rng.uniform(0, 8), "in_stock": rng.uniform(0.5, 1.0)}
        score = estimate(v, weights=true).score
        assert score is not None
        out.append(Point(v, ALL_FACTORS, float(round(score + rng.normal(0, noise)))))
    return out


@pytest.mark.parametrize("true", [
    {"excess": 0.45, "sell_through": 0.20, "stranded": 0.10, "in_stock": 0.25},
    {"excess": 0.25, "sell_through": 0.50, "stranded": 0.15, "in_stock": 0.10},
    {"excess": 0.30, "sell_through": 0.30, "stranded": 0.30, "in_stock": 0.10},
])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_calibration_recovers_known_weights_from_half_a_year_of_weekly_scores(
        true: dict[str, float], seed: int) -> None:
    cal = calibrate(_weeks(true, 26, noise=5, seed=seed))
    assert cal.used and cal.fitted is not None
    assert all(abs(cal.weights[f] - true[f]) <= TOLERANCE for f in ALL_FACTORS), cal.weights
    assert abs(sum(cal.weights.values()) - 1) < 1e-3
    # Held out, it misses by about the noise (MAE of 5-point noise is 4), far less than
    # the default weights do; the band is twice that error.
    assert cal.mae is not None and cal.mae < 7 < cal.prior_mae
    assert cal.model_error == pytest.approx(max(10, BAND_PER_MAE * cal.mae), abs=0.1)


def test_weights_stay_within_bounds_when_the_truth_is_outside() -> None:
    true = {"excess": 0.70, "sell_through": 0.30, "stranded": 0.0, "in_stock": 0.0}
    w = fit(_weeks(true, 26, noise=2, seed=5))
    assert all(W_MIN - 1e-6 <= w[f] <= W_MAX + 1e-6 for f in ALL_FACTORS)
    assert w["excess"] == pytest.approx(W_MAX, abs=1e-3)
    assert w["stranded"] < 0.1 and w["in_stock"] < 0.1


def test_few_noisy_weeks_lean_on_the_defaults() -> None:
    """Six weeks with 30 points of noise: the regularised fit stays nearer the defaults
    than an unregularised one; under six weeks, nothing is fitted and the band comes
    from how far the defaults miss."""
    true = {"excess": 0.45, "sell_through": 0.20, "stranded": 0.10, "in_stock": 0.25}
    weeks = _weeks(true, MIN_POINTS, noise=30, seed=7)

    def dist(w: dict[str, float]) -> float:
        return sum(abs(w[f] - DEFAULT_WEIGHTS[f]) for f in ALL_FACTORS)

    assert dist(fit(weeks)) < dist(fit(weeks, ridge_points=0))
    few = calibrate(weeks[:4])
    assert few.fitted is None and not few.used and dict(few.weights) == DEFAULT_WEIGHTS
    assert few.model_error == pytest.approx(max(10, BAND_PER_MAE * few.prior_mae), abs=0.1)


TRUE = {"excess": 0.45, "sell_through": 0.20, "stranded": 0.10, "in_stock": 0.25}


def test_recorded_official_scores_calibrate_the_account_and_rescore_its_history(
        scored_demo: tuple[Settings, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Weekly 'official' scores made from the stored factors with known weights: `ipi
    official import` fits them back, and every estimate then follows the official
    scores, with the narrower band the fit earned."""
    settings, config = scored_demo
    store = pipeline.open_store(settings, settings.accounts[0])
    complete = ("excess_pct IS NOT NULL AND sell_through IS NOT NULL "
                "AND stranded_pct IS NOT NULL AND in_stock_rate IS NOT NULL")
    rows = store.query(f"SELECT * FROM daily_score WHERE {complete} ORDER BY date")
    rng = np.random.default_rng(3)
    weekly = rows[::7]
    csv = tmp_path / "official.csv"
    lines = ["date,score,marketplace"]
    for r in weekly:
        # The factors that made the day's estimate: the long-term ones where they held it
        values = window.of(r["long_term"]) if r["score"] > r["score_recent"] else {
            "excess": r["excess_pct"], "sell_through": r["sell_through"],
            "stranded": r["stranded_pct"], "in_stock": r["in_stock_rate"]}
        truth = estimate(values, weights=TRUE).score
        assert truth is not None
        lines.append(f"{r['date']},{round(truth + rng.normal(0, 3))},US")
    csv.write_text("\n".join(lines) + "\n")
    width = "SELECT date, score_high - score_low AS w FROM daily_score ORDER BY date"
    before = {r["date"]: r["w"] for r in store.query(width)}

    assert main(["official", "import", str(csv), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"recorded {len(weekly)} official score(s)" in out and "calibrated weights" in out

    cal = store.query("SELECT * FROM calibration")[0]
    assert cal["used"] and cal["points"] == len(weekly)
    fitted = {f: cal[f"w_{f}"] for f in ALL_FACTORS}
    assert all(abs(fitted[f] - TRUE[f]) <= 0.05 for f in ALL_FACTORS), fitted
    assert cal["mae"] < cal["prior_mae"] / 2
    after = store.query(f"SELECT * FROM daily_score WHERE {complete} ORDER BY date")
    assert {r["model"] for r in after} == {f"prior-3 calibrated-{len(weekly)}"}
    narrower = {r["date"]: r["w"] for r in store.query(width)}
    assert all(narrower[d] < before[d] for d in before if before[d] is not None)
    official = {line.split(",")[0]: float(line.split(",")[1]) for line in lines[1:]}
    misses = [abs(r["score"] - official[str(r["date"])]) for r in after
              if str(r["date"]) in official]
    assert np.mean(misses) < 5

    assert main(["official", "list", "--config", str(config)]) == 0
    listed = capsys.readouterr().out
    assert listed.count("\n") == len(weekly) + 3  # heading, rows, the model, the request
    assert f"acme: Model prior-3 calibrated-{len(weekly)}: calibrated on {len(weekly)} " \
        "official scores, held-out error" in listed


def test_a_bad_row_rejects_the_whole_file_naming_its_line(
        scored_demo: tuple[Settings, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    settings, config = scored_demo
    csv = tmp_path / "official.csv"
    csv.write_text("date,score\n2026-07-01,420\n2026-07-08,4200\n")
    assert main(["official", "import", str(csv), "--config", str(config)]) == 2
    assert (f"{csv} line 3: score 4200 is not an IPI: use 0 to 1000"
            in capsys.readouterr().err)
    csv.write_text("day,ipi\n2026-07-01,420\n")
    assert main(["official", "import", str(csv), "--config", str(config)]) == 2
    assert "must name the columns date and score" in capsys.readouterr().err
    assert main(["official", "add", "--date", "2026-07-01", "--score", "400",
                 "--marketplace", "DE", "--config", str(config)]) == 2
    assert "marketplace 'DE' is not one of account acme's (US)" in capsys.readouterr().err
    store = pipeline.open_store(settings, settings.accounts[0])
    assert store.query("SELECT count(*) AS n FROM official_score")[0]["n"] == 0


def test_one_official_score_is_kept_beside_the_estimate_without_refitting(
        scored_demo: tuple[Settings, Path], demo_sim: Simulation,
        capsys: pytest.CaptureFixture[str]) -> None:
    settings, config = scored_demo
    day = demo_sim.day(60)
    assert main(["official", "add", "--date", str(day), "--score", "512",
                 "--config", str(config)]) == 0
    assert "weights are fitted from 6 on" in capsys.readouterr().out
    assert main(["official", "list", "--config", str(config)]) == 0
    listed = capsys.readouterr().out
    estimate_row = pipeline.open_store(settings, settings.accounts[0]).query(
        "SELECT score FROM daily_score WHERE date = $day", {"day": day})[0]
    assert f"{day}  US        512  {estimate_row['score']:>8.0f}" in listed
    assert "Model prior-3, band from 1 official: it misses this account's 1 official " \
        "score(s) by" in listed
    assert main(["official", "list", "--json", "--config", str(config)]) == 0
    doc = json.loads(capsys.readouterr().out)
    store = pipeline.open_store(settings, settings.accounts[0])
    assert list(doc["official"][0]) == ["account", "marketplace", "date", "official",
                                        "estimate"]
    assert doc["official"][0]["official"] == 512 and doc["calibration"]["points"] == 1
    assert list(doc["calibration"]) == list(store.query("SELECT * FROM calibration")[0])



def test_scores_with_no_estimate_to_pair_say_what_is_missing() -> None:
    cal = calibrate([])
    assert cal.points == 0 and dict(cal.weights) == DEFAULT_WEIGHTS
    assert cal.summary().startswith("no official score pairs with an estimate yet")


def test_an_official_score_from_the_future_is_refused(
        scored_demo: tuple[Settings, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """Seller Central shows this week's score, never tomorrow's: a later date is refused
    in one line, and nothing is recorded."""
    settings, config = scored_demo
    tomorrow = settings.today(settings.accounts[0]) + timedelta(days=1)
    assert main(["official", "add", "--date", str(tomorrow), "--score", "500",
                 "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{tomorrow} is in the future" in err and len(err.strip().splitlines()) == 1
    store = pipeline.open_store(settings, settings.accounts[0])
    assert store.query("SELECT count(*) AS n FROM official_score")[0]["n"] == 0


def test_an_official_score_recorded_by_mistake_is_removed_and_the_model_refitted(
        scored_demo: tuple[Settings, Path], demo_sim: Simulation,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`ipi official remove` takes the score back out and refits; a date without one is
    one line naming how to list them."""
    settings, config = scored_demo
    day = demo_sim.day(60)
    assert main(["official", "add", "--date", str(day), "--score", "512",
                 "--config", str(config)]) == 0
    assert main(["official", "remove", "--date", str(day), "--config", str(config)]) == 0
    assert f"acme: removed the official score of US on {day}." in capsys.readouterr().out
    store = pipeline.open_store(settings, settings.accounts[0])
    assert store.query("SELECT count(*) AS n FROM official_score")[0]["n"] == 0
    assert store.query("SELECT points FROM calibration")[0]["points"] == 0
    assert main(["official", "remove", "--date", str(day), "--config", str(config)]) == 2
    assert "`ipi official list` shows those recorded" in capsys.readouterr().err
