"""``ipi demo``: a synthetic seller end to end, through the real daily flow.

Earlier history is loaded as a seller's archive of downloads (no alerts for
the past); the last weeks arrive one day at a time in the drop folder and the
daily flow runs for each day, as it would unattended. Alerts go to
``alerts.log`` in the demo folder through apprise's ``ipifile://`` target.
"""

from __future__ import annotations

import os
import shutil
import sys
from datetime import date, timedelta
from pathlib import Path

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # one line a day is enough

from flows.daily import daily
from ipi import pipeline
from ipi.api import Rows
from ipi.cli import print_table
from ipi.demo import simulate, write_day
from ipi.errors import ConfigError
from ipi.settings import load_settings
from ipi.sources.files import FileDrops
from ipi.stakes import Stakes

MARKER = "ipi-demo.toml"


def _fresh(folder: Path) -> None:
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise ConfigError(f"{folder} exists and is not an ipi demo folder; "
                              "pass --dir with a new or empty folder")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)


def run_demo(folder: Path, *, days: int = 120, flow_days: int = 14) -> int:
    folder = folder.resolve()
    if not 0 < flow_days <= days:
        raise ConfigError("--flow-days must be between 1 and --days")
    _fresh(folder)
    alerts = folder / "alerts.log"
    config = folder / MARKER
    config.write_text(
        "# Written by `ipi demo`. A real configuration: see config/ipi.example.toml.\n"
        '[store]\ndata_dir = "data"\n\n'
        f'[alerts]\nurls = ["ipifile://{alerts}"]\n\n'
        '[[accounts]]\nname = "demo-seller"\nmarketplaces = ["US"]\ndrop_dir = "drops"\n'
        "# As read in Seller Central's Capacity Monitor (or: ipi capacity set).\n"
        "capacity = { standard = 1350 }\n",
        encoding="utf-8",
    )
    settings = load_settings(config)
    account = settings.account(None)
    today = date.today()
    first = today - timedelta(days=days - 1)
    sim = simulate(first, days)
    history = days - flow_days
    print(f"ipi demo: a synthetic seller, {len(sim.skus)} SKUs, {days} days from {first}.")
    if history:
        archive = folder / "archive"
        for i in range(history):
            write_day(sim, i, archive)
        store = pipeline.open_store(settings, account)
        with store.session(bulk=True):  # one connection for the lot, as a backfill does
            run = pipeline.ingest(store, account, FileDrops(archive, move_done=False), first)
            pipeline.score(settings, account, first, run.days)
        print(f"  loaded {len(run.loaded)} earlier downloads ({history} days) from {archive}")
    lib = Rows(settings)
    print(f"  running the daily flow for the last {flow_days} days "
          f"(drops in {settings.drop_dir(account)}):")
    warned: tuple[date, Stakes] | None = None
    for i in range(history, days):
        day = sim.day(i)
        write_day(sim, i, settings.drop_dir(account))
        summary = daily(config=str(config), day=day)
        row = lib.scores(account.name, start=day, end=day)
        est = row[0] if row else None
        notices = summary[account.name]["notices"]
        note = f"  -> alert: {'; '.join(notices)}" if notices else ""
        at = lib.capacity(account.name, day=day)
        full = [s for s in at.storage if s.status in ("warning", "over")]
        if full:
            warned = warned or (day, at)
            note += "".join(
                f"  -> capacity {s.storage_type} {s.share or 0:.0%} of its limit"
                + (f", {s.projected_share:.0%} by {s.month_end:%b %d}"
                   if s.projected_share is not None else "") + f": {s.status}"
                for s in full)
        score, low, high, status = ((est.score, est.score_low, est.score_high, est.status)
                                    if est else (0, 0, 0, "no data"))
        print(f"    {day}  IPI estimate {score:4.0f} ({low:.0f}-{high:.0f}) {status}{note}")
    print("\nScore history (weekly):")
    history_rows = lib.scores(account.name)
    print_table(history_rows[::-7][::-1])
    if warned:
        day, stake = warned
        print(f"\nWhat was at stake beyond the score on {day} (ipi capacity --date {day}):")
        for line in stake.lines:
            print(f"  - {line}")
    print(f"\nAlerts delivered to {alerts}:")
    if alerts.exists():
        print(alerts.read_text(encoding="utf-8"))
    else:
        print("  (none: the estimate never crossed the threshold)")
    print(next_steps(config))
    return 0


def next_steps(config: Path) -> str:
    """What to try next, with the ``ipi`` this shell can run: the bare name when it is on
    PATH (an activated virtual environment), else the path beside this Python."""
    here = Path(sys.executable).parent / "ipi"
    ipi = "ipi" if shutil.which("ipi") == str(here) else os.path.relpath(here)
    return "\n".join([
        "Next:",
        f"  {ipi} web --config {config}      the dashboard, at http://127.0.0.1:8450",
        f"  {ipi} score --config {config} --history 14",
        f"  {ipi} fees calendar --config {config}",
        "The manual is in docs/ (docs/index.md; `mkdocs serve` shows it as a site), every "
        "command in docs/reference/cli.md.",
    ])
