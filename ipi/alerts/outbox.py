"""The outbox: every notification is written before it is sent, and marked after.

The state change and its message are committed together; delivery happens
after, with the attempt recorded before the send and the result after. A
failed send stays pending and is retried by the next run; the key makes the
same event produce the same row, so it is never queued twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from ipi.alerts.deliver import Notifier
from ipi.errors import ConfigError, DeliveryError
from ipi.store import Store, duck, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    key: str
    title: str
    status: str  # sent | failed | no-targets
    error: str | None = None


def enqueue(conn: sa.Connection, key: str, account: str, day: date, kind: str, title: str,
            body: str, tags: str) -> bool:
    """Queue a message inside the caller's transaction; False if the key was queued already."""
    cur = duck(conn).execute(
        "INSERT INTO alert_outbox (key, account, date, kind, title, body, tags, status, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT DO NOTHING "
        "RETURNING key",
        [key, account, day, kind, title, body, tags, utcnow()],
    )
    return cur.fetchone() is not None


def deliver_pending(store: Store, notifier: Notifier, account: str | None = None) -> list[Delivery]:
    """Try every pending message (oldest first); record each attempt and its result."""
    where = "status = 'pending'" + (" AND account = ?" if account else "")
    params = [account] if account else []
    pending = store.query(
        f"SELECT key, title, body, kind FROM alert_outbox WHERE {where} ORDER BY created_at, key",
        params,
    )
    results = []
    for msg in pending:
        if len(notifier) == 0:
            with store.begin() as conn:
                conn.exec_driver_sql(
                    "UPDATE alert_outbox SET status = 'no-targets', last_error = ? WHERE key = ?",
                    ("no alert targets configured", msg["key"]),
                )
            log.warning("alert %r not sent: no alert targets are configured (alerts.urls, "
                        "alerts.apprise_config or IPI_APPRISE_URLS)", msg["title"])
            results.append(Delivery(msg["key"], msg["title"], "no-targets"))
            continue
        with store.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE alert_outbox SET attempts = attempts + 1, last_attempt_at = ? "
                "WHERE key = ?", (utcnow(), msg["key"]))
        try:
            notifier.send(msg["title"], msg["body"], failure=msg["kind"] != "resolved")
        except (DeliveryError, ConfigError) as exc:
            with store.begin() as conn:
                conn.exec_driver_sql(
                    "UPDATE alert_outbox SET last_error = ? WHERE key = ?", (str(exc), msg["key"]))
            log.error("alert %r not delivered (%s); it stays queued for the next run",
                      msg["title"], exc)
            results.append(Delivery(msg["key"], msg["title"], "failed", str(exc)))
            continue
        with store.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE alert_outbox SET status = 'sent', sent_at = ?, last_error = NULL "
                "WHERE key = ?", (utcnow(), msg["key"]))
        results.append(Delivery(msg["key"], msg["title"], "sent"))
    return results
