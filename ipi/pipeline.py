"""The daily steps for one account, as plain functions: ingest, score, alert.

``flows/`` wraps each in a Prefect task; the CLI and tests can call them
directly. Each step opens the store for its own short transactions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from ipi.alerts.deliver import ALL_ACCOUNTS, Notifier, Target
from ipi.alerts.engine import AlertRun, AtStake, alert_account
from ipi.alerts.outbox import deliver_pending, enqueue, failing
from ipi.errors import BadInput, IpiError
from ipi.locks import account_lock
from ipi.score import ScoreRun, score_range, scores, upgrade
from ipi.settings import Account, SecretLookup, Settings
from ipi.sources import Fetched, ReportSource
from ipi.sources.files import FileDrops
from ipi.store import Store
from ipi.store.accounts import account_path, account_store
from ipi.store.forget import Forgotten, forget_day
from ipi.store.load import LoadResult, load_file, mark_unreliable, row_drop

if TYPE_CHECKING:
    from ipi.stakes import Stakes

log = logging.getLogger(__name__)

# Sell-through looks back 90 days: a file loaded for a day changes the scores of
# the days that use it as their 30/60/90-day snapshot too.
LOOKBACK = timedelta(days=90)


@dataclass
class IngestRun:
    account: str
    loaded: list[LoadResult] = field(default_factory=list)
    skipped: list[LoadResult] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file or report, reason)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # e.g. a CANCELLED report

    @property
    def days(self) -> list[date]:
        return sorted({d for r in self.loaded for _, d in r.partitions})


def open_store(settings: Settings, account: Account | str) -> Store:
    """The account's own store (its file: ipi.store.accounts)."""
    return account_store(settings, account if isinstance(account, str) else account.name)


@dataclass
class _Kept:
    """A database this process keeps open: the steps working on it, the session holding
    its connection, and the timer that closes it once idle (``lingering``)."""

    users: int
    session: AbstractContextManager[None]
    timer: threading.Timer | None = None


_OPEN: dict[Path, _Kept] = {}
_OPEN_GUARD = threading.Lock()
_LINGER: list[float] = []  # seconds an idle database stays open (lingering, innermost last)


@contextmanager
def working(store: Store) -> Iterator[None]:
    """Keep ``store``'s database open in this process while any step (of any account's
    thread) inside this works on it; closed when the last one leaves (``lingering``: a
    moment later).

    Each transaction opens and closes its own connection, so that other processes get the
    file between them (``ipi score`` while a run waits for Amazon). But opening DuckDB
    costs ~20 ms, and closing the last connection checkpoints it (~20 ms more), a dozen
    times an account. With one connection held while steps work, the others join the
    open database; when none works on it (all wait for Amazon), the file is free again.
    The held connection is a bulk session: the write-ahead log is checkpointed once, when
    it closes, rather than every 16 MB of loads; each transaction still commits durably."""
    key = store.path.resolve()
    with _OPEN_GUARD:
        kept = _OPEN.get(key)
        if kept is None:
            session = Store(store.path, data_dir=store.data_dir,
                            busy_timeout=store.busy_timeout).session(bulk=True)
            session.__enter__()
            kept = _OPEN[key] = _Kept(0, session)
        elif kept.timer is not None:
            kept.timer.cancel()
            kept.timer = None
        kept.users += 1
    try:
        yield
    finally:
        with _OPEN_GUARD:
            kept.users -= 1
            idle = kept.users == 0
            if idle and _LINGER:
                kept.timer = threading.Timer(_LINGER[-1], _close_idle, (key, kept))
                kept.timer.daemon = True
                kept.timer.start()
                idle = False
            elif idle:
                del _OPEN[key]
        if idle:  # outside the guard: its checkpoint waits for the turn
            kept.session.__exit__(None, None, None)


def _close_idle(key: Path, kept: _Kept) -> None:
    with _OPEN_GUARD:
        if kept.users or _OPEN.get(key) is not kept:
            return
        del _OPEN[key]
        kept.timer = None
    kept.session.__exit__(None, None, None)


