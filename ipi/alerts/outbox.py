"""The outbox: every notification is written before it is sent, and marked after.

A state change and its message, with one delivery row per target it routes to,
are committed together; delivery happens after. Each attempt is recorded before
the send and its result after; a failed target stays pending and is retried by
the next run (and by ``ipi alerts check``) once its backoff has passed, alone: a
target that got it is never sent it again. The key makes the same event produce
the same row, never two.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from ipi import safe
from ipi.alerts.deliver import Notifier
from ipi.errors import DeliveryError
from ipi.store import Store, rows, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    key: str
    title: str
    target: str  # the target's name, e.g. 'Slack #2'
    status: str  # sent | failed | dropped | no-targets
    error: str | None = None


def enqueue(con: duckdb.DuckDBPyConnection, notifier: Notifier, key: str, account: str, day: date,
            kind: str, title: str, body: str, tags: str, *, short: str | None = None,
            html: str | None = None, chart: bytes | None = None,
            severity: str | None = None, event: dict[str, Any] | None = None) -> bool:
    """Queue a message and its deliveries inside the caller's transaction.

    ``severity`` (critical, warning, resolved, info, ops; default from ``kind``) picks
    apprise's notify type; ``event`` holds the fields a JSON webhook gets. False if the
    key was queued already. With no target for it, the message is kept as 'no-targets'
    (and said loudly) rather than queued for targets added later.
    """
    # What reaches people carries no control character, whatever a SKU or file name held
    title, body = safe.text(title), safe.text(body)
    short, html = (safe.text(short) if short else short), (safe.text(html) if html else html)
    severity = severity or {"ops": "ops", "resolved": "resolved"}.get(kind, "critical")
    if event is None:  # an ops message: still routable by an incident tool
        event = {"dedup_key": f"ipi/{account}/ops/{key}", "state": "firing",
                 "severity": severity, "account": account, "date": day.isoformat()}
    targets = notifier.route(account, tags, resolved=kind == "resolved")
    cur = con.execute(
        "INSERT INTO alert_outbox (key, account, date, kind, title, body, tags, status, "
        "created_at, short, html, chart, severity, event) "
        "VALUES ($key, $account, $day, $kind, $title, $body, $tags, $status, $now, $short, "
        "$html, $chart, $severity, $event) ON CONFLICT DO NOTHING RETURNING key",
        {"key": key, "account": account, "day": day, "kind": kind, "title": title,
         "body": body, "tags": tags, "status": "pending" if targets else "no-targets",
         "now": utcnow(), "short": short, "html": html, "chart": chart, "severity": severity,
         "event": json.dumps(safe.event(event))},
    )
    if cur.fetchone() is None:
        return False
    if not targets:
        log.warning("alert %r not sent: no target takes %s alerts of %s (alerts.urls, "
                    "alerts.targets, alerts.apprise_config or IPI_APPRISE_URLS)",
                    title, tags, account)
    if targets:
        con.executemany("INSERT INTO alert_delivery (key, target, target_name, status) "
                        "VALUES ($key, $target, $name, 'pending')",
                        [{"key": key, "target": t.id, "name": t.name} for t in targets])
    return True


def deliver_pending(store: Store, notifier: Notifier, account: str | None = None, *,
                    backoff_minutes: float = 1.0, key: str | None = None) -> list[Delivery]:
    """Try every pending delivery that is due (oldest message first); record each attempt
    and its result. After a failure a delivery waits ``backoff_minutes``, doubling with
    each attempt, at most six hours."""
    due = ("(d.last_attempt_at IS NULL OR d.last_attempt_at + to_microseconds(CAST("
           "least($backoff * 60e6 * pow(2, d.attempts - 1), 6 * 3600e6) AS BIGINT)) <= $now)")
    pending = store.query(
        "SELECT d.key, d.target, d.target_name, m.title, m.body, m.kind, m.short, m.html, "
        "m.chart, m.severity, m.event FROM alert_delivery d "
        "JOIN alert_outbox m USING (key) WHERE d.status = 'pending' "
        "AND ($account IS NULL OR m.account = $account) AND ($key IS NULL OR m.key = $key) "
        f"AND {due} ORDER BY m.created_at, d.key, d.target",
        {"account": account, "key": key, "backoff": backoff_minutes, "now": utcnow()},
    )
    results = []
    for row in pending:
        key, tid = row["key"], row["target"]
        target = notifier.get(tid)
        if target is None:
            _mark(store, key, tid, "dropped", "the target is no longer configured")
            results.append(Delivery(key, row["title"], row["target_name"], "dropped"))
            continue
        with store.write() as con:
            con.execute(
                "UPDATE alert_delivery SET attempts = attempts + 1, last_attempt_at = $now "
                "WHERE key = $key AND target = $target",
                {"now": utcnow(), "key": key, "target": tid})
        try:
            # Rows queued before severities were stored: resolved, else a failure.
            severity = row["severity"] or ("resolved" if row["kind"] == "resolved"
                                           else "critical")
            notifier.send(target, row["title"], row["body"], severity=severity,
                          short=row["short"], html=row["html"], chart=row["chart"],
                          event=json.loads(row["event"]) if row["event"] else None)
        except DeliveryError as exc:
            with store.write() as con:
                con.execute(
                    "UPDATE alert_delivery SET last_error = $error "
                    "WHERE key = $key AND target = $target",
                    {"error": str(exc), "key": key, "target": tid})
            log.error("alert %r not delivered to %s (%s); it stays queued for the next run",
                      row["title"], target.name, exc)
            results.append(Delivery(key, row["title"], target.name, "failed", str(exc)))
            continue
        _mark(store, key, tid, "sent", None)
        results.append(Delivery(key, row["title"], target.name, "sent"))
    return results


def failing(con: duckdb.DuckDBPyConnection, target_id: str) -> int:
    """How many times the target's oldest waiting delivery has failed (0: none waits)."""
    return int(rows(con, 
        "SELECT coalesce(max(attempts), 0) AS n FROM alert_delivery "
        "WHERE target = $target_id AND status = 'pending'", {"target_id": target_id})[0]["n"])


def _mark(store: Store, key: str, target: str, status: str, error: str | None) -> None:
    with store.write() as con:
        con.execute(
            "UPDATE alert_delivery SET status = $status, last_error = $error, "
            "sent_at = CASE WHEN $status = 'sent' THEN $now END "
            "WHERE key = $key AND target = $target",
            {"status": status, "error": error, "now": utcnow(), "key": key, "target": target})
        con.execute(
            "UPDATE alert_outbox SET status = 'sent', sent_at = $now "
            "WHERE key = $key AND NOT EXISTS "
            "(SELECT 1 FROM alert_delivery WHERE key = $key AND status = 'pending')",
            {"now": utcnow(), "key": key})
