"""Backfill: rebuild history from before ``ipi`` started, resumably.

Amazon's snapshot reports cannot be asked for past days; history comes from
the inventory ledger (the SP-API's one inventory report with a date range,
kept about 18 months) or from archives of reports the seller downloaded.

A ledger backfill splits the days it lacks into windows (``window_days``),
asks for up to ``concurrency`` windows at a time, and records each window in
``backfill_window`` the moment Amazon gives it a report id, and again when it is
loaded. Killed and restarted, it polls the reports it already asked for and
requests only the days no done window covers; run twice, the second run asks
for nothing. Loads replace whole days, so nothing is ever doubled.

At the end the factors and estimates of every day the new data can change are
recomputed in one query, and the alert rules look at the account's latest day
only, as a daily run would: past days never page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

from ipi import pipeline
from ipi.alerts.engine import AlertRun
from ipi.errors import ConfigError, UsageError
from ipi.reports.get_ledger_summary_view_data import REPORT_TYPE as LEDGER
from ipi.score import ScoreRun, latest_day, score_range
from ipi.settings import Account, SecretLookup, Settings
from ipi.sources import Fetched, ReportSource
from ipi.store import Store, utcnow

log = logging.getLogger(__name__)

# Daily balances per FNSKU, summed over the country's warehouses.
LEDGER_OPTIONS = {"aggregateByLocation": "COUNTRY", "aggregatedByTimePeriod": "DAILY"}


@dataclass(frozen=True)
class Window:
    marketplace: str
    start: date
    end: date
    report_id: str | None = None  # asked for by an earlier, interrupted run


@dataclass
class Progress:
    """What a progress bar or a run log shows; ``unit`` is "window" or "file"."""

    account: str
    unit: str
    total: int
    done: int = 0
    failed: int = 0
    rows: int = 0
    started: float = field(default_factory=time.monotonic)
    last: str = ""  # what just finished

    @property
    def eta(self) -> float | None:
        """Seconds left at the pace so far, once something has finished."""
        finished = self.done + self.failed
        if not finished or finished >= self.total:
            return None if not finished else 0.0
        return (time.monotonic() - self.started) / finished * (self.total - finished)

    def line(self) -> str:
        eta = self.eta
        tail = f", ETA {duration(eta)}" if eta else ""
        failed = f", {self.failed} failed" if self.failed else ""
        return (f"{self.account}: {self.done + self.failed}/{self.total} {self.unit}s"
                f"{failed}, {self.rows:,} rows{tail}" + (f" ({self.last})" if self.last else ""))


ProgressFn = Callable[[Progress], None]


@dataclass
class BackfillRun:
    account: str
    start: date | None
    end: date | None
    progress: Progress
    failed: list[tuple[str, str]] = field(default_factory=list)  # (window or file, reason)
    notes: list[str] = field(default_factory=list)  # e.g. days Amazon no longer has
    scored: ScoreRun | None = None
    alerts: AlertRun | None = None


def duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s // 60 % 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def ledger_range(start: date, end: date, *, today: date,
                 history_days: int) -> tuple[date, date, list[str]]:
    """The part of [start, end] Amazon's ledger can answer, and what was cut and why."""
    if start > end:
        raise UsageError(f"the start {start} is after the end {end}")
    earliest, latest = today - timedelta(days=history_days), today - timedelta(days=1)
    if end < earliest or start > latest:
        raise UsageError(
            f"nothing in {start}..{end} can come from the ledger: Amazon keeps "
            f"{earliest}..{latest} ([backfill] ledger_history_days = {history_days}); "
            "backfill from files instead, with archives of the reports downloaded then")
    notes = []
    if start < earliest:
        notes.append(f"Amazon keeps the inventory ledger about {history_days} days: "
                     f"{start}..{earliest - timedelta(days=1)} cannot be asked for; "
                     f"backfilling from {earliest}. Older history can only come from "
                     "archives of reports downloaded then (`ipi backfill --source files "
                     "PATH`).")
        start = earliest
    if end > latest:
        notes.append(f"the ledger is complete up to yesterday: ending at {latest}, "
                     f"not {end}")
        end = latest
    return start, end, notes


