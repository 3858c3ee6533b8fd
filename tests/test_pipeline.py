"""The daily steps as plain functions, without Prefect."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from flows.cli import main
from ipi import pipeline
from ipi.demo import Simulation, write_day
from ipi.settings import Settings, settings_from_dict
from ipi.sources.files import FAILED, FileDrops
from ipi.store import Store
from ipi.store.load import load_file
from tests.helpers import Webhook

LAST_DAY = date(2026, 9, 8)  # the demo seller's last day in scored_demo


def test_given_dropped_planning_report_collapsed_then_day_is_marked_unreliable(
        tmp_path: Path, demo_sim: Simulation) -> None:
    """File drops cannot be asked again: a report with a fraction of the usual rows loads,
    marked unreliable, with a warning naming the counts; threshold 0 turns the guard off."""
    settings = settings_from_dict({"accounts": [{"name": "acme"}]}, base_dir=tmp_path, env={})
    account = settings.accounts[0]
    store = pipeline.open_store(settings, account)
    write_day(demo_sim, 10, tmp_path / "d10")
    pipeline.ingest(store, account, FileDrops(tmp_path / "d10"), demo_sim.day(10))
    plan, *_ = write_day(demo_sim, 11, tmp_path / "d11")
    plan.write_text("".join(plan.read_text().splitlines(keepends=True)[:4]))
    run = pipeline.ingest(store, account, FileDrops(tmp_path / "d11"), demo_sim.day(11))
    assert len(run.loaded) == 3 and run.failed == []
    [(name, why)] = run.warnings
    assert name == plan.name and "3 rows, the last good one" in why
    pipeline.score(settings, account, demo_sim.day(11), run.days)
    [row] = store.query("SELECT status FROM daily_score WHERE date = $day",
                        {"day": demo_sim.day(11)})
    assert row["status"] == "unreliable"

    plan, *_ = write_day(demo_sim, 12, tmp_path / "d12")
    plan.write_text("".join(plan.read_text().splitlines(keepends=True)[:4]))
    run = pipeline.ingest(store, account, FileDrops(tmp_path / "d12"), demo_sim.day(12),
                          row_drop_threshold=0)
    assert run.warnings == []


def latest_days(config: Path, capsys: pytest.CaptureFixture[str]) -> set[str]:
    """The latest day `ipi score` shows, per account and marketplace."""
    capsys.readouterr()
    assert main(["score", "--config", str(config), "--json"]) == 0
    return {r["date"] for r in json.loads(capsys.readouterr().out)}


def test_given_a_planning_report_dated_2099_in_the_drop_folder_then_it_is_set_aside(
        scored_demo: tuple[Settings, Path], demo_sim: Simulation, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A planning report whose snapshot-date is 2099-01-01 is refused: moved to failed/ with
    a reason naming the date, the marketplace's tomorrow and the fix; nothing of it loads
    and `ipi score` still shows the account's real latest day."""
    settings, config = scored_demo
    account = settings.accounts[0]
    assert latest_days(config, capsys) == {str(LAST_DAY)}
    plan, *_ = write_day(demo_sim, 99, tmp_path / "downloads")
    drop = settings.drop_dir(account)
    drop.mkdir(parents=True)
    (drop / "plan.txt").write_text(plan.read_text().replace(str(LAST_DAY), "2099-01-01"))

    run = pipeline.ingest(pipeline.open_store(settings, account), account, FileDrops(drop),
                          LAST_DAY + timedelta(days=1))

    tomorrow = datetime.now(ZoneInfo("America/Los_Angeles")).date() + timedelta(days=1)
    reason = (f"snapshot-date 2099-01-01 is after tomorrow ({tomorrow} in "
              "America/Los_Angeles): check the file's dates or the machine's clock")
    assert (run.loaded, run.failed) == ([], [("plan.txt", reason)])
    assert (drop / FAILED / "plan.txt.reason.txt").read_text() == reason + "\n"
    assert not (drop / "plan.txt").exists()
    store = pipeline.open_store(settings, account)
    assert store.query("SELECT count(*) AS n FROM report_partition "
                       "WHERE snapshot_date > $day", {"day": LAST_DAY}) == [{"n": 0}]
    assert latest_days(config, capsys) == {str(LAST_DAY)}


