"""The daily steps as plain functions, without Prefect."""

from __future__ import annotations

from pathlib import Path

from ipi import pipeline
from ipi.demo import Simulation, write_day
from ipi.settings import settings_from_dict
from ipi.sources.files import FileDrops


def test_given_dropped_planning_report_collapsed_then_day_is_marked_unreliable(
        tmp_path: Path, demo_sim: Simulation) -> None:
    """File drops cannot be asked again: a report with a fraction of the usual rows loads,
    marked unreliable, with a warning naming the counts; threshold 0 turns the guard off."""
    settings = settings_from_dict({"accounts": [{"name": "acme"}]}, base_dir=tmp_path, env={})
    account = settings.accounts[0]
    store = pipeline.open_store(settings)
    write_day(demo_sim, 10, tmp_path / "d10")
    pipeline.ingest(store, account, FileDrops(tmp_path / "d10"), demo_sim.day(10))
    plan, *_ = write_day(demo_sim, 11, tmp_path / "d11")
    plan.write_text("".join(plan.read_text().splitlines(keepends=True)[:4]))
    run = pipeline.ingest(store, account, FileDrops(tmp_path / "d11"), demo_sim.day(11))
    assert len(run.loaded) == 3 and run.failed == []
    [(name, why)] = run.warnings
    assert name == plan.name and "3 rows, the last good one" in why
    pipeline.score(settings, account, demo_sim.day(11), run.days)
    [row] = store.query("SELECT status FROM daily_score WHERE date = ?", [demo_sim.day(11)])
    assert row["status"] == "unreliable"

    plan, *_ = write_day(demo_sim, 12, tmp_path / "d12")
    plan.write_text("".join(plan.read_text().splitlines(keepends=True)[:4]))
    run = pipeline.ingest(store, account, FileDrops(tmp_path / "d12"), demo_sim.day(12),
                          row_drop_threshold=0)
    assert run.warnings == []
