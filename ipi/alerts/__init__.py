"""Alerts: rules over the day's scores, state in DuckDB, an outbox, apprise delivery.

Only the latest day of an account can page: evaluating a past day (a rerun or a
backfill) changes no state and queues nothing. Silences mute notifications but
the state goes on; one message per account per run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import duckdb

from ipi.alerts.calendar import days_to_check, next_checkpoint
from ipi.alerts.deliver import Notifier
from ipi.alerts.message import Notice, render, unreliable_message
from ipi.alerts.outbox import Delivery, deliver_pending, enqueue
from ipi.alerts.rules import (
    BELOW_THRESHOLD,
    CHECK_WINDOW,
    EXCESS_JUMP,
    PROJECTED_CROSSING,
    SEVERITY,
    STRANDED_JUMP,
    State,
    Step,
    below_threshold,
    check_window,
    factor_jump,
    projected_crossing,
)
from ipi.score.drivers import top_drivers
from ipi.settings import Policy
from ipi.store import Store, duck, utcnow

log = logging.getLogger(__name__)


@dataclass
class AlertRun:
    account: str
    day: date
    evaluated: bool  # False when the day is not the account's latest
    notices: list[Notice] = field(default_factory=list)
    silenced: list[Notice] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)


def silenced(con: duckdb.DuckDBPyConnection, account: str, marketplace: str,
             day: date) -> str | None:
    """The reason of a silence covering this account and marketplace on ``day``, if any."""
    row = con.execute(
        "SELECT reason FROM alert_silence WHERE account = ? AND until >= ? "
        "AND (marketplace IS NULL OR marketplace = ?) ORDER BY until DESC LIMIT 1",
        [account, day, marketplace]).fetchone()
    return str(row[0]) if row else None


def _state(con: duckdb.DuckDBPyConnection, account: str, mp: str, rule: str) -> State:
    row = con.execute(
        "SELECT state, since, count, last_notified, last_date FROM alert_state "
        "WHERE account = ? AND marketplace = ? AND rule = ?", [account, mp, rule]).fetchone()
    return State(row[0], row[1], row[2] or 0, row[3], row[4]) if row else State()


def _projection(con: duckdb.DuckDBPyConnection, account: str, mp: str, day: date,
                policy: Policy) -> tuple[float, float, date] | None:
    """(projected estimate at the next check, slope per day, check date) from the trend of
    the last ``projection_days`` days, when there are at least 7 of them."""
    check = next_checkpoint(policy, day)
    row = con.execute(
        "SELECT regr_slope(score, date_diff('day', DATE '2000-01-01', date)), count(*), "
        "arg_max(score, date) FROM daily_score WHERE account = ? AND marketplace = ? "
        "AND date BETWEEN ? AND ? AND score IS NOT NULL AND status <> 'unreliable'",
        [account, mp, day - timedelta(days=policy.projection_days - 1), day]).fetchone()
    if check is None or row is None or row[0] is None or row[1] < 7:
        return None
    slope, score = float(row[0]), float(row[2])
    return score + slope * (check - day).days, slope, check


def _previous(con: duckdb.DuckDBPyConnection, account: str, mp: str, report_type: str,
              day: date) -> date | None:
    row = con.execute(
        "SELECT max(snapshot_date) FROM report_partition WHERE account = ? AND marketplace = ? "
        "AND report_type = ? AND snapshot_date < ?", [account, mp, report_type, day]).fetchone()
    return row[0] if row else None


def _newly_stranded(con: duckdb.DuckDBPyConnection, account: str, mp: str,
                    day: date) -> list[tuple[str, float]] | None:
    """SKUs stranded today that were not in the previous stranded report (None: no
    previous report to compare with)."""
    prev = _previous(con, account, mp, "GET_STRANDED_INVENTORY_UI_DATA", day)
    if prev is None:
        return None
    return [(str(sku), float(units)) for sku, units in con.execute(
        "SELECT sku, sum(coalesce(fulfillable_qty, 0) + coalesce(unfulfillable_qty, 0) "
        "+ coalesce(reserved_quantity, 0)) AS units FROM stranded_inventory "
        "WHERE account = $a AND marketplace = $m AND snapshot_date = $d AND sku NOT IN ("
        "  SELECT sku FROM stranded_inventory WHERE account = $a AND marketplace = $m "
        "  AND snapshot_date = $p) GROUP BY sku HAVING units > 0 ORDER BY units DESC, sku",
        {"a": account, "m": mp, "d": day, "p": prev}).fetchall()]


def _excess_rise(con: duckdb.DuckDBPyConnection, account: str, mp: str,
                 day: date) -> tuple[float, float, list[tuple[str, float]]] | None:
    """(excess units before, now, the SKUs that rose most) against the previous planning
    report (None: no previous report)."""
    prev = _previous(con, account, mp, "GET_FBA_INVENTORY_PLANNING_DATA", day)
    if prev is None:
        return None
    rows = con.execute(
        "SELECT sku, coalesce(n.e, 0) AS now, coalesce(o.e, 0) AS before FROM "
        "(SELECT sku, estimated_excess_quantity AS e FROM fba_inventory_planning "
        " WHERE account = $a AND marketplace = $m AND snapshot_date = $d) n "
        "FULL JOIN (SELECT sku, estimated_excess_quantity AS e FROM fba_inventory_planning "
        " WHERE account = $a AND marketplace = $m AND snapshot_date = $p) o USING (sku)",
        {"a": account, "m": mp, "d": day, "p": prev}).fetchall()
    before = sum(float(r[2]) for r in rows)
    now = sum(float(r[1]) for r in rows)
    rises = sorted(((str(r[0]), float(r[1]) - float(r[2])) for r in rows
                    if float(r[1]) > float(r[2])), key=lambda t: (-t[1], t[0]))
    return before, now, rises


def _names(items: list[tuple[str, float]], n: int = 5) -> str:
    shown = ", ".join(f"{sku} ({units:+,.0f})" for sku, units in items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")


def _rules(con: duckdb.DuckDBPyConnection, account: str, mp: str, day: date,
           row: dict[str, Any], policy: Policy) -> list[tuple[str, State, Step, str]]:
    """Every rule's step for one marketplace: (rule, previous state, step, detail)."""
    out = []
    prev = _state(con, account, mp, BELOW_THRESHOLD)
    check = next_checkpoint(policy, day)
    detail = f"next Amazon check {check} ({(check - day).days} days)" if check else ""
    out.append((BELOW_THRESHOLD, prev, below_threshold(prev, row, policy, day), detail))

    window = days_to_check(policy, day)
    prev = _state(con, account, mp, CHECK_WINDOW)
    detail = (f"{window[1]} day(s) before Amazon's check on {window[0]}: under "
              f"{policy.threshold:.0f} then means storage limits and overage fees"
              if window else "")
    out.append((CHECK_WINDOW, prev, check_window(prev, row, policy, day, window), detail))

    proj = _projection(con, account, mp, day, policy)
    prev = _state(con, account, mp, PROJECTED_CROSSING)
    detail = (f"at {proj[1]:+.1f} points a day over {policy.projection_days} days it reaches "
              f"{proj[0]:.0f} by the check on {proj[2]}" if proj else "")
    out.append((PROJECTED_CROSSING, prev,
                projected_crossing(prev, row, policy, day, proj[0] if proj else None), detail))

    new = _newly_stranded(con, account, mp, day)
    prev = _state(con, account, mp, STRANDED_JUMP)
    units = sum(u for _, u in new or [])
    active = None if new is None else units >= policy.stranded_jump_units
    detail = f"{len(new or [])} SKU(s) newly stranded, {units:,.0f} units: {_names(new or [])}"
    out.append((STRANDED_JUMP, prev, factor_jump(prev, active, policy, day), detail))

    rise = _excess_rise(con, account, mp, day)
    prev = _state(con, account, mp, EXCESS_JUMP)
    active, detail = None, ""
    if rise is not None:
        before, now, skus = rise
        active = now - before >= max(policy.excess_jump_units,
                                     policy.excess_jump_pct / 100 * before)
        detail = f"excess units rose from {before:,.0f} to {now:,.0f}; most: {_names(skus)}"
    out.append((EXCESS_JUMP, prev, factor_jump(prev, active, policy, day), detail))
    return out