def test_given_a_report_dated_tomorrow_in_its_marketplace_then_it_loads(
        scored_demo: tuple[Settings, Path], demo_sim: Simulation, tmp_path: Path) -> None:
    """By the real clock, a US planning report dated tomorrow in Los Angeles loads (Amazon
    dates reports in the marketplace's zone, which may be ahead of the machine's)."""
    settings, _ = scored_demo
    account = settings.accounts[0]
    tomorrow = datetime.now(ZoneInfo("America/Los_Angeles")).date() + timedelta(days=1)
    plan, *_ = write_day(demo_sim, 99, tmp_path / "downloads")
    drop = settings.drop_dir(account)
    drop.mkdir(parents=True)
    (drop / "plan.txt").write_text(plan.read_text().replace(str(LAST_DAY), str(tomorrow)))

    run = pipeline.ingest(pipeline.open_store(settings, account), account, FileDrops(drop),
                          tomorrow)

    assert run.failed == []
    assert [r.partitions for r in run.loaded] == [[("US", tomorrow)]]


def test_given_units_on_hand_jump_tenfold_when_the_day_runs_then_it_loads_and_ops_hear_why(
        make_settings: Callable[..., tuple[Settings, Path]], scored_demo_data: Path,
        demo_sim: Simulation, webhook_server: Webhook, tmp_path: Path) -> None:
    """An MYI report with ten times the units of the day before loads, and the warning
    (both days' units, the fix) is in the ingest's warnings and in the run's ops message."""
    settings, _ = make_settings(urls=[webhook_server.url])
    shutil.copytree(scored_demo_data, settings.data_dir)
    account = settings.accounts[0]
    _, myi, _ = write_day(demo_sim, 99, tmp_path / "downloads")
    rows = [line.split("\t") for line in myi.read_bytes().decode("cp1252").splitlines()]
    col = rows[0].index("afn-warehouse-quantity")
    before = sum(int(r[col]) for r in rows[1:])
    for r in rows[1:]:
        r[col] = str(10 * int(r[col]))
    drop = settings.drop_dir(account)
    drop.mkdir(parents=True)
    day = LAST_DAY + timedelta(days=1)
    (drop / f"Inventory_{day}.txt").write_bytes(
        "".join("\t".join(r) + "\r\n" for r in rows).encode("cp1252"))

    run = pipeline.ingest(pipeline.open_store(settings, account), account, FileDrops(drop), day)

    warning = (f"US GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA on {day}: {10 * before:,} units "
               f"on hand, 10.0 times the {before:,} on {LAST_DAY}; loaded, but check that the "
               "file is this account's and complete (`ipi forget --account acme --date "
               f"{day} --marketplace US --report-type GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA` "
               "takes it out)")
    assert run.failed == [] and [(r.path.name, r.rows) for r in run.loaded] == [
        (f"Inventory_{day}.txt", len(rows) - 1)]
    assert run.warnings == [(f"Inventory_{day}.txt", warning)]
    pipeline.score(settings, account, day, run.days)
    pipeline.alert(settings, account, day, run)
    ops = [m for m in webhook_server.received if m["title"].startswith("[OPS]")]
    [problems] = [m for m in ops if "report problem(s)" in m["title"]]
    assert f"WARNING Inventory_{day}.txt: {warning}" in problems["message"]
    # The day brought the MYI report alone: the other two are a gap each, one message.
    assert sorted(m["title"] for m in ops if m is not problems) == [
        f"[OPS] IPI acme US: no {name} report since {LAST_DAY}"
        for name in ("Manage Inventory Health", "Stranded inventory")]


def test_while_steps_work_the_log_is_checkpointed_once_when_the_last_one_leaves(
        fresh_db: Store, demo_sim: Simulation, tmp_path: Path) -> None:
    """A daily run's steps share one open database, in bulk: their loads commit into the
    write-ahead log, which is folded into the database when the last step leaves (a
    fleet's loads otherwise rewrite tables every 16 MB); then the file is free again."""
    wal = fresh_db.path.with_name(fresh_db.path.name + ".wal")
    with pipeline.working(fresh_db):
        with pipeline.working(fresh_db):  # a second account's step joins the same one
            for path in write_day(demo_sim, 0, tmp_path / "0"):
                load_file(fresh_db, "acme", path, ingest_day=demo_sim.day(0),
                          default_marketplace="US")
        assert wal.stat().st_size > 0  # the first step still works: no checkpoint yet
        assert fresh_db.query("SELECT current_setting('checkpoint_threshold') AS t"
                              )[0]["t"] == "1.0 GiB"
    assert not wal.exists() or wal.stat().st_size == 0
    duckdb.connect(str(fresh_db.path)).close()  # nothing of this process holds the file
