"""Backfill from archives of old downloads: history rebuilt, no alert for the past,
resumed after a kill without doubling anything; the CLI and its progress."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from flows.cli import main
from ipi.backfill import backfill_files
from ipi.demo import Simulation, write_day
from ipi.pipeline import open_store
from ipi.settings import Settings
from tests.helpers import Webhook, kill_cli_at


def downloads(sim: Simulation, folder: Path) -> Path:
    """Every report day of the seller, as downloaded: one folder per day."""
    for i in range(sim.days):
        write_day(sim, i, folder / f"day-{i:03d}")
    return folder


def archive(folder: Path, dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, f"old-downloads/{path.relative_to(folder)}")
    return dest


def table_health(settings: Settings) -> dict[str, object]:
    """Rows per table and whether any natural key repeats (a doubled load would)."""
    store = open_store(settings, settings.accounts[0])
    out: dict[str, object] = {}
    for table, key in (("fba_inventory_planning", "sku"), ("fba_myi_inventory", "sku"),
                       ("stranded_inventory", "sku")):
        row = store.query(f"SELECT count(*) AS n, count(DISTINCT (marketplace, snapshot_date, "
                          f"{key})) AS keys FROM {table}")[0]
        out[table] = row["n"]
        assert row["n"] == row["keys"], f"{table} has repeated rows"
    out["days"] = store.query("SELECT count(*) AS n FROM daily_score")[0]["n"]
    out["partitions"] = store.query("SELECT count(*) AS n FROM report_partition")[0]["n"]
    return out


@pytest.mark.slow
def test_an_archive_backfill_rebuilds_history_and_pages_nothing_for_the_past(
        make_settings: Callable[..., tuple[Settings, Path]], demo_sim: Simulation,
        webhook_server: Webhook, tmp_path: Path) -> None:
    settings, _ = make_settings(urls=[webhook_server.url])
    zipped = archive(downloads(demo_sim, tmp_path / "dl"), tmp_path / "history.zip")

    run = backfill_files(settings, settings.account("acme"), [zipped])

    assert not run.failed and run.progress.done == run.progress.total == 3 * demo_sim.days
    store = open_store(settings, settings.accounts[0])
    days = store.query("SELECT date, score FROM daily_score ORDER BY date")
    assert len(days) == demo_sim.days
    assert days[0]["date"] == demo_sim.start
    # The story: the estimate fell under 450 in the past, and is over it on the last day.
    assert any(d["score"] is not None and d["score"] < 450 for d in days[:-1])
    assert days[-1]["score"] >= 450
    # The rules looked at the latest day only, as a daily run would: nothing paged.
    assert run.alerts is not None and run.alerts.day == days[-1]["date"]
    events = store.query("SELECT DISTINCT date FROM alert_event")
    assert all(e["date"] == days[-1]["date"] for e in events)
    assert webhook_server.received == []
    assert store.query("SELECT count(*) AS n FROM alert_outbox")[0]["n"] == 0
    # Days whose 30/60/90-day snapshots are in the archive are exact, earlier ones not.
    exact = store.query("SELECT min(date) AS d FROM daily_score WHERE NOT sell_through_approx")
    assert exact[0]["d"] == demo_sim.start + timedelta(days=90)


def test_given_a_hostile_member_then_the_rest_loads_and_the_member_is_named(
        make_settings: Callable[..., tuple[Settings, Path]], demo_sim: Simulation,
        tmp_path: Path) -> None:
    settings, _ = make_settings()
    paths = write_day(demo_sim, 0, tmp_path / "dl")
    with zipfile.ZipFile(tmp_path / "mixed.zip", "w") as z:
        for p in paths:
            z.write(p, p.name)
        z.writestr("../../escape.txt", "sku\tasin\n")
    run = backfill_files(settings, settings.account("acme"), [tmp_path / "mixed.zip"])
    assert run.progress.done == 3
    assert [name for name, _ in run.failed] == ["mixed.zip:../../escape.txt"]
    assert not (tmp_path.parent / "escape.txt").exists()


@pytest.mark.slow
def test_the_cli_backfill_resumes_after_a_kill_and_a_rerun_changes_nothing(
        make_settings: Callable[..., tuple[Settings, Path]], demo_sim: Simulation,
        tmp_path: Path) -> None:
    """SIGKILL once a third of the files are in, run it again: every day once, no row twice."""
    _, config = make_settings()
    folder = downloads(demo_sim, tmp_path / "dl")
    lines = kill_cli_at(["backfill", "--config", str(config), "--source", "files", str(folder)],
                        "acme: 100/300 files")
    assert "ETA" in lines[-1] and "rows" in lines[-1]

    assert main(["backfill", "--config", str(config), "--source", "files", str(folder)]) == 0
    settings = make_settings()[0]
    after = table_health(settings)
    assert after["days"] == demo_sim.days and after["partitions"] == 3 * demo_sim.days

    assert main(["backfill", "--config", str(config), "--source", "files", str(folder)]) == 0
    assert table_health(settings) == after


def test_cli_backfill_errors_name_the_fix(make_settings: Callable[..., tuple[Settings, Path]],
                                         tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _, config = make_settings()
    assert main(["backfill", "--config", str(config), "--source", "files"]) == 2
    assert capsys.readouterr().err == ("ipi: error: a backfill from files needs the folders "
                                       "or archives to read (ipi backfill --help)\n")
    assert main(["backfill", "--config", str(config)]) == 2
    assert "needs a start and an end day (ipi backfill --help)" in capsys.readouterr().err
    assert main(["backfill", "--config", str(config), "--source", "files",
                 str(tmp_path / "nope")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["backfill", "--config", str(config), "--source", "sp-api",
                 str(tmp_path)]) == 2
    assert "folders and archives are for a backfill from files" in capsys.readouterr().err


def test_a_backfill_does_not_run_while_another_run_holds_the_account(
        make_settings: Callable[..., tuple[Settings, Path]], demo_sim: Simulation,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ipi.locks import account_lock

    settings, config = make_settings()
    config.write_text(config.read_text().replace("[store]\n", "[store]\nrun_lock_wait = 0\n"))
    write_day(demo_sim, 0, tmp_path / "dl")
    with account_lock(settings.data_dir, "acme", wait=0, what="the daily run for today"):
        assert main(["backfill", "--config", str(config), str(tmp_path / "dl")]) == 2
    assert "the daily run for today (pid" in capsys.readouterr().err
    assert main(["backfill", "--config", str(config), str(tmp_path / "dl")]) == 0