def _windows(days: list[date], size: int) -> list[tuple[date, date]]:
    """Consecutive runs of ``days`` cut into windows of at most ``size`` days."""
    out: list[tuple[date, date]] = []
    for d in days:
        if out and d == out[-1][1] + timedelta(days=1) and (d - out[-1][0]).days < size:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def plan(store: Store, account: Account, start: date, end: date, size: int) -> list[Window]:
    """The windows still to fetch for [start, end]: ones an interrupted run asked Amazon
    for, then the days no done window covers, cut into windows of ``size`` days."""
    rows = store.query(
        "SELECT marketplace, start_date, end_date, status, report_id FROM backfill_window "
        "WHERE account = $account AND report_type = $report_type "
        "AND end_date >= $start AND start_date <= $end AND status IN ('done', 'requested')",
        {"account": account.name, "report_type": LEDGER, "start": start, "end": end})
    todo: list[Window] = []
    for mp in account.marketplaces:
        covered: set[date] = set()
        for r in rows:
            if r["marketplace"] != mp:
                continue
            span = {r["start_date"] + timedelta(days=k)
                    for k in range((r["end_date"] - r["start_date"]).days + 1)}
            if r["status"] == "requested" and r["report_id"] and not span <= covered:
                todo.append(Window(mp, r["start_date"], r["end_date"], r["report_id"]))
            covered |= span
        missing = [start + timedelta(days=k) for k in range((end - start).days + 1)
                   if start + timedelta(days=k) not in covered]
        todo += [Window(mp, a, b) for a, b in _windows(missing, size)]
    return sorted(todo, key=lambda w: (w.start, w.marketplace))


def _any_done(store: Store, account: Account, start: date, end: date) -> bool:
    """Whether any ledger window in [start, end] was loaded."""
    return bool(store.query(
        "SELECT count(*) AS n FROM backfill_window "
        "WHERE account = $account AND report_type = $report_type AND status = 'done' "
        "AND end_date >= $start AND start_date <= $end",
        {"account": account.name, "report_type": LEDGER, "start": start, "end": end})[0]["n"])


def _record(store: Store, account: str, w: Window, status: str, *, report_id: str | None = None,
            rows: int | None = None, detail: str | None = None) -> None:
    with store.write() as con:
        con.execute(
            "INSERT OR REPLACE INTO backfill_window (account, marketplace, report_type, "
            "start_date, end_date, status, report_id, rows, detail, updated_at) "
            "VALUES ($account, $marketplace, $report_type, $start, $end, $status, $report_id, "
            "$rows, $detail, $now)",
            {"account": account, "marketplace": w.marketplace, "report_type": LEDGER,
             "start": w.start, "end": w.end, "status": status, "report_id": report_id, "rows": rows,
             "detail": detail, "now": utcnow()})


@dataclass(frozen=True)
class Request:
    """A backfill as asked, checked (``request``): the same rules for the CLI and the flow."""

    source: Literal["sp-api", "files"]
    accounts: list[Account]
    paths: list[Path]
    start: date | None
    end: date | None


def request(settings: Settings, *, source: str | None = None, account: str | None = None,
            paths: Sequence[Path | str] = (), start: date | None = None,
            end: date | None = None) -> Request:
    """Check a backfill's arguments: from files (``paths``, the folders or archives to
    read; default when there are paths) or from the SP-API (a ``start`` and an ``end``;
    every SP-API account unless ``account`` names one). UsageError naming what to give."""
    chosen = source or ("files" if paths else "sp-api")
    files = [Path(p) for p in paths]
    if start is not None and end is not None and start > end:
        raise UsageError(f"the start {start} is after the end {end}")
    if chosen == "files":
        if not files:
            raise UsageError("a backfill from files needs the folders or archives to read")
        missing = [p for p in files if not p.exists()]
        if missing:
            raise UsageError(f"no such file or folder: {', '.join(map(str, missing))}")
        return Request("files", [settings.account(account)], files, start, end)
    if chosen != "sp-api":
        raise UsageError(f"a backfill's source is 'sp-api' or 'files', not {chosen!r}")
    if files:
        raise UsageError("folders and archives are for a backfill from files; one from the "
                         "SP-API reads none")
    if start is None or end is None:
        raise UsageError("a backfill from the SP-API needs a start and an end day")
    accounts = ([settings.account(account)] if account
                else [a for a in settings.accounts if a.source == "sp-api"])
    if not accounts:
        raise UsageError(f"no account with source = \"sp-api\" in {settings.config_path}; "
                         "backfill from files (the folders or archives to read)")
    return Request("sp-api", accounts, [], start, end)