@contextmanager
def lingering(seconds: float = 2.0) -> Iterator[None]:
    """Inside: a database nobody works on stays open ``seconds`` before it closes, so an
    account's steps one after the other (a report's load, the next one's, the score, the
    alerts, the page) open its file once, not a dozen times; a wait for Amazon longer
    than that still frees it. Every idle one is closed on the way out."""
    with _OPEN_GUARD:
        _LINGER.append(seconds)
    try:
        yield
    finally:
        with _OPEN_GUARD:
            _LINGER.pop()
            idle = [(k, kept) for k, kept in _OPEN.items() if not kept.users] \
                if not _LINGER else []
            for k, kept in idle:
                if kept.timer is not None:
                    kept.timer.cancel()
                del _OPEN[k]
        for _, kept in idle:
            kept.session.__exit__(None, None, None)


def shares(settings: Settings, accounts: Sequence[Account]) -> list[list[Account]]:
    """The accounts of a run, shared among its processes (``[run] processes``, default
    one per ``parallel_accounts`` accounts, at most one per core): largest first to the
    least loaded, an account's size being its file's (the first run: one each in turn),
    so that no process ends long after the others."""
    import os

    wanted = settings.processes or min(os.cpu_count() or 1,
                                       -(-len(accounts) // settings.parallel_accounts))
    n = max(1, min(wanted, len(accounts)))
    size = {a.name: _file_size(account_path(settings, a.name)) for a in accounts}
    out: list[list[Account]] = [[] for _ in range(n)]
    load = [0] * n
    for a in sorted(accounts, key=lambda a: -size[a.name]):  # stable: config order on ties
        i = load.index(min(load))
        out[i].append(a)
        load[i] += max(size[a.name], 1)
    return [s for s in out if s]


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def load_fetched(store: Store, account: Account, source: ReportSource, fetched: Fetched,
                 day: date, run: IngestRun) -> LoadResult | None:
    """Load one fetched file; a bad one is set aside, recorded, and None returned."""
    try:
        result = load_file(store, account.name, fetched.path,
                           ingest_day=fetched.default_date or day,
                           day_source="file time" if fetched.default_date else "ingestion day",
                           default_marketplace=fetched.marketplace,
                           source=fetched.source, declared_charset=fetched.charset,
                           marketplaces=account.marketplaces)
    except (BadInput, OSError) as exc:
        reason = (str(exc).removeprefix(f"{fetched.path}: ")
                  if isinstance(exc, BadInput) else f"cannot be read: {exc}")
        log.error("%s failed: %s", fetched.label, reason)
        run.failed.append((fetched.label, reason))
        try:
            source.failed(fetched, reason)
        except OSError as move_exc:  # e.g. a read-only drop folder: say so, go on
            log.error("%s could not be moved aside: %s", fetched.label, move_exc)
        return None
    source.done(fetched)
    if fetched.name:  # the path was a temporary copy, gone after the run: name what the user has
        result.path = Path(fetched.name)
    return result


@contextmanager
def fetching(source: ReportSource, account: Account, day: date) -> Iterator[Iterator[Fetched]]:
    """The source's files, closed on the way out: temporary copies a source made (an
    archive's members) are removed even when a load raises."""
    files = iter(source.fetch(account, day))
    try:
        yield files
    finally:
        close = getattr(files, "close", None)
        if close is not None:
            close()


def ingest(store: Store, account: Account, source: ReportSource, day: date, *,
           row_drop_threshold: float = 0.5) -> IngestRun:
    """Load every file the source has; a bad file is set aside and the rest still load.

    A report whose row count collapsed is asked for again once when the source can;
    if it stays low it is loaded but marked unreliable, which the score and the
    alerts then say, instead of reporting a crash in the score.
    """
    run = IngestRun(account.name)
    # No connection is held across the loop: while the source waits for Amazon (minutes),
    # other processes (`ipi score`, another worker) can open the database. A file's own
    # transactions (the load, the row-count check) share one connection.
    with fetching(source, account, day) as files:
        for fetched in files:
            with working(store), store.session():
                result = load_fetched(store, account, source, fetched, day, run)
                if result is None or result.skipped:
                    drop = None
                else:
                    with store.read() as con:
                        drop = row_drop(con, account.name, result, row_drop_threshold)
            if result is None:
                continue
            refetch = getattr(source, "refetch", None)
            if drop and refetch is not None:
                log.warning("%s: %s; asking Amazon again", account.name, drop)
                again = refetch(fetched)  # waits for Amazon: no connection held
                with working(store), store.session():
                    retried = (load_fetched(store, account, source, again, day, run)
                               if again else None)
                    if retried is not None and not retried.skipped:  # skipped: same bytes
                        result = retried
                        with store.read() as con:
                            drop = row_drop(con, account.name, result, row_drop_threshold)
            if drop:
                with working(store), store.write() as con:
                    mark_unreliable(con, account.name, result, drop)
                run.warnings.append((fetched.label, f"row count collapsed: {drop}"))
            # Loaded, but suspicious (a tenfold jump in units on hand); a collapse in rows
            # already says why the units fell.
            for warning in [] if drop else result.warnings:
                log.warning("%s: %s", fetched.label, warning)
                run.warnings.append((fetched.label, warning))
            (run.skipped if result.skipped else run.loaded).append(result)
    for problem in source.problems:
        (run.failed if problem.fatal else run.warnings).append((problem.name, problem.reason))
    return run


def source_for(settings: Settings, account: Account,
               secrets: SecretLookup | None = None) -> ReportSource:
    """The account's configured source: its drop folder, or the SP-API."""
    if account.source == "sp-api":
        from ipi.sources.sp_api import SpApiSource, resolve_credentials

        return SpApiSource(account, resolve_credentials(account, lookup=secrets),
                           settings.spool_dir)
    return FileDrops(settings.drop_dir(account))


def ingest_account(settings: Settings, account: Account, day: date,
                   secrets: SecretLookup | None = None) -> IngestRun:
    """Fetch and load the account's reports for ``day`` from its configured source.

    ``secrets`` reads a named secret (flows pass one for Prefect Secret blocks).
    """
    source = source_for(settings, account, secrets)
    try:
        run = ingest(open_store(settings, account), account, source, day,
                     row_drop_threshold=settings.policy.row_drop_threshold)
        if account.source == "sp-api":
            amazon_forecasts(settings, account, day, source, run, secrets)
        return run
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()


def amazon_forecasts(settings: Settings, account: Account, day: date, source: ReportSource,
                     run: IngestRun, secrets: SecretLookup | None = None) -> None:
    """Amazon's own fee forecast (Data Kiosk, see ipi.sources.data_kiosk) for each of the
    SP-API account's marketplaces ipi has fee rates for, once a day: from ``day`` (today
    at the earliest, Amazon's "today" being UTC's at the latest) to the next assessment
    day. What goes wrong is a warning in ``run``, never a failed run."""
    from datetime import UTC, datetime

    from ipi import fees
    from ipi.fees.amazon import fetched_today, save_preview
    from ipi.fees.compute import next_assessment

    if day < settings.today(account):
        return  # a past day (a rerun): Amazon previews from today on only
    # Amazon refuses a start before its today; ours may be a day behind UTC's.
    start = max(day, datetime.now(UTC).date())
    label = "{} Amazon fee forecast".format
    windows: dict[str, date] = {}
    priced = fees.marketplaces()
    for mp in account.marketplaces:
        if mp not in priced:
            continue
        try:
            windows[mp] = next_assessment(start, fees.load_rates(
                mp, settings.fee_overrides(account, mp)))
        except IpiError as exc:
            run.warnings.append((label(mp), str(exc)))
    store = open_store(settings, account)
    with working(store), store.read() as con:
        todo = [mp for mp in windows if not fetched_today(con, account.name, mp, day)]
    if not todo:
        return
    try:
        from ipi.sources.data_kiosk import DataKioskSource
        from ipi.sources.sp_api import SpApiSource, resolve_credentials

        # The reports' credentials and token buckets: Amazon's are per seller and app.
        kiosk = (DataKioskSource(account, source.credentials, limiter=source.limiter)
                 if isinstance(source, SpApiSource) else
                 DataKioskSource(account, resolve_credentials(account, lookup=secrets)))
    except IpiError as exc:
        run.warnings += [(label(mp), str(exc)) for mp in todo]
        return
    try:
        for mp in todo:
            try:
                preview = kiosk.preview(mp, start, windows[mp])  # minutes: no connection held
                with working(store):
                    warning = save_preview(store, account.name, day, preview)
            except IpiError as exc:  # the store: busy, unavailable
                warning = str(exc)
            except Exception as exc:  # never a traceback, never a failed run for this
                log.debug("%s %s fee forecast", account.name, mp, exc_info=True)
                warning = f"failed unexpectedly ({type(exc).__name__}); the next run asks again"
            if warning:
                log.warning("%s %s: %s", account.name, label(mp), warning)
                run.warnings.append((label(mp), warning))
    finally:
        kiosk.close()


def score(settings: Settings, account: Account, day: date,
          loaded_days: list[date] | None = None) -> ScoreRun:
    """Recompute ``day`` and every day the newly loaded files can change."""
    start = min([day, *(loaded_days or [])])
    end = max([day, *((d + LOOKBACK) for d in (loaded_days or []))])
    store = open_store(settings, account)
    with working(store), store.session():  # its reads and writes on one connection
        carry = settings.policy_for(account).carry_days
        upgrade(store, account.name, carry)  # a new default model rescores history once
        with store.write() as con:
            return score_range(con, account.name, start, end, carry)


@dataclass(frozen=True)
class Silent:
    """A marketplace that got no report for the day; ``newest``: its newest report's day."""

    marketplace: str
    newest: date | None


@dataclass(frozen=True)
class DayEstimate:
    """A marketplace's estimate of the day, as a run's summary gives it."""

    marketplace: str
    score: float | None
    low: float | None
    high: float | None
    status: str | None


def silent_marketplaces(settings: Settings, account: Account, day: date) -> list[Silent]:
    """The account's marketplaces that got no report for ``day``, and since when."""
    from ipi.store.arrivals import silent

    store = open_store(settings, account)
    with working(store), store.read() as con:
        return [Silent(mp, newest)
                for mp, newest in silent(con, account.name, account.marketplaces, day)]


def estimates(settings: Settings, account: Account, day: date) -> list[DayEstimate]:
    """The day's estimate per marketplace, for a run's summary."""
    store = open_store(settings, account)
    with working(store), store.read() as con:
        rows = scores(con, account.name, start=day, end=day)
    return [DayEstimate(r.marketplace, r.score, r.score_low, r.score_high, r.status)
            for r in rows]


@dataclass
class DayRun:
    """One account's daily run as every face shows it: the CLI's line (``line``), the
    flow's result and the run's artifact (``record``, at the JSON edge). ``error`` or
    ``overlap`` says why the day did not run; the rest is what it did."""

    day: date | None = None
    loaded: int = 0
    skipped: int = 0
    failed: int = 0
    warnings: int = 0
    scored: int = 0
    estimates: list[DayEstimate] = field(default_factory=list)  # per marketplace
    silent: list[Silent] = field(default_factory=list)  # marketplaces without a report
    notices: list[str] = field(default_factory=list)  # alert rule changes, capacity pages
    held: int = 0  # by a silence
    inhibited: int = 0  # warnings held while the critical alert fires
    alerts: list[str] = field(default_factory=list)  # each delivery's status
    undelivered: list[str] = field(default_factory=list)  # why, per target
    error: str | None = None
    overlap: str | None = None

    @classmethod
    def of(cls, settings: Settings, account: Account, day: date, alerted: AlertRun,
           ingested: IngestRun | None = None, scored: int = 0) -> DayRun:
        """The summary of a day that ran: loaded (``ingested``; None: nothing to load),
        scored, alerted."""
        ing = ingested or IngestRun(account.name)
        return cls(
            day, len(ing.loaded), len(ing.skipped), len(ing.failed), len(ing.warnings),
            scored, estimates(settings, account, day),
            silent_marketplaces(settings, account, day),
            [f"{n.rule.replace('_', ' ')}: {n.kind}" for n in alerted.notices]
            + [f"capacity {c}" for c in alerted.capacity],
            len(alerted.silenced), len(alerted.inhibited),
            [d.status for d in alerted.deliveries], list(alerted.undelivered))

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> DayRun:
        """Back from ``record`` (a flow's result)."""
        day = record.get("day")
        return cls(**{**record, "day": None if day is None else date.fromisoformat(day),
                      "estimates": [DayEstimate(**e) for e in record.get("estimates", ())],
                      "silent": [Silent(**s) for s in record.get("silent", ())]})

    @property
    def sent(self) -> int:
        return self.alerts.count("sent")

    def record(self) -> dict[str, Any]:
        """Plain values: what the flow returns and Prefect keeps."""
        out = asdict(self)
        out["day"] = None if self.day is None else self.day.isoformat()
        return out

    def line(self, account: str) -> str:
        """What the run did, in one line: reports loaded, the estimate per marketplace
        with its band and status, alerts sent or held."""
        if self.error or self.overlap:
            return f"{account}: not run: {self.error or self.overlap}"
        loaded = f"{self.loaded} report(s) loaded" + "".join(
            f", {n} {k}" for k, n in (("skipped", self.skipped), ("failed", self.failed),
                                      ("warnings", self.warnings)) if n)
        est = "; ".join(
            f"{e.marketplace} {e.score:.0f} (band {e.low:.0f}-{e.high:.0f}, "
            f"{e.status})" if e.score is not None else f"{e.marketplace} no estimate"
            for e in self.estimates) or "no estimate for the day"
        other = len(self.alerts) - self.sent
        why = f": {'; '.join(self.undelivered)}" if self.undelivered else ""
        alerts = (f"{self.sent} alert(s) sent"
                  + (f", {other} not delivered{why} (retried next run)" if other else "")
                  + (f", {self.held} held by a silence" if self.held else "")
                  + (f", {self.inhibited} warning(s) held while the critical alert fires"
                     if self.inhibited else ""))
        quiet = "".join(
            f"; no report for {s.marketplace} today (newest {s.newest or 'never'})"
            for s in self.silent)
        day = "" if self.day is None else self.day.isoformat()
        return f"{account} {day}: {loaded}; {est}{quiet}; {alerts}"


def alert(settings: Settings, account: Account, day: date,
          ingested: IngestRun | None = None) -> AlertRun:
    """Evaluate the alert rules for ``day`` and deliver; ``ingested``'s failures and
    warnings (a FATAL or CANCELLED report, a file set aside) go to ops first."""
    store, notifier = open_store(settings, account), Notifier.from_settings(settings)
    with working(store):
        if ingested is not None and (ingested.failed or ingested.warnings):
            report_problems(store, notifier, account.name, day, ingested)
        run = alert_account(store, notifier, account.name, day, settings.policy_for(account),
                            settings.alerts.top_skus,
                            backoff_minutes=settings.alerts.retry_backoff_minutes,
                            link=settings.alerts.ui_url, at_stake=at_stake(settings, account))
        # A target that cannot be used (unset, refused) is reported at once; a service
        # down once it failed on two runs: a one-off blip never pages ops.
        failed = {d.target: d.error for d in run.deliveries if d.status == "failed"}
        for target in notifier.targets:
            if target.name not in failed:
                continue
            with store.read() as con:
                tries = failing(con, target.id)
            if target.problem or tries >= 2:
                report_target(store, notifier, target, account.name, day,
                              settings.alerts.retry_backoff_minutes, failed[target.name])
        return run


def report_target(store: Store, notifier: Notifier, target: Target, account: str, day: date,
                  backoff_minutes: float, error: str | None = None) -> None:
    """One ops message a day for a target that does not take the account's alerts (its
    variable unset, its URL refused, or its service down: ``error``), to that account's
    other ops targets and the agency's own, never another client's."""
    why = target.problem or (error or "it did not accept the messages").removeprefix(
        f"{target.name}: ")
    body = (f"[OPS] {target.name} cannot be used: {why}. {account}'s alerts "
            "routed to it wait in the outbox and go out on the first run after it is "
            "fixed; every other target got its own. Fix it in the service's environment "
            "or the configuration, then `ipi alerts test`.")
    key = f"{account}:{day}:ops/target:{target.id}"
    with store.write() as con:
        enqueue(con, notifier.without(target), key, account, day, "ops",
                f"[OPS] IPI {account}: alert {target.name} cannot be used", body, "ops")
    # this message alone: the failed ones wait for their backoff
    deliver_pending(store, notifier, account, backoff_minutes=backoff_minutes, key=key)


def at_stake(settings: Settings, account: Account) -> AtStake:
    """What is at stake beyond the score on a day, for the account's alerts: the capacity
    outlook that pages, and the capacity and fee lines for its messages."""
    from ipi.stakes import stakes

    def at(con: duckdb.DuckDBPyConnection, day: date, *, fees: bool = True) -> Stakes:
        return stakes(con, settings, account, day, fees=fees)
    return at


def report_problems(store: Store, notifier: Notifier, account: str, day: date,
                    ingested: IngestRun) -> None:
    """One ops message for what the day's ingest could not load, keyed so a rerun with the
    same problems sends nothing new."""
    lines = [f"  - FAILED {name}: {why}" for name, why in ingested.failed]
    lines += [f"  - WARNING {name}: {why}" for name, why in ingested.warnings]
    body = (f"[OPS] {account} on {day}: {len(ingested.failed)} report(s) failed, "
            f"{len(ingested.warnings)} warning(s); everything else loaded.\n"
            + "\n".join(lines)
            + "\nFailed files are in the drop folder's failed/ with their reasons; a FATAL or "
              "CANCELLED report means Amazon had no data for it today. The factors it feeds "
              "have no data for the day (the estimate says so).")
    key = f"{account}:{day}:ops/ingest:" + ",".join(sorted(
        n for n, _ in [*ingested.failed, *ingested.warnings]))
    with store.write() as con:
        enqueue(con, notifier, key, account, day, "ops",
                f"[OPS] IPI {account}: {len(ingested.failed) + len(ingested.warnings)} report "
                f"problem(s) on {day}", body, "ops")


def report_failure(settings: Settings, account: Account, day: date, what: str) -> None:
    """An ops alert that the account's run failed (best effort: a broken alert
    configuration is logged, never raised over the original failure)."""
    try:
        send_ops(settings, f"{account.name}:{day}:ops/run-failed:{what[:200]}", account.name,
                 day, f"[OPS] IPI {account.name}: the run for {day} failed",
                 f"[OPS] {account.name}: the run for {day} failed: {what}\nNothing new was "
                 "loaded or scored for this account; the other accounts ran. Fix the cause "
                 "(the message says what), then `ipi run --date` the day.")
    except Exception:
        log.exception("could not send the ops alert for %s's failed run", account.name)


def report_run_failure(settings: Settings, run: str, what: str, link: str | None = None,
                       day: date | None = None) -> None:
    """An ops alert that a whole run failed or crashed (a bug, a killed worker), to every
    ops target, once per run."""
    day = day or date.today()
    send_ops(settings, f"{ALL_ACCOUNTS}:{day}:ops/run-failed:{run}", ALL_ACCOUNTS, day,
             f"[OPS] IPI: run {run} failed",
             f"[OPS] the ipi run {run} failed: {what}\n"
             + (f"Run: {link}\n" if link else "")
             + "Accounts it had not finished have no fresh estimate until it runs again; the "
               "run's log says where it stopped. Fix the cause, then run the day again "
               "(`ipi run --date`, or retry the run in Prefect).")


def send_ops(settings: Settings, key: str, account: str, day: date, title: str,
             body: str) -> None:
    """Queue an ops message and deliver it. When the store itself is what broke, straight
    to the targets: an alert about a broken store must not depend on the store."""
    notifier = Notifier.from_settings(settings)
    try:
        store = open_store(settings, account)
        with store.write() as con:
            enqueue(con, notifier, key, account, day, "ops", title, body, "ops")
        deliver_pending(store, notifier, account,
                        backoff_minutes=settings.alerts.retry_backoff_minutes)
        return
    except Exception:
        log.exception("the store cannot take the alert %r; sending it directly", title)
    for target in notifier.route(account, "ops"):
        try:
            notifier.send(target, title, body)
        except Exception:
            log.exception("could not send %r to %s", title, target.name)


def run_lock(settings: Settings, account: Account,
             what: str = "a run") -> AbstractContextManager[None]:
    """The account's run lock (see ipi.locks): one daily run or backfill at a time."""
    return account_lock(settings.data_dir, account.name, wait=settings.run_lock_wait, what=what)


@dataclass
class ForgetRun:
    forgotten: list[Forgotten]
    rescored: ScoreRun
    start: date  # the days rescored
    end: date


def forget(settings: Settings, account: Account, day: date, *, marketplace: str | None = None,
           report_type: str | None = None, reason: str = "ipi forget") -> ForgetRun:
    """Take ``day``'s loads back out (see ipi.store.forget), then rescore the days they
    fed: the day itself (its estimate goes when no data is left) and the LOOKBACK after.

    Under the account's run lock: a daily run must not score the day half forgotten.
    """
    with run_lock(settings, account, f"ipi forget of {day}"):
        store = open_store(settings, account)
        with store.write() as con:
            gone = forget_day(con, account.name, day, marketplace=marketplace,
                              report_type=report_type, reason=reason)
            end = day + LOOKBACK
            run = score_range(con, account.name, day, end,
                              settings.policy_for(account).carry_days)
        return ForgetRun(gone, run, day, end)
