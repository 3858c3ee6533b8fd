"""The daily flow: for each account, ingest -> score -> alert.

Each task is one call into ``ipi.pipeline``; the account's source (drop folder
or SP-API) is the library's business, not the flow's. A file or report that
fails is set aside and the rest of the run goes on; the flow then fails,
naming them, so a scheduler or the ``ipi run`` exit code shows it.
"""

from __future__ import annotations

import os
import re
import threading
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.settings import get_current_settings
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

from flows.hooks import ops_alert
from flows.limits import account_slot
from ipi import pipeline
from ipi.errors import IngestFailed, IpiError, RunOverlap, ServerUnavailable
from ipi.score import DailyScore
from ipi.settings import MAX_PARALLEL_ACCOUNTS, Account, Settings, load_settings
from ipi.stakes import Stakes


def secret_block(name: str) -> str:
    """Read a Prefect Secret block: how credentials reach workers without files."""
    from prefect.blocks.system import Secret

    block = Secret.load(name, _sync=True)  # type: ignore[call-arg]
    return str(block.get())  # type: ignore[union-attr]


@task(cache_policy=NO_CACHE)
def report_failure(settings: Settings, account: Account, day: date, what: str) -> None:
    pipeline.report_failure(settings, account, day, what)


@dataclass
class View:
    """What the run's artifacts show of one account, gathered by its own task."""

    scores: list[DailyScore]  # the day's, per marketplace
    capacity: Stakes  # ipi.api.Rows.capacity
    page: bool = False  # its report page and artifact are published


@task(cache_policy=NO_CACHE)
def account_day(settings: Settings, account: Account, day: date, workers: bool = True
                ) -> tuple[pipeline.DayRun, list[tuple[str, str]], View | None]:
    """One account's day, under its run locks, in one of the run's parallel slots; then,
    still in its slot, what the run's artifacts show of it (its report page included).
    ``workers``: the Prefect server is one other workers may use (not the run's own
    temporary one), so the account's global concurrency limit is held too."""
    what = f"the daily run for {day}"
    with _slots(settings.parallel_accounts):
        try:
            # One run per account at a time, on this machine (an OS lock) and on every
            # worker of the Prefect server: a second waits, then stops, sending nothing.
            with pipeline.run_lock(settings, account, what), \
                    (account_slot(settings, account, what) if workers else nullcontext()):
                summary, failed, known = _account_day(settings, account, day)
        except RunOverlap as exc:
            get_run_logger().warning("%s", exc)
            return pipeline.DayRun(day, overlap=str(exc)), [], None
        except ServerUnavailable as exc:  # no slot: the day did not run, and ops hear why
            get_run_logger().error("%s", exc)
            report_failure(settings, account, day, str(exc))
            return pipeline.DayRun(day, error=str(exc)), [(account.name, str(exc))], None
        # A view of what is stored, outside the locks (as the run's artifacts always were):
        # drawn here, each account's page overlaps the others' work instead of all of them
        # waiting for the end of the run, one after the other.
        return summary, failed, _view(settings, account, day, known)


def _view(settings: Settings, account: Account, day: date,
          known: Stakes | None = None) -> View | None:
    """The account's rows for the run's artifacts, and its report page (written, and its
    words an artifact). None when that fails: the run's data and alerts stand without,
    and ``publish`` tries again. ``known``: what is at stake, as the alerts worked it out."""
    from ipi.api import Rows

    lib = Rows(settings)
    try:
        # Its reads share one connection (the page's charts are drawn while it is open).
        store = lib.store(account.name)
        with pipeline.working(store), store.session():
            rows = lib.scores(account.name, start=day, end=day)
            secs = _report_page(settings, lib, account, day, known)
        # The page computed what is at stake (ipi.stakes, as Rows.capacity does): once.
        at = secs[0].stakes if secs and secs[0].stakes is not None else None
        return View(rows, at if at is not None else lib.capacity(account.name, day=day),
                    page=True)
    except Exception:
        get_run_logger().exception("%s: could not gather the run's artifacts", account.name)
        return None


def _alone(settings: Settings, account: Account) -> Settings:
    """The settings an account's tasks get: the run's, with that account only. Prefect walks
    every task's parameters (for futures to resolve); with the whole fleet's accounts in
    each of an account's tasks, a run of N accounts walked N x N of them."""
    return settings.model_copy(update={"accounts": (account,)})


_SLOTS: dict[int, threading.BoundedSemaphore] = {}


def _slots(n: int) -> threading.BoundedSemaphore:
    return _SLOTS.setdefault(n, threading.BoundedSemaphore(n))


@dataclass
class Part:
    """What a share of the run's accounts did: each one's summary, what failed, and what
    the run's artifacts show of it."""

    summary: dict[str, pipeline.DayRun] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    views: dict[str, View] = field(default_factory=dict)

    def add(self, other: Part) -> None:
        self.summary.update(other.summary)
        self.failures += other.failures
        self.views.update(other.views)


