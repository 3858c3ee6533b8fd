"""The installation's default model: shared official scores refit it, a new default
rescores history once, and a seller's export carries nothing that names them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from flows.cli import main
from ipi import pipeline
from ipi.score import reference
from ipi.score.model import MODEL
from ipi.settings import Settings


def _models(settings: Settings) -> set[str]:
    store = pipeline.open_store(settings, settings.accounts[0])
    return {r["model"] for r in store.query("SELECT DISTINCT model FROM daily_score")}


def _record_weekly(config: Path, settings: Settings, tmp_path: Path) -> list[str]:
    """Official scores every 7th day of the demo (made up: 40 under the estimate)."""
    store = pipeline.open_store(settings, settings.accounts[0])
    days = store.query("SELECT date, score FROM daily_score WHERE score IS NOT NULL "
                       "AND status IN ('ok', 'approximate') ORDER BY date")[::7]
    csv = tmp_path / "official.csv"
    csv.write_text("date,score\n" + "".join(f"{d['date']},{d['score'] - 40:.0f}\n"
                                            for d in days))
    assert main(["official", "import", str(csv), "--config", str(config)]) == 0
    return [str(d["date"]) for d in days]


def test_given_official_scores_when_exported_anonymously_then_rows_name_no_one(
        scored_demo: tuple[Settings, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The export is reference CSV: each official score with its day's factor values,
    kind shared, and no account name, SKU or date finer than the week."""
    settings, config = scored_demo
    recorded = _record_weekly(config, settings, tmp_path)
    capsys.readouterr()
    out = tmp_path / "mine.csv"
    assert main(["official", "export", "--anonymous", "--out", str(out),
                 "--config", str(config)]) == 0
    text = out.read_text()
    rows = reference.parse(text)
    assert len(rows) == len(recorded) and {r.kind for r in rows} == {"shared"}
    assert all(r.marketplace == "US" and r.week.startswith("2026-W") for r in rows)
    assert len(reference.counted(rows)) == len(rows)
    for secret in ("acme", "DEMO-", *recorded):
        assert secret not in text
    assert f"exported {len(rows)} official score(s)" in capsys.readouterr().err


def test_export_without_anonymous_is_refused_with_the_fix(
        scored_demo: tuple[Settings, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """`ipi official export` alone says to add --anonymous, and writes nothing."""
    _, config = scored_demo
    assert main(["official", "export", "--config", str(config)]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "add --anonymous" in out.err


def test_given_shared_rows_when_imported_then_the_default_model_refits_and_rescores_once(
        scored_demo: tuple[Settings, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Imported rows join the public ones in the prior's fit: the model gets a new name,
    every estimate is rescored with it and says so; importing again adds nothing and
    rescores nothing."""
    settings, config = scored_demo
    shared = tmp_path / "shared.csv"
    shared.write_text(",".join(reference.COLUMNS) + "\n" + "".join(
        f"a friend,2025-W{w:02d},US,{ipi},0.00,{st},0.00,99.00,,,,,shared,\n"
        for w, ipi, st in ((1, 420, 0.4), (2, 700, 3.0), (3, 480, 0.8))))
    assert _models(settings) == {MODEL}
    assert main(["official", "import-reference", str(shared), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "3 official score(s) added, 0 already here" in out
    assert f"The default model is now {MODEL} +3 imported" in out
    assert "On 11 public official scores" in out
    assert f"acme: estimates now come from the model {MODEL} +3 imported" in out
    assert _models(settings) == {f"{MODEL} +3 imported"}
    assert main(["official", "import-reference", str(shared), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "0 official score(s) added, 3 already here" in out and "rescored" not in out


@pytest.mark.parametrize("content, message", [
    (b"source,ipi\nx,500\n", "it lacks"),
    (b"\xff\xfe\x00junk", "not a UTF-8 text file"),
    (None, "not a regular file"),
])
def test_a_bad_reference_file_is_refused_in_one_line(
        content: bytes | None, message: str, scored_demo: tuple[Settings, Path],
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file that is not a reference CSV (or not a file) is refused with exit 2 and one
    line naming it; nothing is imported."""
    settings, config = scored_demo
    path = tmp_path / "shared.csv"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    assert main(["official", "import-reference", str(path), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert _models(settings) == {MODEL}


def test_given_history_of_an_older_model_when_the_day_is_scored_then_all_is_rescored_once(
        scored_demo: tuple[Settings, Path], caplog: pytest.LogCaptureFixture) -> None:
    """Estimates an older default made are rescored with the current one at the next
    run, all of them, once, with a warning that says so."""
    settings, _ = scored_demo
    account = settings.accounts[0]
    store = pipeline.open_store(settings, account)
    with store.write() as con:
        con.execute("UPDATE daily_score SET model = 'prior-1', score = score + 190")
    last = store.query("SELECT max(date) AS d, count(*) AS n FROM daily_score")[0]
    with caplog.at_level(logging.WARNING, logger="ipi"):
        pipeline.score(settings, account, last["d"])
    assert _models(settings) == {MODEL}
    notes = [r.getMessage() for r in caplog.records if "rescored" in r.getMessage()]
    assert notes == [f"acme: estimates now come from the model {MODEL} (they came from "
                     f"prior-1); rescored {last['n']} day(s) of history with it, once"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ipi"):
        pipeline.score(settings, account, last["d"])
    assert not [r for r in caplog.records if "rescored" in r.getMessage()]


def test_a_calibration_fitted_on_older_curves_is_refitted_at_the_upgrade(
        scored_demo: tuple[Settings, Path], tmp_path: Path) -> None:
    """An account calibrated under an older default gets its fit redone on the current
    curves before its history is rescored: the stored fit is not reused as it was."""
    settings, config = scored_demo
    _record_weekly(config, settings, tmp_path)
    store = pipeline.open_store(settings, settings.accounts[0])
    before = store.query("SELECT prior_mae FROM calibration")[0]["prior_mae"]
    with store.write() as con:
        con.execute("UPDATE calibration SET prior_mae = 999, fitted_at = TIMESTAMP '2020-01-01'")
        con.execute("UPDATE daily_score SET model = 'calibrated-14'")
    day = store.query("SELECT max(date) AS d FROM daily_score")[0]["d"]
    pipeline.score(settings, settings.accounts[0], day)
    after = store.query("SELECT prior_mae, fitted_at FROM calibration")[0]
    assert after["prior_mae"] == pytest.approx(before) and after["fitted_at"].year > 2020
    assert all(m.startswith(MODEL) for m in _models(settings))


def test_the_export_leaves_out_official_scores_without_an_estimate(
        scored_demo: tuple[Settings, Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    """An official score with no estimate of its day (or the 6 before) is not exported,
    and the count says so."""
    _, config = scored_demo
    assert main(["official", "add", "--date", "2020-01-06", "--score", "500",
                 "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["official", "export", "--anonymous", "--config", str(config)]) == 0
    out = capsys.readouterr()
    assert reference.parse(out.out) == [] and "1 left out" in out.err
