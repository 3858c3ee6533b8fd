"""`ipi forget`: a load taken back out, its bytes kept, the removal recorded, rescored."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from flows.cli import main
from ipi import pipeline
from ipi.demo import Simulation, write_day
from ipi.settings import Settings
from ipi.store import Store
from ipi.store.landing import sha256_of
from ipi.store.load import load_file

PLAN = "GET_FBA_INVENTORY_PLANNING_DATA"
LAST_DAY = date(2026, 9, 8)  # the demo seller's last day in scored_demo
WRONG_DAY = date(2099, 1, 1)
# A machine whose clock said 2099: the only way such a file got in before it was refused.
WRONG_CLOCK = datetime(2099, 1, 1, 12, tzinfo=UTC)


def latest_days(config: Path, capsys: pytest.CaptureFixture[str]) -> set[str]:
    """The latest day `ipi score` shows, per account and marketplace."""
    capsys.readouterr()
    assert main(["score", "--config", str(config), "--json"]) == 0
    return {r["date"] for r in json.loads(capsys.readouterr().out)}


def wrong_plan(sim: Simulation, folder: Path) -> Path:
    """The demo's last planning report, its snapshot-date changed to 2099-01-01."""
    plan, *_ = write_day(sim, 99, folder / "downloads")
    wrong = folder / "plan-2099.txt"
    wrong.write_text(plan.read_text().replace(str(LAST_DAY), str(WRONG_DAY)))
    return wrong


def counts(store: Store, day: date) -> dict[str, int]:
    """Rows of ``day`` in every table a load or a score writes."""
    return {t: store.query(f"SELECT count(*) AS n FROM {t} WHERE {c} = $day", {"day": day})[0]["n"]
            for t, c in (("fba_inventory_planning", "snapshot_date"),
                         ("fba_myi_inventory", "snapshot_date"),
                         ("stranded_inventory", "snapshot_date"),
                         ("report_partition", "snapshot_date"), ("asin_day", "d"),
                         ("daily_score", "date"))}


