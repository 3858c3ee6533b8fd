"""What each page shows, asked of ``ipi.api.Rows`` and shaped for its template: no SQL,
no HTML. Every Rows call opens the store and closes it, so a page never holds the
database between two questions (a daily run may write in between).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ipi.alerts.control import Event, Sent
from ipi.api import Fix, Moment, Overview, Rows
from ipi.capacity.usage import Outlook
from ipi.errors import ConfigError, NotFound, UsageError
from ipi.fees.exposure import FeeExposure
from ipi.score.official import ModelState, Recorded
from ipi.score.projection import Projection
from ipi.score.whatif import Plan, parse_remove
from ipi.settings import Account
from ipi.stakes import FeeNote
from ipi.store.arrivals import Arrival
from ipi.web.charts import chart_data

DRIVERS = 25  # SKUs in a marketplace's drivers table (and its CSV)
ARRIVAL_DAYS = 21  # days in the "reports that arrived" table
HISTORY = 50  # alert state changes and messages listed

# Short names for the reports' types, as a seller knows them in Seller Central.
REPORT_NAMES = {
    "GET_FBA_INVENTORY_PLANNING_DATA": "Inventory health",
    "GET_STRANDED_INVENTORY_UI_DATA": "Stranded",
    "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA": "Manage FBA inventory",
    "GET_LEDGER_SUMMARY_VIEW_DATA": "Ledger",
}
DAILY_REPORTS = tuple(list(REPORT_NAMES)[:3])  # the three a daily run expects
RULE_NAMES = {"below_threshold": "under the threshold", "check_window": "check window",
              "projected_crossing": "projected crossing", "stranded_jump": "stranded jump",
              "excess_jump": "excess jump"}


def tone(row: Overview) -> str:
    """How a marketplace's state reads at a glance: bad (under the threshold, or a
    critical alert), warn (a warning, stale data, under the recovery threshold), ok."""
    if row.score is None:
        return "warn" if row.stale else "none"
    if row.score < row.threshold or any(f.severity == "critical" for f in row.firing):
        return "bad"
    if row.firing or row.stale or row.score < row.recovery:
        return "warn"
    return "ok"


# A storage type's status as the page's tones: over and warning stand out.
STATUS_TONES = {"over": "bad", "warning": "warn", "ok": "ok"}  # no limit, no data: none


@dataclass(frozen=True)
class Capacity:
    """The account's capacity and fees (``Rows.capacity``), the tone of its at-risk card,
    and whether any storage type has a limit (if none, the page says how to record one)."""

    storage: list[Outlook]
    fees: list[FeeExposure | FeeNote]
    lines: list[str]
    tone: str
    any_limit: bool


def capacity(rows: Rows, name: str) -> Capacity:
    at = rows.capacity(name)
    return Capacity(at.storage, at.fees, at.lines,
                    "bad" if any(s.status == "over" for s in at.storage)
                    else "warn" if at.lines else "ok",
                    any(s.limit_cuft is not None for s in at.storage))


def index(rows: Rows) -> list[Overview]:
    """Every configured account and marketplace, worst first: under the threshold (the
    furthest under first), then those with no estimate, then the rest by their distance
    to the threshold; the stalest data first among equals."""
    return sorted(rows.overview(), key=worst_first)


def worst_first(r: Overview) -> tuple[int, float, int]:
    score, age = r.score, r.data_age_days
    group = 1 if score is None else 0 if score < r.threshold else 2
    if r.updating:  # being written: not known now, not "no estimate", so not first
        group = 3
    return group, (score - r.threshold) if score is not None else 0.0, -(age or 0)


@dataclass
class Market:
    """One marketplace of an account's page."""

    marketplace: str
    summary: Overview
    chart: dict[str, Any] | None = None  # JSON for the page's script (ipi.web.charts)
    projection: Projection | None = None
    drivers: list[Fix] = field(default_factory=list)
    plan: Plan | None = None
    arrivals: list[ArrivalDay] = field(default_factory=list)
    report_types: list[str] = field(default_factory=list)
    official: list[Recorded] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


@dataclass
class AccountPage:
    account: Account
    today: date
    threshold: float
    recovery: float
    model: ModelState
    record: str | None  # the command recording this week's official score, when due
    markets: list[Market]
    events: list[Event]
    messages: list[Sent]
    capacity: Capacity