@flow(name="ipi-daily", on_failure=[ops_alert], on_crashed=[ops_alert])
def daily(config: str | None = None, day: date | None = None,
          accounts: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Run the day for the configured accounts (``config``: a TOML file, else $IPI_CONFIG;
    ``accounts``: names, default all), shared among ``[run] processes`` processes that
    each work on ``[run] parallel_accounts`` of them at a time; one account's failure
    stops no other. ``day`` defaults to each account's today, in its time zone: the run
    scheduled at 07:30 in Tokyo is for Tokyo's date."""
    settings = load_settings(config)
    chosen = ([settings.account(n) for n in accounts] if accounts is not None
              else list(settings.accounts))
    days = {a.name: day or settings.today(a) for a in chosen}
    groups = pipeline.shares(settings, chosen)
    # The run's own temporary API has no other worker: its concurrency limits guard
    # nothing the OS lock does not (and cost the server a few calls an account).
    workers = bool(get_current_settings().api.url)
    done = Part()
    if len(groups) <= 1:
        done = _accounts(settings, chosen, days, workers)
    else:
        # Each account's file is its own: processes load and score at once, one core each.
        _share_api()
        with ProcessPoolTaskRunner(max_workers=len(groups)) as pool:
            futures = [(g, pool.submit(share, {
                "settings": settings.model_copy(update={"accounts": tuple(g)}),
                "days": {a.name: days[a.name] for a in g}, "workers": workers}))
                for g in groups]
            for group, future in futures:
                try:
                    done.add(future.result())
                except Exception as exc:  # the process itself died: its accounts failed
                    get_run_logger().exception("a share of the run's accounts failed")
                    done.add(_failed(settings, group, days, f"{type(exc).__name__}: {exc}"))
    try:
        publish(settings, days, done.summary, done.views)
    except Exception:  # the artifacts are a view: the run's data and alerts stand without
        get_run_logger().exception("could not publish the run's artifacts")
    if done.failures:
        raise IngestFailed(done.failures, f"{len(done.failures)} failure(s), the rest ran (a "
                           "file that failed is in its drop folder's failed/, with its reason)",
                           runs=done.summary)
    return {name: run.record() for name, run in done.summary.items()}


@task(cache_policy=NO_CACHE)
def share(settings: Settings, days: dict[str, date], workers: bool) -> Part:
    """The run's accounts in ``settings``, in a process of their own."""
    return _accounts(settings, list(settings.accounts), days, workers)


def _share_api() -> None:
    """The run's Prefect API for its processes: a temporary one is this process's alone
    unless named (each process would start its own, 15-20 s each)."""
    from prefect.context import get_run_context

    client = getattr(get_run_context(), "client", None)
    if client is not None and not get_current_settings().api.url:
        os.environ["PREFECT_API_URL"] = str(client.api_url).rstrip("/")


def _accounts(settings: Settings, chosen: list[Account], days: dict[str, date],
              workers: bool) -> Part:
    """Each account's day, ``parallel_accounts`` at a time in this process's threads."""
    log = get_run_logger()
    part = Part()
    # An account's steps reuse its open file; closed when idle, and all at the end.
    with pipeline.lingering(), \
            ThreadPoolTaskRunner[Any](max_workers=MAX_PARALLEL_ACCOUNTS) as runner:
        runs = {a.name: (a, runner.submit(account_day, {
            "settings": _alone(settings, a), "account": a, "day": days[a.name],
            "workers": workers}))
            for a in chosen}
        for name, (account, future) in runs.items():
            day = days[name]
            try:
                part.summary[name], failed, view = future.result()
                if view is not None:
                    part.views[name] = view
            except Exception as exc:  # a bug in one account's run: report it, keep the others
                log.exception("%s: the run failed", name)
                what = f"{type(exc).__name__}: {exc}"
                report_failure(settings, account, day, what)
                part.summary[name], failed = pipeline.DayRun(day, error=what), [(name, what)]
            part.failures += failed
            log.info("%s", part.summary[name].line(name))
    return part


def _failed(settings: Settings, group: list[Account], days: dict[str, date],
            what: str) -> Part:
    part = Part()
    for a in group:
        report_failure(settings, a, days[a.name], what)
        part.summary[a.name] = pipeline.DayRun(days[a.name], error=what)
        part.failures.append((a.name, what))
    return part


def _account_day(settings: Settings, account: Account, day: date
                 ) -> tuple[pipeline.DayRun, list[tuple[str, str]], Stakes | None]:
    """Ingest, score and alert one account; its summary, what failed, and what is at
    stake if its alerts worked it out (its page need not again). Plain calls in the
    account's task run: a task run each cost the Prefect server a dozen calls an
    account, and a fleet's run waited on the server (bench/fleet.py)."""
    log = get_run_logger()
    try:
        ing = pipeline.ingest_account(settings, account, day, secrets=secret_block)
    except IpiError as exc:  # e.g. refused credentials: the other accounts still run
        log.error("%s: %s", account.name, exc)
        report_failure(settings, account, day, str(exc))
        return pipeline.DayRun(day, error=str(exc)), [(account.name, str(exc))], None
    if not ing.loaded:
        log.warning("%s: no new reports for %s; the day has no fresh estimate",
                    account.name, day)
    for name, why in ing.warnings:
        log.warning("%s %s: %s", account.name, name, why)
    sc = pipeline.score(settings, account, day, ing.days)
    al = pipeline.alert(settings, account, day, ing)
    return (pipeline.DayRun.of(settings, account, day, al, ing, sc.days),
            [(f"{account.name}/{name}", why) for name, why in ing.failed], al.stakes)


def publish(settings: Settings, days: dict[str, date], summary: dict[str, pipeline.DayRun],
            views: dict[str, View] | None = None) -> None:
    """The run's artifacts: the estimates and factors per account and marketplace on the
    account's day, and what each account loaded and which alerts went out; each account's
    report page unless its task published it (``views``: what the tasks gathered)."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    from ipi.api import Rows
    from ipi.safe import markdown as md  # file names and SKUs: text, never markup

    lib = Rows(settings)
    views = views or {}
    table = [{k: getattr(r, k) for k in ARTIFACT_COLUMNS} for name, d in days.items()
             for r in (views[name].scores if name in views
                       else lib.scores(name, start=d, end=d))]
    day = ", ".join(sorted({str(d) for d in days.values()}))
    create_table_artifact(table=table, key="ipi-daily-scores",
                          description=f"IPI estimates and factors on {day}")
    # Per account too: with accounts split over machines (each its own run and data
    # folder), the server's latest ipi-scores-<account> show every account in one place.
    for name in days:
        create_table_artifact(table=[r for r in table if r["account"] == name],
                              key="ipi-scores-" + re.sub(r"[^a-z0-9-]+", "-", name.lower()),
                              description=f"IPI estimate of {name} on {days[name]}")
    lines = [f"# IPI daily run, {day}", "",
             "| account | loaded | failed | notices | alerts sent |", "|---|---|---|---|---|"]
    for name, s in summary.items():
        if s.error or s.overlap:
            lines.append(f"| {name} | - | {md(s.error or s.overlap or '')} | - | - |")
            continue
        lines.append(f"| {name} | {s.loaded} | {s.failed} | "
                     f"{md(', '.join(s.notices)) or 'none'} | {s.sent} |")
    stakes = {name: views[name].capacity if name in views else lib.capacity(name, day=d)
              for name, d in days.items()}
    # The artifact's columns, as `ipi capacity --json` writes them (Outlook.record).
    capacity = [{"account": name, **{k: r[k] for k in CAPACITY_COLUMNS}, "date": str(r["date"])}
                for name, at in stakes.items() for r in (s.record() for s in at.storage)]
    if capacity:
        create_table_artifact(table=capacity, key="ipi-daily-capacity",
                              description=f"FBA capacity use per storage type on {day}")
    risky = [(name, line) for name, at in stakes.items() for line in at.lines]
    if risky:
        lines += ["", "## At stake beyond the score", ""]
        lines += [f"- {name}: {md(line)}" for name, line in risky]
    create_markdown_artifact(markdown="\n".join(lines), key="ipi-daily-summary",
                             description=f"IPI daily run on {day}")
    for name, d in days.items():  # the pages the accounts' tasks did not publish
        if not (name in views and views[name].page):
            _report_page(settings, lib, settings.account(name), d)


def _report_page(settings: Settings, lib: Any, account: Account, day: date,
                 known: Stakes | None = None) -> list[Any]:
    """The account's report: the page on disk, its words an artifact; its sections.
    ``lib``: an ``ipi.api.Rows``; ``known``: what is at stake, if worked out already."""
    from prefect.artifacts import create_markdown_artifact

    from ipi import page

    secs = page.sections(lib.store(account.name), settings, account, day, known=known)
    model = lib.model(account.name)
    path = page.write_html(page.render(account, settings, secs, model),
                           settings.data_dir / "reports", account)
    create_markdown_artifact(
        markdown=page.markdown(account, settings, secs, model) + f"\n\nThe page: `{path}`",
        key="ipi-report-" + re.sub(r"[^a-z0-9-]+", "-", account.name.lower()),
        description=f"IPI report of {account.name} on {day}")
    return secs


CAPACITY_COLUMNS = ("storage_type", "date", "used_cuft", "limit_cuft", "share",
                    "projected_cuft", "projected_share", "status")
ARTIFACT_COLUMNS = ("account", "marketplace", "score", "score_low", "score_high", "status",
                    "excess_pct", "sell_through", "stranded_pct", "in_stock_rate", "notes")
