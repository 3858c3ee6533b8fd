"""Alerts: rules over the day's scores, state in DuckDB, an outbox, apprise delivery.

Only the latest day of an account can page: evaluating a past day (a rerun or
a backfill) changes no state and queues nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

from ipi.alerts.deliver import Notifier
from ipi.alerts.message import render, unreliable_message
from ipi.alerts.outbox import Delivery, deliver_pending, enqueue
from ipi.alerts.rules import Transition, below_threshold
from ipi.score.drivers import top_drivers
from ipi.store import Store, duck, utcnow

log = logging.getLogger(__name__)


@dataclass
class AlertRun:
    account: str
    day: date
    evaluated: bool  # False when the day is not the account's latest
    transitions: list[Transition] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)


def evaluate(store: Store, account: str, day: date, threshold: float,
             top_skus: int = 5) -> AlertRun:
    """Apply the rules to ``day``'s scores; commit state changes with their message."""
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
        rows = {r[1]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
        states = dict(con.execute(
            "SELECT marketplace, state FROM alert_state WHERE account = ? AND rule = ?",
            [account, "below_threshold"]).fetchall())
        transitions = []
        for mp, row in rows.items():
            t = below_threshold(states.get(mp, "normal"), row, threshold)
            if t is None:
                continue
            transitions.append(t)
            con.execute(
                "INSERT OR REPLACE INTO alert_state VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [account, mp, t.rule, t.state, day, day, t.score, utcnow()],
            )
        for mp, row in rows.items():
            if row["status"] == "unreliable":
                enqueue(conn, f"{account}:{day}:{mp}:ops/unreliable", account, day, "ops",
                        f"IPI {account} {mp}: the estimate for {day} is unreliable",
                        unreliable_message(account, mp, day, row), "ops")
        if transitions:
            drivers = {t.marketplace: top_drivers(con, account, t.marketplace, day, top_skus,
                                                  rows[t.marketplace])
                       for t in transitions if t.kind == "firing"}
            title, body = render(account, transitions, rows, drivers)
            key = f"{account}:{day}:" + ",".join(
                f"{t.marketplace}/{t.rule}/{t.kind}" for t in transitions)
            kind = "firing" if any(t.kind == "firing" for t in transitions) else "resolved"
            enqueue(conn, key, account, day, kind, title, body, "inventory")
    return AlertRun(account, day, evaluated=True, transitions=transitions)


def alert_account(store: Store, notifier: Notifier, account: str, day: date, threshold: float,
                  top_skus: int = 5) -> AlertRun:
    """Evaluate the rules for ``day``, then deliver whatever is pending for the account."""
    run = evaluate(store, account, day, threshold, top_skus)
    run.deliveries = deliver_pending(store, notifier, account)
    return run


__all__ = ["AlertRun", "Notifier", "alert_account", "deliver_pending", "evaluate"]
