"""Marketplaces belong to the account: rows and folders naming another one are set aside
with a reason, never scored and never paged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from flows.cli import main
from ipi import pipeline
from ipi.demo import Simulation, write_day
from ipi.reports import get_fba_inventory_planning_data as planning
from ipi.settings import Settings
from ipi.sources.files import FileDrops


def _planning(demo_sim: Simulation, folder: Path, marketplaces: list[str]) -> Path:
    """Day 0's planning report with its rows spread over ``marketplaces``, in turn."""
    paths = write_day(demo_sim, 0, folder.parent / "downloads")
    plan = next(p for p in paths if p.read_text(encoding="utf-8").startswith("snapshot-date"))
    lines = plan.read_text(encoding="utf-8").splitlines()
    col = lines[0].split("\t").index("marketplace")
    out = [lines[0]]
    for k, line in enumerate(lines[1:]):
        cells = line.split("\t")
        cells[col] = marketplaces[k % len(marketplaces)]
        out.append("\t".join(cells))
    dest = folder / plan.name
    folder.mkdir(parents=True, exist_ok=True)
    dest.write_text("\n".join(out) + "\n", encoding="utf-8")
    return dest


def _ingest(settings: Settings, demo_sim: Simulation) -> pipeline.IngestRun:
    account = settings.accounts[0]
    return pipeline.ingest(pipeline.open_store(settings, account), account,
                           FileDrops(settings.drop_dir(account)), demo_sim.day(0))


def test_a_report_whose_rows_name_only_another_marketplace_is_set_aside(
        make_settings: Callable[..., tuple[Settings, Path]], demo_sim: Simulation) -> None:
    """A planning report all of whose rows say CA, for an account selling only in US, goes
    to failed/ with its reason; nothing of it is stored or scored."""
    settings, _ = make_settings()
    drop = settings.drop_dir(settings.accounts[0])
    plan = _planning(demo_sim, drop, ["CA"])
    run = _ingest(settings, demo_sim)
    [(name, why)] = run.failed
    assert name == plan.name and "row(s) for CA, none for account acme's marketplaces (US)" in why
    reason = (drop / "failed" / (plan.name + ".reason.txt")).read_text()
    assert "add the marketplace to the account" in reason
    store = pipeline.open_store(settings, settings.accounts[0])
    assert store.query("SELECT count(*) AS n FROM fba_inventory_planning")[0]["n"] == 0
    assert store.query("SELECT count(*) AS n FROM report_partition")[0]["n"] == 0


def test_rows_of_another_marketplace_are_left_out_with_a_warning(
        make_settings: Callable[..., tuple[Settings, Path]], demo_sim: Simulation) -> None:
    """A report mixing US and CA rows loads the US ones and says how many CA rows it left
    out; no CA partition exists."""
    settings, _ = make_settings()
    drop = settings.drop_dir(settings.accounts[0])
    _planning(demo_sim, drop, ["US", "CA"])
    run = _ingest(settings, demo_sim)
    assert not run.failed
    [(_, warning)] = [w for w in run.warnings if "left out" in w[1]]
    assert "row(s) for CA left out: not one of account acme's marketplaces (US)" in warning
    store = pipeline.open_store(settings, settings.accounts[0])
    assert {r["marketplace"] for r in store.query(
        "SELECT DISTINCT marketplace FROM report_partition WHERE report_type = $report_type",
        {"report_type": planning.REPORT_TYPE})} == {"US"}


def test_a_file_in_a_folder_named_for_another_marketplace_is_set_aside(
        make_settings: Callable[..., tuple[Settings, Path]], demo_sim: Simulation) -> None:
    """drops/acme/UK/ for an account that sells only in US: its files are not loaded as
    US, they go to failed/ with the reason."""
    settings, _ = make_settings()
    drop = settings.drop_dir(settings.accounts[0])
    paths = write_day(demo_sim, 0, drop / "UK")
    run = _ingest(settings, demo_sim)
    assert sorted(n for n, _ in run.failed) == sorted(p.name for p in paths)
    assert all("in a folder named UK, a marketplace account acme does not have (US)" in why
               for _, why in run.failed)
    assert pipeline.open_store(settings, settings.accounts[0]).query(
        "SELECT count(*) AS n FROM report_partition")[0]["n"] == 0
    assert sorted(p.name for p in (drop / "UK" / "failed").iterdir()
                  if not p.name.endswith(".reason.txt")) == sorted(p.name for p in paths)


def test_ingest_names_each_configured_marketplace_that_got_no_report(
        make_settings: Callable[..., tuple[Settings, Path]], demo_sim: Simulation,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An account in US and CA gets the day's reports for US only: `ipi ingest` says CA
    got none, and since when; the run line says the same."""
    settings, config = make_settings(
        accounts='[[accounts]]\nname = "acme"\nmarketplaces = ["US", "CA"]\n')
    paths = write_day(demo_sim, 1, tmp_path / "downloads")
    day = demo_sim.day(1)
    assert main(["ingest", *map(str, paths), "--date", str(day),
                 "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"no report for acme CA on {day} (newest never)" in out
    assert "acme US on" not in out
    silent = pipeline.silent_marketplaces(settings, settings.accounts[0], day)
    assert pipeline.DayRun(day, loaded=3, silent=silent).line("acme") == (
        f"acme {day}: 3 report(s) loaded; no estimate for the day; no report for CA today "
        "(newest never); 0 alert(s) sent")