def backfill_sp_api(settings: Settings, account: Account, start: date, end: date, *,
                    today: date | None = None, secrets: SecretLookup | None = None,
                    progress: ProgressFn | None = None) -> BackfillRun:
    """Fetch and load the ledger for [start, end] (cut to what Amazon keeps), then finish."""
    if account.source != "sp-api":
        raise ConfigError(f"account {account.name} has source = \"{account.source}\": set "
                          "source = \"sp-api\" with its [accounts.sp_api] to backfill from "
                          "Amazon, or backfill from files (the folders or archives to read)")
    cfg = settings.backfill
    start, end, notes = ledger_range(start, end, today=today or date.today(),
                                     history_days=cfg.ledger_history_days)
    with pipeline.run_lock(settings, account, f"a backfill of {start}..{end}"):
        return _backfill_sp_api(settings, account, start, end, notes, secrets, progress)


def _backfill_sp_api(settings: Settings, account: Account, start: date, end: date,
                     notes: list[str], secrets: SecretLookup | None,
                     progress: ProgressFn | None) -> BackfillRun:
    from ipi.sources.sp_api import ReportJob, SpApiSource, resolve_credentials

    cfg = settings.backfill
    store = pipeline.open_store(settings, account)
    todo = plan(store, account, start, end, cfg.window_days)
    run = BackfillRun(account.name, start, end, Progress(account.name, "window", len(todo)),
                      notes=notes)
    log.info("%s: %d ledger window(s) to fetch for %s..%s", account.name, len(todo), start, end)
    source = SpApiSource(account, resolve_credentials(account, lookup=secrets),
                         settings.spool_dir)
    try:
        for i in range(0, len(todo), cfg.concurrency):
            batch = [(w, ReportJob(w.marketplace, LEDGER, report_id=w.report_id, start=w.start,
                                   end=w.end, options=LEDGER_OPTIONS))
                     for w in todo[i:i + cfg.concurrency]]
            for w, job in batch:  # ask for all, recording each id at once, then poll together
                source.request(job)
                if job.report_id and job.report_id != w.report_id:
                    _record(store, account.name, w, "requested", report_id=job.report_id)
            window_of = {id(job): w for w, job in batch}
            for fetched in source.collect([job for _, job in batch]):
                answered = source.job_of(fetched)
                if answered is not None and id(answered) in window_of:
                    _load_window(store, account, source, fetched, window_of[id(answered)], run)
                    _tell(progress, run)
            for w, job in batch:
                if job.error:
                    _failed(store, run, w, job.error)
                    _tell(progress, run)
    finally:
        source.close()
    # Every day of the range, not only those loaded now: a killed run loaded windows it
    # never rescored. Unchanged days are not rewritten.
    if _any_done(store, account, start, end):
        return finish(settings, account, run, start, end)
    return run


def _tell(progress: ProgressFn | None, run: BackfillRun) -> None:
    log.debug("backfill %s", run.progress.line())
    if progress is not None:
        progress(run.progress)


def _failed(store: Store, run: BackfillRun, w: Window, reason: str) -> None:
    """A window that failed is asked for again, as a new report, by the next run."""
    _record(store, run.account, w, "failed", detail=reason)
    name = f"{w.marketplace} {w.start}..{w.end}"
    run.failed.append((name, reason))
    run.progress.failed += 1
    run.progress.last = f"{name} failed"


