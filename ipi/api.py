"""ipi as a library: one object over a configuration's store, for analysts, the CLI and
the flows alike.

    import ipi

    lib = ipi.open("ipi.toml")
    lib.scores(account="acme", start="2026-01-01")   # a pandas DataFrame

Each question is asked of the package that owns its table (``ipi.score``,
``ipi.alerts.control``, ...); this module only names accounts, checks arguments
and shapes the answer. ``Ipi.rows`` answers the same questions as typed rows: the
CLI prints those, so a listing never pays pandas' import (0.4 s of a 0.5 s budget).
The store is opened for each question and closed after it: a daily run may write
between two questions.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from ipi.errors import NotFound, UsageError
from ipi.settings import Account, Settings, load_settings
from ipi.store import Store
from ipi.store.accounts import WHOLE_RUN, Fleet, account_store

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from ipi.alerts.control import Event, Firing, Sent, Silence
    from ipi.capacity.limits import Limit
    from ipi.score import DailyScore
    from ipi.score.official import ModelState, Recorded, Stored
    from ipi.score.projection import Projection
    from ipi.score.whatif import Action, Outcome, Plan
    from ipi.stakes import FeeCalendar, Stakes
    from ipi.store.arrivals import Arrival

Day = date | str  # a date, or its ISO text: what an analyst types


def as_day(value: Day | None, name: str = "date") -> date | None:
    """``value`` as a date (None stays None); text that is not YYYY-MM-DD is refused."""
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{name} {value!r} is not a date: use YYYY-MM-DD") from None


@dataclass(frozen=True)
class WhatIf:
    """The estimate of one day before and after some actions, never stored."""

    account: str
    row: DailyScore  # the day's
    actions: tuple[Action, ...]
    outcome: Outcome

    def records(self) -> list[Moment]:
        """One row per moment: now, after the actions, and once Amazon's 90-day
        sell-through window has passed over the removals."""
        from ipi.score.whatif import values_of

        o = self.outcome
        moments = (("now", o.before, values_of(self.row)), ("after", o.after, o.values_after),
                   ("in 90 days", o.later, None))
        return [Moment(self.account, self.row.marketplace, self.row.date, when, e.score,
                       e.low, e.high, e.status, *((values or {}).get(f) for f in FACTORS))
                for when, e, values in moments]


@dataclass(frozen=True, slots=True)
class Moment:
    """The estimate and factors of a what-if's day at one moment (``when``: now, after,
    in 90 days)."""

    account: str
    marketplace: str
    date: dt.date
    when: str
    score: float | None
    score_low: float | None
    score_high: float | None
    status: str
    excess: float | None
    sell_through: float | None
    stranded: float | None
    in_stock: float | None


FACTORS = ("excess", "sell_through", "stranded", "in_stock")


@dataclass(frozen=True, slots=True)
class FactorDay:
    """One factor of one day: its value, and whether its inputs were approximate."""

    account: str
    marketplace: str
    date: dt.date
    factor: str
    value: float | None
    approximate: bool


@dataclass(frozen=True, slots=True)
class Fix:
    """A SKU whose fix would lift a day's estimate (``ipi.score.drivers.Driver``), with
    the day it is of."""

    account: str
    marketplace: str
    date: dt.date
    factor: str
    sku: str
    asin: str | None
    name: str | None
    units: float
    detail: str
    action: str
    gain: float | None
    gain_in_90_days: float | None


@dataclass(frozen=True, slots=True)
class Overview:
    """An account's marketplace at a glance: its newest estimate with band and status
    (None without data), the change over 7 days and since yesterday, the trend to
    Amazon's next check and the days left to it from the account's ``today``, the alerts
    firing, and the newest day with data with its age."""

    account: str
    marketplace: str
    today: dt.date
    date: date | None
    score: float | None
    score_low: float | None
    score_high: float | None
    status: str | None
    notes: str | None
    partial: str | None  # a partial day leads with what is known, never a bare number
    held: str | None  # held over today's factors by the long-term ones (the 2020 rule)
    score_recent: float | None
    threshold: float
    recovery: float
    change_7d: float | None
    change_days: int | None
    change_1d: float | None  # since yesterday: the day before the newest, when it has one
    projection: Projection | None
    next_check: dt.date | None
    days_to_check: int | None
    firing: list[Firing]
    latest_data: dt.date | None
    data_age_days: int | None
    # as the dead man's switch sees it (alerts.engine.check_freshness): the newest
    # estimate older than max_data_age_days
    stale: bool
    # its file was being written when read across accounts: left out, none of the above
    # known (not "no estimate")
    updating: bool = False


class Rows:
    """The library's questions, answered as ipi's own typed results (dataclasses;
    ``ipi.plain`` turns them into JSON's values at the edges)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # The accounts a read across all of them left out (their files were being written),
        # per thread: the dashboard's requests share one Rows.
        self._local = threading.local()
        self._stores: dict[str, Store] = {}

    @property
    def updating(self) -> list[str]:
        """The accounts this thread's last read across accounts left out: being written."""
        return list(getattr(self._local, "updating", ()))

    def store(self, account: str) -> Store:
        """The account's own store (its file: ipi.store.accounts), the same each time:
        a session held on it serves the questions asked inside."""
        if account not in self._stores:
            self._stores[account] = account_store(self.settings, account)
        return self._stores[account]

    @contextmanager
    def reading(self, account: str | None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to read the account's data (None: every configured account's,
        their files attached read-only; ``updating`` names those being written)."""
        if account is None and len(self.settings.accounts) == 1:
            account = self.settings.accounts[0].name  # waits for a writer, as one file does
        if account is not None:
            with self.store(account).read() as con:
                yield con
            return
        fleet = Fleet(self.settings)
        with fleet.read() as con:
            self._local.updating = fleet.updating
            yield con

    # -- naming things --------------------------------------------------------------------

    def account(self, name: str | None = None) -> Account:
        """The named account, or the only one (several configured: name one)."""
        return self.settings.account(name)

    def marketplace(self, account: Account, marketplace: str | None) -> str:
        """One of the account's marketplaces (default: its first), checked."""
        if marketplace is None:
            return account.marketplaces[0]
        if marketplace.upper() not in account.marketplaces:
            raise UsageError(f"marketplace {marketplace} is not one of {account.name}'s "
                              f"marketplaces ({', '.join(account.marketplaces)})")
        return marketplace.upper()

    def _named(self, account: str | None) -> str | None:
        return self.account(account).name if account else None

    # -- estimates and factors ------------------------------------------------------------

    def scores(self, account: str | None = None, *, marketplace: str | None = None,
               start: Day | None = None, end: Day | None = None,
               last: int | None = None) -> list[DailyScore]:
        """Daily estimates with their band, status and factors, oldest first; ``last``:
        only the newest N days of each account and marketplace."""
        from ipi.score import scores

        name = self._named(account)
        mp = self.marketplace(self.account(name), marketplace) if marketplace else None
        with self.reading(name) as con:
            return scores(con, name, marketplace=mp, start=as_day(start, "start"),
                          end=as_day(end, "end"), last=last)

    def factors(self, account: str | None = None, *, marketplace: str | None = None,
                start: Day | None = None, end: Day | None = None) -> list[FactorDay]:
        """The four factors per day, long form: one row per account, marketplace, day and
        factor, with its value and its inputs' approximation flag."""
        rows = self.scores(account, marketplace=marketplace, start=start, end=end)
        out = []
        for r in rows:
            for factor, column, approx in (
                    ("excess", "excess_pct", None),
                    ("sell_through", "sell_through", "sell_through_approx"),
                    ("stranded", "stranded_pct", None),
                    ("in_stock", "in_stock_rate", "in_stock_approx")):
                out.append(FactorDay(r.account, r.marketplace, r.date, factor,
                                     getattr(r, column),
                                     bool(getattr(r, approx)) if approx else False))
        return out

    def day(self, account: str | None = None, *, marketplace: str | None = None,
            day: Day | None = None) -> tuple[Account, DailyScore]:
        """The account and its marketplace's newest estimate row on or before ``day``
        (default: the newest); none is a ConfigError saying what to do."""
        from ipi.score import latest_row

        acc = self.account(account)
        mp = self.marketplace(acc, marketplace)
        on = as_day(day)
        with self.reading(acc.name) as con:
            row = latest_row(con, acc.name, mp, on)
        if row is None:
            raise NotFound(f"{acc.name} {mp} has no estimate"
                              + (f" on or before {on}" if on else "")
                              + ": load reports first (ipi run, ipi ingest)")
        return acc, row

    def drivers(self, day: Day | None = None, account: str | None = None, *,
                marketplace: str | None = None, n: int = 10) -> list[Fix]:
        """The SKUs whose fix would lift the day's estimate most, best first."""
        from ipi.score.drivers import top_drivers

        acc, row = self.day(account, marketplace=marketplace, day=day)
        with self.reading(acc.name) as con:
            found = top_drivers(con, acc.name, row.marketplace, row.date, n, row)
        return [Fix(acc.name, row.marketplace, row.date, d.factor, d.sku, d.asin, d.name,
                    d.units, d.detail, d.action, d.gain, d.later) for d in found]

    def whatif(self, actions: Iterable[Action | str], account: str | None = None, *,
               marketplace: str | None = None, day: Day | None = None) -> WhatIf:
        """The estimate after ``actions`` (``Action`` objects, or text:
        ``remove SKU:UNITS``, ``fix-stranded SKU``, ``restock SKU``); computed, never
        stored. SKUs the day's reports do not name are listed in ``outcome.unknown``."""
        from ipi.score.whatif import what_if

        wanted = tuple(parse_action(a) if isinstance(a, str) else a for a in actions)
        if not wanted:
            raise UsageError("name at least one action: remove SKU:UNITS, fix-stranded "
                              "SKU or restock SKU")
        acc, row = self.day(account, marketplace=marketplace, day=day)
        with self.reading(acc.name) as con:
            outcome = what_if(con, acc.name, row, wanted)
        return WhatIf(acc.name, row, wanted, outcome)

    def plan(self, account: str | None = None, *, marketplace: str | None = None,
             day: Day | None = None, by: str | None = None) -> tuple[DailyScore, Plan]:
        """The day's row and its recovery plan: the cheapest actions back over the
        threshold plus its margin (``by``: units or cost; default the policy's)."""
        from ipi.score.drivers import recovery

        acc, row = self.day(account, marketplace=marketplace, day=day)
        policy = self.settings.policy_for(acc)
        if by:
            if by not in ("units", "cost"):
                raise UsageError(f"by {by!r}: use units or cost")
            policy = policy.model_copy(update={"plan_by": by})
        with self.reading(acc.name) as con:
            return row, recovery(con, acc.name, row, policy)

    # -- official scores ------------------------------------------------------------------

    def official(self, account: str | None = None) -> list[Recorded]:
        """Official scores recorded from Seller Central beside the estimate each was
        paired with (None: no estimate close enough), oldest first."""
        from ipi.score.official import listing

        acc = self.account(account)
        with self.reading(acc.name) as con:
            return listing(con, acc.name)

    def calibration(self, account: str | None = None) -> Stored | None:
        """The account's fitted model (weights, band, held-out error), if any."""
        from ipi.score.official import calibration

        with self.reading(self.account(account).name) as con:
            return calibration(con, self.account(account).name)

    def model(self, account: str | None = None) -> ModelState:
        """What the account's estimates rest on: the model, its official scores, how far
        it misses them; ``.ask(today)``: the request for this week's official score."""
        from ipi.score.official import state

        with self.reading(self.account(account).name) as con:
            return state(con, self.account(account).name)

    # -- alerts ---------------------------------------------------------------------------

    def alerts(self, account: str | None = None, *,
               limit: int | None = None) -> list[Event]:
        """Every alert state change and acknowledgement, newest first."""
        from ipi.alerts.control import events

        with self.reading(self._named(account)) as con:
            return events(con, self._named(account), limit)

    def messages(self, account: str | None = None, *,
                 limit: int | None = None) -> list[Sent]:
        """The messages sent (or queued), newest first, with each target's delivery; with
        no account named, also the whole run's own (ops: a run that failed as a whole)."""
        from ipi.alerts.control import messages

        name = self._named(account)
        with self.reading(name) as con:
            sent = messages(con, name, limit)
        if name is None and self.settings.database_path.exists():
            # Kept in the installation's file: no account's file holds them.
            with self.store(WHOLE_RUN).read() as con:
                sent += messages(con, WHOLE_RUN, limit)
            sent.sort(key=lambda m: m.date, reverse=True)
        return sent[:limit] if limit is not None else sent

    def silences(self, account: str | None = None, *, ended: bool = False,
                 today: Day | None = None) -> list[Silence]:
        """Silences in force (``ended``: also those over), newest first."""
        from ipi.alerts.control import silences

        name = self._named(account)
        on = as_day(today, "today") or (self.settings.today(self.account(name)) if name
                                         else date.today())
        with self.reading(name) as con:
            return silences(con, name, today=on, ended=ended)

    # -- a morning look: what the dashboard (ipi/web) asks -------------------------------

    def firing(self, account: str | None = None) -> list[Firing]:
        """The alerts firing now per account, marketplace and rule (every account when
        none is named), with since when and whether acknowledged."""
        from ipi.alerts.control import firing

        with self.reading(self._named(account)) as con:
            return firing(con, self._named(account))

    def arrivals(self, account: str | None = None, *, marketplace: str | None = None,
                 start: Day | None = None, end: Day | None = None) -> list[Arrival]:
        """The reports loaded, one row per marketplace, day and report type, newest day
        first: rows, when loaded, why unreliable (if so), the file's name."""
        from ipi.store.arrivals import arrivals

        acc = self.account(account)
        mp = self.marketplace(acc, marketplace) if marketplace else None
        with self.reading(acc.name) as con:
            return arrivals(con, acc.name, marketplace=mp, start=as_day(start, "start"),
                            end=as_day(end, "end"))

    def checks(self, account: str | None = None, *, start: Day,
               end: Day) -> list[date]:
        """Amazon's check dates from ``start`` through ``end``, by the account's policy."""
        from datetime import timedelta

        from ipi.alerts.calendar import next_checkpoint

        policy = self.settings.policy_for(self.account(account))
        day, last = as_day(start, "start"), as_day(end, "end")
        assert day is not None and last is not None
        out = []
        while (check := next_checkpoint(policy, day)) is not None and check <= last:
            out.append(check)
            day = check + timedelta(days=1)
        return out

    def projection(self, account: str | None = None, *, marketplace: str | None = None,
                   day: Day | None = None) -> Projection | None:
        """Where the marketplace's newest estimate (or ``day``'s) is heading by Amazon's
        next check if the trend holds: the one projection alerts and the report use
        (None: no check date ahead)."""
        from ipi.alerts.calendar import next_checkpoint
        from ipi.score.projection import projection

        acc, row = self.day(account, marketplace=marketplace, day=day)
        policy = self.settings.policy_for(acc)
        with self.reading(acc.name) as con:
            return projection(con, acc.name, row.marketplace, row.date,
                              next_checkpoint(policy, row.date), policy)

    def overview(self, account: str | None = None) -> list[Overview]:
        """One row per account (every one, or the named one) and marketplace, for a
        morning look: the newest estimate with its band and status, its change over the
        7 days before, the trend to Amazon's next check, the days left to that check from
        the account's today, the alerts firing, and the newest day with data and its age.
        A marketplace without data has None for all of these."""
        from datetime import timedelta

        from ipi.alerts.calendar import next_checkpoint
        from ipi.score import held_line, partial_line, scores
        from ipi.score.projection import projection
        from ipi.store.arrivals import newest

        accounts = [self.account(account)] if account else list(self.settings.accounts)
        name = accounts[0].name if account else None
        firing = self.firing(name)
        left_out = self.updating
        out = []
        with self.reading(name) as con:
            writing = set(self.updating) | set(left_out)
            recent = scores(con, name, last=8)
            fresh = {(r.account, r.marketplace): r.latest_data for r in newest(con, name)}
            for acc in accounts:
                policy = self.settings.policy_for(acc)
                today = self.settings.today(acc)
                check = next_checkpoint(policy, today)
                for mp in acc.marketplaces:
                    days = [r for r in recent if r.account == acc.name
                            and r.marketplace == mp and r.score is not None]
                    latest = days[-1] if days else None
                    week = ([r for r in days if r.date >= latest.date - timedelta(7)]
                            if latest else [])
                    trend = (projection(con, acc.name, mp, latest.date,
                                        next_checkpoint(policy, latest.date), policy)
                             if latest else None)
                    data = fresh.get((acc.name, mp))
                    week_ago = week[0] if latest and week[0] is not latest else None
                    out.append(Overview(
                        account=acc.name, marketplace=mp, today=today,
                        date=latest.date if latest else None,
                        score=latest.score if latest else None,
                        score_low=latest.score_low if latest else None,
                        score_high=latest.score_high if latest else None,
                        status=latest.status if latest else None,
                        notes=latest.notes if latest else None,
                        partial=partial_line(latest) if latest else None,
                        held=held_line(latest) if latest else None,
                        score_recent=latest.score_recent if latest else None,
                        threshold=policy.threshold, recovery=policy.recovery,
                        change_7d=_minus(latest.score, week_ago.score)
                        if latest and week_ago else None,
                        change_days=(latest.date - week_ago.date).days
                        if latest and week_ago else None,
                        change_1d=_minus(days[-1].score, days[-2].score)
                        if len(days) > 1 and (days[-1].date - days[-2].date).days == 1
                        else None,
                        projection=trend, next_check=check,
                        days_to_check=(check - today).days if check else None,
                        firing=[f for f in firing
                                if f.account == acc.name and f.marketplace == mp],
                        latest_data=data, data_age_days=(today - data).days if data else None,
                        stale=bool(data) and (latest is None or (today - latest.date).days
                                              > policy.max_data_age_days),
                        updating=acc.name in writing))
        return out

    # -- capacity ---------------------------------------------------------------------------

    def capacity_limits(self, account: str | None = None) -> list[Limit]:
        """The capacity limits typed in from Seller Central (every account's, or one's):
        account, storage_type, month (its first day), limit_cuft, recorded_at."""
        from ipi.capacity.limits import limits

        with self.reading(self._named(account)) as con:
            return limits(con, self._named(account))

    def capacity(self, account: str | None = None, *,
                 day: Day | None = None) -> Stakes:
        """What is at stake on the account's newest planning day on or before ``day``:
        ``storage`` (each storage type's use, limit, projection to the month's end and
        status), ``fees`` (per marketplace: the aged surcharge forecast, the storage
        utilization ratio, the low-inventory-level risk, Amazon's figures beside) and
        ``lines`` (what is at risk, one sentence each). Missing inputs are None, never 0."""
        from ipi.stakes import stakes

        acc = self.account(account)
        with self.reading(acc.name) as con:
            return stakes(con, self.settings, acc, as_day(day))

    def fee_calendar(self, account: str | None = None, *,
                     day: Day | None = None) -> list[FeeCalendar]:
        """Per marketplace, each SKU's next aged-surcharge assessment: the tier its oldest
        units reach, the charge if nothing sells and at its 30-day pace, the units to sell
        or remove beyond that pace to pay nothing, and where its days of supply sit between
        the low-inventory floor and the surcharge's start (the "safe zone"). Most to pay
        first."""
        from ipi.stakes import fee_calendar

        acc = self.account(account)
        with self.reading(acc.name) as con:
            return fee_calendar(con, self.settings, acc, as_day(day))


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def parse_action(text: str) -> Action:
    """``remove SKU:UNITS``, ``fix-stranded SKU`` or ``restock SKU`` as an Action."""
    from ipi.score.whatif import Action, parse_remove

    kind, _, rest = text.strip().partition(" ")
    if kind == "remove":
        return parse_remove(rest)
    if kind in ("fix-stranded", "restock") and rest.strip():
        return Action(kind, rest.strip())  # type: ignore[arg-type]
    raise UsageError(f"action {text!r}: use 'remove SKU:UNITS', 'fix-stranded SKU' or "
                      "'restock SKU'")


def _frame(rows: Sequence[object], columns: Sequence[str]) -> pd.DataFrame:
    """Rows (typed results, or dicts) as a DataFrame with these columns even when there
    are none; dates become pandas timestamps, so they plot and resample."""
    import pandas as pd

    from ipi.plain import plain

    df = pd.DataFrame.from_records([plain(r) for r in rows], columns=list(columns))
    for col in ("date", "until"):
        if col in df.columns:
            df[col] = pd.to_datetime(df[col])
    return df


class Ipi:
    """A configuration's store, asked in pandas: ``ipi.open(config)`` gives one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rows = Rows(settings)

    @classmethod
    def from_config(cls, config: Path | str | None = None) -> Ipi:
        return cls(load_settings(config))

    @property
    def accounts(self) -> list[str]:
        return [a.name for a in self.settings.accounts]

    def scores(self, account: str | None = None, *, marketplace: str | None = None,
               start: Day | None = None, end: Day | None = None,
               last: int | None = None) -> pd.DataFrame:
        """Daily estimates: score, band (score_low, score_high), status and the factors,
        one row per account, marketplace and day."""
        from ipi.score import SCORE_COLUMNS

        return _frame(self.rows.scores(account, marketplace=marketplace, start=start,
                                       end=end, last=last), SCORE_COLUMNS)

    def factors(self, account: str | None = None, *, marketplace: str | None = None,
                start: Day | None = None, end: Day | None = None) -> pd.DataFrame:
        """The four factors, one row per day and factor (``pivot`` for a column each)."""
        return _frame(self.rows.factors(account, marketplace=marketplace, start=start,
                                        end=end),
                      ("account", "marketplace", "date", "factor", "value", "approximate"))

    def drivers(self, day: Day | None = None, account: str | None = None, *,
                marketplace: str | None = None, n: int = 10) -> pd.DataFrame:
        """The SKUs to act on first, with the points each fix would win."""
        return _frame(self.rows.drivers(day, account, marketplace=marketplace, n=n),
                      DRIVER_COLUMNS)

    def whatif(self, actions: Iterable[Action | str], account: str | None = None, *,
               marketplace: str | None = None, day: Day | None = None) -> pd.DataFrame:
        """Now, after the actions, and in 90 days: estimate, band and factors."""
        out = self.rows.whatif(actions, account, marketplace=marketplace, day=day)
        return _frame(out.records(), ("account", "marketplace", "date", "when", "score",
                                      "score_low", "score_high", "status", *FACTORS))

    def official(self, account: str | None = None) -> pd.DataFrame:
        """Official scores beside ipi's estimates."""
        return _frame(self.rows.official(account),
                      ("account", "marketplace", "date", "official", "estimate"))

    def alerts(self, account: str | None = None, *, limit: int | None = None) -> pd.DataFrame:
        """Alert state changes, newest first."""
        return _frame(self.rows.alerts(account, limit=limit),
                      ("date", "account", "marketplace", "rule", "from_state", "to_state",
                       "value", "note", "recorded_at"))

    def capacity(self, account: str | None = None, *, day: Day | None = None) -> pd.DataFrame:
        """Each storage type's use against its limit, projected to the month's end, with
        its status; the fees are in ``.rows.capacity``."""
        return _frame([s.record() for s in self.rows.capacity(account, day=day).storage],
                      ("storage_type", "date", "used_cuft", "on_hand_cuft", "inbound_cuft",
                       "skus_unknown", "limit_cuft", "limit_source", "share", "month_end",
                       "projected_cuft", "projected_low", "projected_high",
                       "projected_share", "projection_note", "warn_share", "status", "line"))

    def messages(self, account: str | None = None, *,
                 limit: int | None = None) -> pd.DataFrame:
        """Messages sent, newest first, with their deliveries."""
        return _frame(self.rows.messages(account, limit=limit),
                      ("date", "account", "kind", "severity", "title", "status",
                       "deliveries"))


DRIVER_COLUMNS = ("account", "marketplace", "date", "factor", "sku", "asin", "name", "units",
                  "detail", "action", "gain", "gain_in_90_days")