def evaluate(store: Store, notifier: Notifier, account: str, day: date, policy: Policy,
             top_skus: int = 5) -> AlertRun:
    """Apply the rules to ``day``'s scores; commit state changes with their messages."""
    with store.begin() as conn:
        con = duck(conn)
        latest = con.execute("SELECT max(date) FROM daily_score WHERE account = ?",
                             [account]).fetchone()
        if latest is None or latest[0] is None or day < latest[0]:
            log.info("alerts for %s: %s is not the latest scored day (%s); nothing to page",
                     account, day, latest[0] if latest else None)
            return AlertRun(account, day, evaluated=False)
        cur = con.execute("SELECT * FROM daily_score WHERE account = ? AND date = ? "
                          "ORDER BY marketplace", [account, day])
        names = [d[0] for d in cur.description or ()]
        rows: dict[str, dict[str, Any]] = {
            r[1]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
        run = AlertRun(account, day, evaluated=True)
        for mp, row in rows.items():
            steps = _rules(con, account, mp, day, row, policy)
            critical = steps[0][2].state.state == "firing"
            for rule, prev, step, detail in steps:
                new = step.state
                muted = silenced(con, account, mp, day) if step.notify else None
                if step.notify and not muted and critical and SEVERITY[rule] == "warning":
                    muted = "inhibited by the critical alert"
                if muted:  # the state goes on; the notice is not counted as sent
                    new = State(new.state, new.since, new.count, prev.last_notified,
                                new.last_day)
                con.execute(
                    "INSERT OR REPLACE INTO alert_state (account, marketplace, rule, state, "
                    "since, last_date, last_value, updated_at, count, last_notified) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [account, mp, rule, new.state, new.since, day, row.get("score"),
                     utcnow(), new.count, new.last_notified])
                if step.changed:
                    con.execute("INSERT INTO alert_event VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                [account, mp, rule, day, prev.state, new.state,
                                 row.get("score"), f"muted: {muted}" if muted else None,
                                 utcnow()])
                if step.notify:
                    notice = Notice(mp, step.notify, row, policy.threshold, new.since, rule,
                                    detail)
                    (run.silenced if muted else run.notices).append(notice)
            if row["status"] == "unreliable" and not silenced(con, account, mp, day):
                enqueue(conn, notifier, f"{account}:{day}:{mp}:ops/unreliable", account, day,
                        "ops", f"IPI {account} {mp}: the estimate for {day} is unreliable",
                        unreliable_message(account, mp, day, row), "ops")
        if run.notices:
            drivers = {n.marketplace: top_drivers(con, account, n.marketplace, day, top_skus,
                                                  n.row)
                       for n in run.notices if n.kind != "resolved" and n.rule in (
                           BELOW_THRESHOLD, CHECK_WINDOW, PROJECTED_CROSSING)}
            title, body = render(account, day, run.notices, drivers)
            key = f"{account}:{day}:" + ",".join(
                f"{n.marketplace}/{n.rule}/{n.kind}" for n in run.notices)
            kind = "resolved" if all(n.kind == "resolved" for n in run.notices) else "firing"
            enqueue(conn, notifier, key, account, day, kind, title, body, "inventory")
    return run


