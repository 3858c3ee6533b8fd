"""Getting data in and out of the store: ``ingest`` (files at hand), ``backfill`` (history,
from the SP-API's ledger or archives of old downloads) and ``forget`` (a day's loads taken
back out)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipi.cli.common import day_arg, settings_of
from ipi.errors import IngestFailed, NotFound

if TYPE_CHECKING:
    from ipi.backfill import Progress
    from ipi.cli import Commands


def register(c: Commands) -> None:
    sp = c.add("ingest", cmd_ingest, "load report files or folders into the store")
    sp.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    sp.add_argument("--account", help="the account the files belong to (default: the only one)")
    sp.add_argument("--date", type=day_arg,
                    help="the day for files that name none in content or file name "
                         "(default: today, in the account's time zone)")

    sp = c.add("backfill", cmd_backfill, "rebuild history: the ledger from the SP-API, or "
               "archives of old downloads; resumable")
    sp.add_argument("--start", type=day_arg, help="first day (YYYY-MM-DD)")
    sp.add_argument("--end", type=day_arg, help="last day (YYYY-MM-DD)")
    sp.add_argument("--account", help="only this account (default: every SP-API account)")
    sp.add_argument("--source", choices=("sp-api", "files"),
                    help="where history comes from (default: files when PATHs are given, "
                         "else the SP-API's ledger)")
    sp.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                    help="folders or zip/tar archives of reports (with --source files)")

    sp = c.add("forget", cmd_forget, "take a day's loads back out (the raw bytes stay), then "
               "rescore the days they fed")
    sp.add_argument("--account", required=True, help="the account")
    sp.add_argument("--date", type=day_arg, required=True, help="the snapshot day, YYYY-MM-DD")
    sp.add_argument("--marketplace", help="only this marketplace (default: all)")
    sp.add_argument("--report-type", metavar="T",
                    help="only this report type, e.g. GET_FBA_INVENTORY_PLANNING_DATA "
                         "(default: all)")
    sp.add_argument("--reason", default="ipi forget", help="why (recorded with the removal)")


def cmd_ingest(args: argparse.Namespace) -> int:
    from ipi import pipeline
    from ipi.sources.files import FileDrops

    settings = settings_of(args)
    account = settings.account(args.account)
    # As `ipi run`: the account's date, in its time zone, not the machine's.
    day = args.date or settings.today(account)
    missing = [p for p in args.paths if not p.exists()]
    if missing:
        raise NotFound(f"no such file or folder: {', '.join(map(str, missing))}")
    store = pipeline.open_store(settings, account)
    run = pipeline.ingest(store, account, FileDrops(args.paths[0], paths=list(args.paths),
                                                     move_done=False), day)
    for r in run.loaded:
        parts = ", ".join(f"{m} {d}" for m, d in r.partitions)
        print(f"loaded  {r.path}: {r.report_type}, {r.rows} rows ({parts}; date from "
              f"{r.date_source})")
    for r in run.skipped:
        print(f"skipped {r.path}: already loaded")
    if run.loaded:
        sc = pipeline.score(settings, account, day, run.days)
        print(f"rescored {sc.days} day(s) of {account.name}")
    for s in pipeline.silent_marketplaces(settings, account, day):
        print(f"no report for {account.name} {s.marketplace} on {day} (newest "
              f"{s.newest or 'never'})")
    if run.failed:  # the files are the user's: reported, never moved
        raise IngestFailed(run.failed, f"{len(run.failed)} file(s) could not be loaded (left "
                           "where they are; fix or download them again, then ingest them)")
    return 0


class _ProgressBar:
    """A bar with windows (or files) done, rows loaded and an ETA on a terminal; one line
    per step otherwise (logs, CI, a pipe), so progress is never lost in a redraw; nothing
    with -q."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.bar: Any = None
        self.task: Any = None

    def __call__(self, p: Progress) -> None:
        from ipi.backfill import duration

        if self.quiet:
            return
        if not sys.stderr.isatty():
            print(p.line(), file=sys.stderr, flush=True)
            return
        if self.bar is None:
            from rich import progress as rp

            self.bar = rp.Progress(
                rp.TextColumn("{task.description}"), rp.BarColumn(), rp.MofNCompleteColumn(),
                rp.TextColumn("{task.fields[unit]}s, {task.fields[rows]} rows, "
                              "ETA {task.fields[eta]}"))
            self.bar.start()
            self.task = self.bar.add_task(p.account, total=p.total, unit=p.unit, rows="0",
                                          eta="?")
        eta = p.eta
        self.bar.update(self.task, completed=p.done + p.failed, rows=f"{p.rows:,}",
                        eta=duration(eta) if eta is not None else "?")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def cmd_backfill(args: argparse.Namespace) -> int:
    from ipi import backfill

    settings = settings_of(args)
    asked = backfill.request(settings, source=args.source, account=args.account,
                             paths=args.paths, start=args.start, end=args.end)
    failed: list[tuple[str, str]] = []
    for account in asked.accounts:
        bar = _ProgressBar(args.quiet)
        try:
            if asked.source == "files":
                run = backfill.backfill_files(settings, account, asked.paths,
                                              start=asked.start, end=asked.end, progress=bar)
            else:
                assert asked.start is not None and asked.end is not None  # request() checks
                run = backfill.backfill_sp_api(settings, account, asked.start, asked.end,
                                               secrets=args.secrets, progress=bar)
        finally:
            bar.close()
        for note in run.notes:
            print(f"note: {note}")
        p = run.progress
        print(f"{account.name}: {p.done} of {p.total} {p.unit}(s) loaded, {p.rows:,} rows"
              + (f", {p.failed} failed" if p.failed else "")
              + (f"; rescored {run.scored.days} day(s), {run.scored.changed} changed"
                 if run.scored else "; nothing new")
              + (f"; alerts looked at {run.alerts.day} only, {len(run.alerts.notices)} "
                 "notice(s)" if run.alerts else ""))
        failed += [(f"{account.name} {name}", why) for name, why in run.failed]
    if failed:
        raise IngestFailed(failed, f"{len(failed)} window(s) or file(s) failed; run the same "
                           "command again to retry only those (what loaded is kept)")
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    from ipi import pipeline

    settings = settings_of(args)
    account = settings.account(args.account)
    run = pipeline.forget(settings, account, args.date,
                          marketplace=args.marketplace.upper() if args.marketplace else None,
                          report_type=args.report_type.upper() if args.report_type else None,
                          reason=args.reason)
    for f in run.forgotten:
        print(f"forgot  {account.name} {f.marketplace} {f.report_type} {f.snapshot_date}: "
              f"{f.rows:,} rows (file {f.sha256[:12]}: its bytes are kept)")
    sc = run.rescored
    print(f"rescored {account.name} {run.start}..{run.end}: {sc.days} day(s), {sc.changed} "
          "changed" + (f", {sc.removed} estimate(s) removed: no data left for their day"
                       if sc.removed else ""))
    return 0