def _load_window(store: Store, account: Account, source: ReportSource, fetched: Fetched,
                 w: Window, run: BackfillRun) -> None:
    ingest = pipeline.IngestRun(account.name)
    result = pipeline.load_fetched(store, account, source, fetched, w.end, ingest)
    if result is None:
        _failed(store, run, w, ingest.failed[0][1] if ingest.failed else "not loaded")
        return
    _record(store, account.name, w, "done", report_id=fetched.source.removeprefix("sp-api:"),
            rows=result.rows)
    run.progress.done += 1
    run.progress.rows += result.rows
    run.progress.last = f"{w.marketplace} {w.start}..{w.end}: {result.rows:,} rows"


def finish(settings: Settings, account: Account, run: BackfillRun, first: date,
           last: date) -> BackfillRun:
    """Recompute [first, last] and the days after it the new data can change, then the
    alert rules on the account's latest day only."""
    # A day's sell-through looks 90 days back: the days after the new ones change too.
    store = pipeline.open_store(settings, account)
    with store.write() as con:
        run.scored = score_range(con, account.name, first, last + pipeline.LOOKBACK,
                                 settings.policy_for(account).carry_days)
        latest = latest_day(con, account.name)
    if latest is not None:
        run.alerts = pipeline.alert(settings, account, latest)
    return run


def count_files(paths: list[Path]) -> int:
    """How many report files ``paths`` hold, archive members included (for the bar)."""
    from ipi.sources.archive import archive_kind, member_count
    from ipi.sources.files import report_files

    return sum(member_count(p) if archive_kind(p) else 1 for p in report_files(paths))


def backfill_files(settings: Settings, account: Account, paths: list[Path], *,
                   start: date | None = None, end: date | None = None,
                   progress: ProgressFn | None = None) -> BackfillRun:
    """Load every report under ``paths`` (folders, zip or tar archives), then finish.

    A file whose date is neither in its content nor its name is taken for the day it was
    saved (its modification time): old downloads are history, not today's. Bytes already
    loaded are skipped, so a rerun after an interruption only loads the rest. ``start``
    and ``end`` limit the days recomputed (default: the days the files hold).
    """
    if start and end and start > end:
        raise UsageError(f"the start {start} is after the end {end}")
    with pipeline.run_lock(settings, account, "a backfill from files"):
        return _backfill_files(settings, account, paths, start, end, progress)


def _backfill_files(settings: Settings, account: Account, paths: list[Path], start: date | None,
                    end: date | None, progress: ProgressFn | None) -> BackfillRun:
    from ipi.sources.files import FileDrops

    store = pipeline.open_store(settings, account)
    source = FileDrops(paths[0], paths=paths, move_done=False)
    run = BackfillRun(account.name, start, end, Progress(account.name, "file", count_files(paths)))
    loaded: list[date] = []
    today = date.today()
    with store.session(bulk=True), pipeline.fetching(source, account, today) as files:
        for fetched in files:
            if fetched.default_date is None:
                saved = datetime.fromtimestamp(fetched.path.stat().st_mtime).date()
                fetched = replace(fetched, default_date=saved)
            ingest = pipeline.IngestRun(account.name)
            result = pipeline.load_fetched(store, account, source, fetched, today, ingest)
            if result is None:
                run.failed += ingest.failed
                run.progress.failed += 1
                run.progress.last = f"{fetched.label} failed"
            else:
                run.progress.done += 1
                # Days of files an interrupted run loaded are rescored too: it stopped
                # before it could.
                loaded.extend(d for _, d in result.partitions)
                if not result.skipped:
                    run.progress.rows += result.rows
                run.progress.last = (f"{fetched.label}: already loaded" if result.skipped
                                     else f"{fetched.label}: {result.rows:,} rows")
            _tell(progress, run)
    for problem in source.problems:  # members an archive refused
        run.failed.append((problem.name, problem.reason))
        run.progress.failed += 1
    if start or end:
        loaded = [d for d in loaded if (not start or d >= start) and (not end or d <= end)]
    return finish(settings, account, run, min(loaded), max(loaded)) if loaded else run