def test_given_a_day_loaded_from_a_wrong_clock_when_forgotten_then_gone_recorded_rescored(
        scored_demo: tuple[Settings, Path], demo_sim: Simulation, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`ipi forget` takes the 2099 day out: its rows, partition, asin_day and estimate go,
    the raw bytes stay, the removal is recorded, `ipi score` shows the real latest day
    again, and the same file loads again when dropped again."""
    settings, config = scored_demo
    account = settings.accounts[0]
    store = pipeline.open_store(settings, account)
    wrong = wrong_plan(demo_sim, tmp_path)
    load_file(store, "acme", wrong, ingest_day=LAST_DAY, default_marketplace="US",
              now=WRONG_CLOCK)
    pipeline.score(settings, account, WRONG_DAY, [WRONG_DAY])
    assert latest_days(config, capsys) == {str(WRONG_DAY)}
    rows = counts(store, WRONG_DAY)["fba_inventory_planning"]
    assert rows > 0
    raw = store.query("SELECT * FROM raw_file ORDER BY sha256")
    sha = sha256_of(wrong)

    assert main(["forget", "--account", "acme", "--date", str(WRONG_DAY), "--config",
                 str(config), "--reason", "loaded with the clock at 2099"]) == 0

    assert capsys.readouterr().out.splitlines() == [
        f"forgot  acme US {PLAN} {WRONG_DAY}: {rows:,} rows (file {sha[:12]}: its bytes are "
        "kept)",
        f"rescored acme {WRONG_DAY}..2099-04-01: 0 day(s), 0 changed, 1 estimate(s) "
        "removed: no data left for their day",
    ]
    assert counts(store, WRONG_DAY) == dict.fromkeys(counts(store, WRONG_DAY), 0)
    assert store.query("SELECT * FROM raw_file ORDER BY sha256") == raw
    assert (settings.raw_dir / "acme" / sha[:2] / sha).read_bytes() == wrong.read_bytes()
    assert store.query("SELECT account, marketplace, report_type, snapshot_date, sha256, "
                       "rows, reason FROM forgotten_load") == [
        {"account": "acme", "marketplace": "US", "report_type": PLAN,
         "snapshot_date": WRONG_DAY, "sha256": sha, "rows": rows,
         "reason": "loaded with the clock at 2099"}]
    assert latest_days(config, capsys) == {str(LAST_DAY)}

    again = load_file(store, "acme", wrong, ingest_day=LAST_DAY, default_marketplace="US",
                      now=WRONG_CLOCK)
    assert (again.skipped, again.rows) == (False, rows)
    assert counts(store, WRONG_DAY)["fba_inventory_planning"] == rows
    twice = load_file(store, "acme", wrong, ingest_day=LAST_DAY, default_marketplace="US",
                      now=WRONG_CLOCK)
    assert twice.skipped  # once loaded again, the same bytes are skipped as before


def test_given_one_report_type_forgotten_then_the_day_keeps_the_others_and_is_recomputed(
        scored_demo: tuple[Settings, Path], demo_sim: Simulation, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Forgetting the last day's planning report keeps its MYI and stranded rows, rebuilds
    its asin_day without the planning weights and recomputes its estimate with excess
    carried from the day before;
    `ipi ingest` of the same download then brings the day back as it was."""
    settings, config = scored_demo
    store = pipeline.open_store(settings, settings.accounts[0])
    score_sql = ("SELECT excess_pct, status, score FROM daily_score WHERE date = $day")
    [before] = store.query(score_sql, {"day": LAST_DAY})
    assert before["excess_pct"] is not None

    assert main(["forget", "--account", "acme", "--date", str(LAST_DAY), "--report-type",
                 PLAN.lower(), "--marketplace", "us", "--config", str(config)]) == 0

    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"forgot  acme US {PLAN} {LAST_DAY}: ")
    assert out[1] == f"rescored acme {LAST_DAY}..2026-12-07: 1 day(s), 1 changed"
    left = counts(store, LAST_DAY)
    assert left["fba_inventory_planning"] == 0 and left["fba_myi_inventory"] > 0
    assert left["report_partition"] == 2 and left["daily_score"] == 1
    assert store.query("SELECT count(t60) AS n FROM asin_day WHERE d = $day",
                       {"day": LAST_DAY}) == [{"n": 0}]
    [after] = store.query(score_sql, {"day": LAST_DAY})
    [previous] = store.query(score_sql, {"day": LAST_DAY - timedelta(days=1)})
    assert after["excess_pct"] == previous["excess_pct"] and after["status"] != "partial"
    assert f"excess carried from {LAST_DAY - timedelta(days=1)}" in store.query(
        "SELECT notes FROM daily_score WHERE date = $day", {"day": LAST_DAY})[0]["notes"]

    plan, *_ = write_day(demo_sim, 99, tmp_path / "downloads")
    [gone] = store.query("SELECT sha256 FROM forgotten_load")
    assert sha256_of(plan) == gone["sha256"]  # the very bytes that were loaded before
    assert main(["ingest", str(plan), "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith(f"loaded  {plan}: {PLAN}")
    assert store.query(score_sql, {"day": LAST_DAY}) == [before]


def test_given_nothing_loaded_that_day_when_forget_then_one_line_and_exit_2(
        scored_demo: tuple[Settings, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing to forget is a usage error (exit 2) in one line naming what was looked for
    and how to see what is loaded; nothing is recorded."""
    settings, config = scored_demo
    capsys.readouterr()
    assert main(["forget", "--account", "acme", "--date", "2026-12-25",
                 "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err == ("ipi: error: nothing loaded for acme on 2026-12-25 to forget: its latest "
                   f"loaded day is {LAST_DAY}; `ipi score --account acme --history 30` lists "
                   "the days with estimates\n")
    assert main(["forget", "--account", "acme", "--date", str(LAST_DAY), "--marketplace",
                 "UK", "--config", str(config)]) == 2
    assert capsys.readouterr().err == (
        f"ipi: error: nothing loaded for acme UK on {LAST_DAY} to forget: on {LAST_DAY} it "
        "has US GET_FBA_INVENTORY_PLANNING_DATA, US GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA, "
        "US GET_STRANDED_INVENTORY_UI_DATA\n")
    assert pipeline.open_store(settings, settings.accounts[0]).query(
        "SELECT count(*) AS n FROM forgotten_load") == [{"n": 0}]