def account_page(rows: Rows, name: str) -> AccountPage:
    """Everything the account's page shows, per marketplace."""
    acc = rows.account(name)
    policy = rows.settings.policy_for(acc)
    events = rows.alerts(acc.name, limit=None)
    official = rows.official(acc.name)
    markets = []
    for summary in rows.overview(acc.name):
        mp = summary.marketplace
        m = Market(mp, summary, official=[o for o in official if o.marketplace == mp],
                   events=[e for e in events if e.marketplace == mp])
        history = rows.scores(acc.name, marketplace=mp)
        if summary.date is not None and summary.score is not None:
            first, last = history[0].date, summary.date
            fired = [e.date for e in m.events
                     if e.to_state == "firing" and e.from_state != "firing"]
            m.chart = chart_data(mp, history, policy.threshold,
                                 rows.checks(acc.name, start=first, end=last + timedelta(90)),
                                 m.official, fired)
            m.projection = summary.projection
            m.drivers = rows.drivers(account=acc.name, marketplace=mp, n=DRIVERS)
            if summary.score < policy.recovery:  # as the report: a plan only when needed
                m.plan = rows.plan(acc.name, marketplace=mp)[1]
        m.arrivals, m.report_types = arrivals_table(rows, acc.name, mp, summary)
        markets.append(m)
    today = rows.settings.today(acc)
    model = rows.model(acc.name)
    return AccountPage(acc, today, policy.threshold, policy.recovery, model, model.record(today),
                       markets, events[:HISTORY],
                       rows.messages(acc.name, limit=HISTORY), capacity(rows, acc.name))


@dataclass(frozen=True, slots=True)
class ArrivalDay:
    """A row of the arrivals table: the day, and each report type's load or None."""

    date: date
    cells: list[Arrival | None]


def arrivals_table(rows: Rows, account: str, marketplace: str,
                   summary: Overview) -> tuple[list[ArrivalDay], list[str]]:
    """The last days up to the newest data, every day listed (a gap is a day nothing
    arrived), with one cell per report type: its load, or None."""
    end = summary.latest_data
    if end is None:
        return [], list(DAILY_REPORTS)
    start = end - timedelta(days=ARRIVAL_DAYS - 1)
    loads = rows.arrivals(account, marketplace=marketplace, start=start, end=end)
    types = list(DAILY_REPORTS) + sorted({r.report_type for r in loads} - set(DAILY_REPORTS))
    by_day: dict[date, dict[str, Arrival]] = {}
    for r in loads:
        by_day.setdefault(r.date, {})[r.report_type] = r
    days = [end - timedelta(days=i) for i in range(ARRIVAL_DAYS)]
    return [ArrivalDay(d, [by_day.get(d, {}).get(t) for t in types]) for d in days], types


# -- what if -------------------------------------------------------------------------------


def actions(remove: list[str], fix_stranded: list[str], restock: list[str]) -> list[str]:
    """The form's fields as the library's action texts; blanks are fields left empty."""
    out = []
    for spec in (s.strip() for s in remove if s.strip()):
        parse_remove(spec)  # the library's own check of SKU:UNITS: UsageError
        sku, _, units = spec.rpartition(":")
        out.append(f"remove {sku.strip()}:{units}")
    out += [f"fix-stranded {s.strip()}" for s in fix_stranded if s.strip()]
    out += [f"restock {s.strip()}" for s in restock if s.strip()]
    if not out:
        raise UsageError("name at least one action: units of a SKU to remove (SKU:UNITS), a "
                         "stranded SKU to fix, or a SKU to restock")
    return out


@dataclass
class WhatIfPage:
    account: Account
    marketplace: str
    asked: list[str]  # the action texts, as typed back into the form
    moments: list[Moment] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    capped: dict[str, float] = field(default_factory=dict)
    day: date | None = None
    threshold: float = 0.0
    error: str | None = None
    known: int = 0  # actions on SKUs the day's reports name
    form: dict[str, list[str]] = field(default_factory=dict)

    @property
    def status(self) -> int:
        """400 when nothing could be computed (bad input, or only unknown SKUs)."""
        return 400 if self.error or not self.known else 200


def whatif(rows: Rows, name: str, marketplace: str | None, remove: list[str],
           fix_stranded: list[str], restock: list[str]) -> WhatIfPage:
    """The estimate after the actions, computed and never stored; bad input and SKUs the
    day's reports do not name become messages on the page."""
    acc = rows.account(name)
    form = {"remove": remove, "fix_stranded": fix_stranded, "restock": restock}
    page = WhatIfPage(acc, marketplace or acc.marketplaces[0], [], form=form,
                      threshold=rows.settings.policy_for(acc).threshold)
    try:
        page.marketplace = rows.marketplace(acc, marketplace)
        page.asked = actions(remove, fix_stranded, restock)
        out = rows.whatif(page.asked, acc.name, marketplace=page.marketplace)
    except (UsageError, NotFound, ConfigError) as exc:  # said on the page, in a 400
        page.error = str(exc)
        return page
    page.moments = out.records()
    page.labels = [a.label() for a in out.actions]
    page.unknown = list(out.outcome.unknown)
    page.capped = dict(out.outcome.capped)
    page.known = sum(a.sku not in page.unknown for a in out.actions)
    page.day = out.row.date
    if not any(a.kind == "remove" for a in out.actions):
        page.moments = [m for m in page.moments if m.when != "in 90 days"]
    return page