def check_freshness(store: Store, notifier: Notifier, account: str, today: date,
                    policy: Policy) -> date | None:
    """The dead man's switch: an ops alert when the newest estimate is older than
    ``max_data_age_days`` (once per stale stretch). Returns the newest day, if stale."""
    with store.begin() as conn:
        con = duck(conn)
        row = con.execute("SELECT max(date) FROM daily_score WHERE account = ? "
                          "AND score IS NOT NULL", [account]).fetchone()
        newest = row[0] if row else None
        if newest is not None and (today - newest).days <= policy.max_data_age_days:
            return None
        if newest is None and not con.execute(
                "SELECT count(*) FROM report_partition WHERE account = ?",
                [account]).fetchone()[0]:  # type: ignore[index]
            return None  # a new account: nothing was ever loaded, nothing went stale
        since = f"since {newest}" if newest else "ever"
        enqueue(conn, notifier, f"{account}:stale:{newest}", account, today, "ops",
                f"IPI {account}: no fresh estimate {since}",
                f"[OPS] {account}: the newest estimate is from {newest or 'no day'}, older "
                f"than {policy.max_data_age_days} days on {today}. The daily run did not "
                "happen or loaded nothing: check the scheduler, the drop folder or the SP-API "
                "credentials (`ipi check`), and the last run's log. Until then there is no "
                "data, which is never OK.", "ops")
        return newest


def alert_account(store: Store, notifier: Notifier, account: str, day: date, policy: Policy,
                  top_skus: int = 5, *, today: date | None = None) -> AlertRun:
    """Evaluate the rules for ``day`` and the dead man's switch for ``today``, then deliver
    whatever is pending for the account."""
    run = evaluate(store, notifier, account, day, policy, top_skus)
    check_freshness(store, notifier, account, today or day, policy)
    run.deliveries = deliver_pending(store, notifier, account)
    return run


__all__ = ["AlertRun", "Notifier", "alert_account", "check_freshness", "deliver_pending",
           "evaluate", "silenced"]
