"""Alerts: rules over the day's scores, state in DuckDB, an outbox, apprise delivery.

Only the latest day of an account can page: evaluating a past day (a rerun or a
backfill) changes no state and queues nothing. Silences mute notifications but
the state goes on; one message per account per run. When to page is in
``rules.py``; what people do to alerts (acknowledge, silence) in ``control.py``.

Capacity pages too, without the score: a storage type whose use, now or projected
to the month's end, passes its warning share pages once that month, and once more
if it goes over its limit (the limits are monthly; a month that ends over needs no
"resolved"). A score alert in the same run carries it instead of a second message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Protocol

import duckdb

from ipi.alerts.calendar import next_checkpoint
from ipi.alerts.context import steps as rule_steps
from ipi.alerts.control import silenced
from ipi.alerts.deliver import Notifier
from ipi.alerts.message import (
    Notice,
    capacity_message,
    gap_message,
    render,
    unreliable_message,
)
from ipi.alerts.outbox import Delivery, deliver_pending, enqueue
from ipi.alerts.rules import BELOW_THRESHOLD, CHECK_WINDOW, PROJECTED_CROSSING, SEVERITY
from ipi.reports import REGISTRY
from ipi.score import DailyScore, day_row, day_rows, latest_day
from ipi.score.carry import FEEDS, REPORTS
from ipi.score.drivers import recovery, top_drivers
from ipi.score.model import LABELS
from ipi.score.official import state
from ipi.settings import Policy
from ipi.store import Store, utcnow
from ipi.store.arrivals import gaps

if TYPE_CHECKING:
    from ipi.capacity.usage import Outlook
    from ipi.stakes import Stakes

log = logging.getLogger(__name__)


@dataclass
class AlertRun:
    account: str
    day: date
    evaluated: bool  # False when the day is not the account's latest
    notices: list[Notice] = field(default_factory=list)
    silenced: list[Notice] = field(default_factory=list)  # held by a silence
    inhibited: list[Notice] = field(default_factory=list)  # warnings under a firing critical
    deliveries: list[Delivery] = field(default_factory=list)
    capacity: list[str] = field(default_factory=list)  # e.g. 'standard: warning', paged
    stakes: Stakes | None = None  # what was at stake, fees too, when a message needed it

    @property
    def undelivered(self) -> list[str]:
        """Each target that did not take a message, with why: "target #3: ... not set"."""
        return sorted({d.error or d.target for d in self.deliveries if d.status == "failed"})


class AtStake(Protocol):
    """What is at stake beyond the score on a day, as ``ipi.stakes.stakes`` gives it:
    ``storage`` (each storage type's capacity outlook) and ``lines`` (a sentence per
    figure at risk; ``fees=False``: the capacity's alone, cheaper)."""

    def __call__(self, con: duckdb.DuckDBPyConnection, day: date, *,
                 fees: bool = True) -> Stakes: ...

_LEVELS = {"warning": 1, "over": 2}  # a capacity page goes up a level, never down


def evaluate(store: Store, notifier: Notifier, account: str, day: date, policy: Policy,
             top_skus: int = 5, *, link: str | None = None,
             at_stake: AtStake | None = None) -> AlertRun:
    """Apply the rules to ``day``'s scores; commit state changes with their messages
    (``link``: where people look at the account, put in messages; ``at_stake``: the
    capacity and fees at risk that day, e.g. ``ipi.stakes``': its lines go in a message,
    and a storage type newly past its capacity warning pages). In one transaction: the
    rules step, capacity pages, then one message is composed and queued."""
    with store.write() as con:
        latest = latest_day(con, account)
        if latest is None or day < latest:
            log.info("alerts for %s: %s is not the latest scored day (%s); nothing to page",
                     account, day, latest)
            return AlertRun(account, day, evaluated=False)
        rows = {r.marketplace: r for r in day_rows(con, account, day)}
        run = AlertRun(account, day, evaluated=True)
        for mp, row in rows.items():
            _step_rules(con, run, mp, row, policy)
            if row.status == "unreliable" and not silenced(con, account, mp, day):
                enqueue(con, notifier, f"{account}:{day}:{mp}:ops/unreliable", account, day,
                        "ops", f"[OPS] IPI {account} {mp}: the estimate for {day} is "
                        "unreliable", unreliable_message(account, mp, day, row), "ops")
        url = f"{link.rstrip('/')}/accounts/{account}" if link else None
        full, lines = _capacity_pages(con, notifier, run, list(rows), at_stake, url)
        if run.notices:
            _compose(con, notifier, run, policy, top_skus, full, lines, url)
    return run


def _step_rules(con: duckdb.DuckDBPyConnection, run: AlertRun, mp: str, row: DailyScore,
                policy: Policy) -> None:
    """Step each rule of one marketplace's day, record its state and changes, and sort its
    notices: to page, held by a silence, or inhibited by the critical alert."""
    account, day = run.account, run.day
    steps = rule_steps(con, account, mp, day, row, policy)
    critical = steps[0][2].state.state == "firing"
    for rule, prev, step, detail in steps:
        new = step.state
        muted = silenced(con, account, mp, day) if step.notify else None
        inhibited = bool(step.notify and not muted and critical
                         and SEVERITY[rule] == "warning")
        if inhibited:
            muted = "inhibited by the critical alert"
        if muted:  # the state goes on; the on-call heard nothing of it
            new = replace(new, last_notified=prev.last_notified, paged=prev.paged,
                          acked=prev.acked, repeats=prev.repeats)
        con.execute(
            "INSERT OR REPLACE INTO alert_state (account, marketplace, rule, state, "
            "since, last_date, last_value, updated_at, count, last_notified, paged, "
            "acked, flapping_since, repeats) "
            "VALUES ($account, $marketplace, $rule, $state, $since, $day, $score, $now, $count, "
            "$last_notified, $paged, $acked, $flapping_since, $repeats)",
            {"account": account, "marketplace": mp, "rule": rule, "state": new.state,
             "since": new.since, "day": day, "score": row.score, "now": utcnow(),
             "count": new.count, "last_notified": new.last_notified, "paged": new.paged,
             "acked": new.acked, "flapping_since": new.flapping_since,
             "repeats": new.repeats})
        if step.changed:
            note = f"muted: {muted}" if muted else (
                "held: flapping" if new.flapping_since and step.notify is None else None)
            con.execute("INSERT INTO alert_event (account, marketplace, rule, date, from_state, "
                        "to_state, value, note, recorded_at) VALUES ($account, $marketplace, "
                        "$rule, $day, $from_state, $to_state, $score, $note, $now)",
                        {"account": account, "marketplace": mp, "rule": rule, "day": day,
                         "from_state": prev.state, "to_state": new.state,
                         "score": row.score, "note": note, "now": utcnow()})
        if step.notify:
            notice = Notice(
                mp, step.notify, row, policy.threshold, new.since, rule, detail,
                day_row(con, account, mp, prev.last_notified)
                if step.notify == "repeat" else None,
                prev.last_notified, step.why, next_checkpoint(policy, day))
            (run.inhibited if inhibited else run.silenced if muted
             else run.notices).append(notice)


def _capacity_pages(con: duckdb.DuckDBPyConnection, notifier: Notifier, run: AlertRun,
                    marketplaces: list[str], at_stake: AtStake | None, url: str | None
                    ) -> tuple[list[Outlook], list[str]]:
    """The storage types newly past their capacity warning (recorded; paged alone unless
    the score's message carries them), and the lines at stake for the day's message."""
    account, day = run.account, run.day
    capacity = at_stake(con, day, fees=False).storage if at_stake else []
    due = _capacity_due(con, account, capacity) if capacity else []
    # Muted only when every marketplace is: capacity is the account's, all of them.
    if due and all(silenced(con, account, mp, day) for mp in marketplaces):
        due = []
    full = [s for s, _ in due]
    if at_stake and (full or run.notices):
        run.stakes = at_stake(con, day)
    lines = list(run.stakes.lines) if run.stakes else []
    if not full:
        return full, lines
    with_score = bool(run.notices)
    for s, was in due:  # dated by the outlook's planning day: its month is the limit's
        con.execute("INSERT INTO alert_event (account, marketplace, rule, date, from_state, "
                    "to_state, value, note, recorded_at) VALUES ($account, 'all', $rule, $day, "
                    "$from_state, $to_state, $value, $note, $now)",
                    {"account": account, "rule": f"capacity/{s.storage_type}",
                     "day": s.day, "from_state": was, "to_state": s.status,
                     "value": _pct(s.share),
                     "note": "in the score alert" if with_score else "paged", "now": utcnow()})
    run.capacity = [f"{s.storage_type}: {s.status}" for s in full]
    if not with_score:
        msg = capacity_message(account, day, full, lines, url)
        key = f"{account}:{day}:capacity:" + ",".join(
            f"{s.storage_type}/{s.status}" for s in full)
        enqueue(con, notifier, key, account, day, "firing", msg.title, msg.text,
                "inventory", short=msg.short, html=msg.html, severity=msg.severity,
                event=msg.event)
    return full, lines


def _compose(con: duckdb.DuckDBPyConnection, notifier: Notifier, run: AlertRun,
             policy: Policy, top_skus: int, full: list[Outlook], lines: list[str],
             url: str | None) -> None:
    """The day's one inventory message, with what to fix and the recovery plan, queued."""
    account, day = run.account, run.day
    fixable = [n for n in run.notices if n.kind in ("firing", "repeat")
               and n.rule in (BELOW_THRESHOLD, CHECK_WINDOW, PROJECTED_CROSSING)]
    drivers = {n.marketplace: top_drivers(con, account, n.marketplace, day, top_skus, n.row)
               for n in fixable}
    # What brings the estimate back, where it is under the threshold now.
    plans = {n.marketplace: recovery(con, account, n.row, policy)
             for n in fixable if n.rule == BELOW_THRESHOLD and n.row.score is not None}
    msg = render(account, day, run.notices, drivers, plans, link=url, stakes=lines,
                 capacity=full, ask=state(con, account).ask(day))
    key = f"{account}:{day}:" + ",".join(
        f"{n.marketplace}/{n.rule}/{n.kind}" for n in run.notices)
    kind = "resolved" if all(n.kind == "resolved" for n in run.notices) else "firing"
    worst = min(run.notices, key=lambda n: n.row.score or 0.0).marketplace
    # Only an email carries the chart: drawing it costs a fleet's alerts more than the
    # rest of the message.
    emailed = any(t.shape == "email" for t in notifier.route(
        account, "inventory", resolved=kind == "resolved"))
    enqueue(con, notifier, key, account, day, kind, msg.title, msg.text, "inventory",
            short=msg.short, html=msg.html,
            chart=_chart(con, account, worst, day, policy) if emailed else None,
            severity=msg.severity, event=msg.event)


def _pct(share: float | None) -> float | None:
    return None if share is None else round(100 * share, 1)


def _capacity_due(con: duckdb.DuckDBPyConnection, account: str,
                  storage: Iterable[Outlook]) -> list[tuple[Outlook, str]]:
    """The storage types past their warning (or over their limit) that have not paged at
    that level in their month yet, each with the level it paged at before."""
    due = []
    for s in storage:
        level = _LEVELS.get(s.status)
        if level is None:
            continue
        first = s.day.replace(day=1)
        paged = [r[0] for r in con.execute(
            "SELECT to_state FROM alert_event WHERE account = $account AND marketplace = 'all' "
            "AND rule = $rule AND date >= $first AND date < $first + INTERVAL 1 MONTH",
            {"account": account, "rule": f"capacity/{s.storage_type}",
             "first": first}).fetchall()]
        was = max(paged, key=lambda p: _LEVELS.get(p, 0), default="normal")
        if level > _LEVELS.get(was, 0):
            due.append((s, was))
    return due


def _chart(con: duckdb.DuckDBPyConnection, account: str, mp: str, day: date,
           policy: Policy) -> bytes:
    """The last 90 days of the marketplace's estimate, with the threshold and next check."""
    history = [(d, float(s), float(lo), float(hi)) for d, s, lo, hi in con.execute(
        "SELECT date, score, score_low, score_high FROM daily_score WHERE account = $account "
        "AND marketplace = $marketplace AND date BETWEEN $day - 89 AND $day "
        "AND score IS NOT NULL ORDER BY date",
        {"account": account, "marketplace": mp, "day": day}).fetchall()]
    check = next_checkpoint(policy, day)
    from ipi.alerts.chart import score_chart  # matplotlib: only for an email's chart

    return score_chart(history, policy.threshold, [check] if check else [],
                       f"{account} {mp}: IPI estimate, last 90 days")


def check_freshness(store: Store, notifier: Notifier, account: str, today: date,
                    policy: Policy) -> date | None:
    """The dead man's switch: an ops alert when the newest estimate is older than
    ``max_data_age_days`` (once per stale stretch). Returns the newest day, if stale."""
    with store.write() as con:
        row = con.execute("SELECT max(date) FROM daily_score WHERE account = $account "
                          "AND score IS NOT NULL", {"account": account}).fetchone()
        newest = row[0] if row else None
        if newest is not None and (today - newest).days <= policy.max_data_age_days:
            return None
        if newest is None and not con.execute(
                "SELECT count(*) FROM report_partition WHERE account = $account",
                {"account": account}).fetchone()[0]:  # type: ignore[index]
            return None  # a new account: nothing was ever loaded, nothing went stale
        since = f"since {newest}" if newest else "ever"
        enqueue(con, notifier, f"{account}:stale:{newest}", account, today, "ops",
                f"[OPS] IPI {account}: no fresh estimate {since}",
                f"[OPS] {account}: the newest estimate is from {newest or 'no day'}, older "
                f"than {policy.max_data_age_days} days on {today}. The daily run did not "
                "happen or loaded nothing: check the scheduler, the drop folder or the SP-API "
                "credentials (`ipi check`), and the last run's log. Until then there is no "
                "data, which is never OK.", "ops")
        return newest


def report_gaps(store: Store, notifier: Notifier, account: str, day: date,
                policy: Policy) -> int:
    """One ops message per report that stopped arriving (per marketplace and report
    type, keyed by the day it last came: a gap sends one, however long it lasts).
    Returns how many gaps are open."""
    names = {rt: key for key, rt in REPORTS.items()}
    limits = policy.carry_days.model_dump()
    with store.read() as con:  # most days have none: a read, not a turn as the writer
        open_gaps = gaps(con, account, day, list(REPORTS.values()))
    if not open_gaps:
        return 0
    with store.write() as con:
        for g in open_gaps:
            key = names[g.report_type]
            spec = REGISTRY[g.report_type]
            title, body = gap_message(
                account, g.marketplace, g.report_type,
                spec.description.split(" (")[0], g.last, day,
                [LABELS[f] for f, k in FEEDS.items() if k == key], limits[key])
            enqueue(con, notifier, f"{account}:gap:{g.marketplace}:{g.report_type}:"
                    f"{g.last}", account, day, "ops", title, body, "ops")
    return len(open_gaps)


def alert_account(store: Store, notifier: Notifier, account: str, day: date, policy: Policy,
                  top_skus: int = 5, *, today: date | None = None,
                  backoff_minutes: float = 1.0, link: str | None = None,
                  at_stake: AtStake | None = None) -> AlertRun:
    """Evaluate the rules for ``day`` and the dead man's switch for ``today``, then deliver
    whatever is pending for the account."""
    run = evaluate(store, notifier, account, day, policy, top_skus, link=link,
                   at_stake=at_stake)
    report_gaps(store, notifier, account, day, policy)
    check_freshness(store, notifier, account, today or day, policy)
    run.deliveries = deliver_pending(store, notifier, account, backoff_minutes=backoff_minutes)
    return run


__all__ = ["AlertRun", "Notifier", "alert_account", "check_freshness", "deliver_pending",
           "evaluate", "silenced"]
