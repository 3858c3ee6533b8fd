"""What people do to alerts, and what they read back: acknowledge, silence, expire a
silence, the history of state changes and messages. The SQL of the alert tables
that the CLI (and any page) needs lives here, not in the CLI.

- **Acknowledge** (PagerDuty, Alertmanager): a firing alert is not repeated until it
  resolves or gets materially worse than when it was acknowledged (``rules.worse``);
  then it pages again and the acknowledgement is spent.
- **Silence**: no page for an account (or one marketplace) through a date; states go
  on, and an alert still firing when the silence ends is paged then. A silence can be
  expired early; one that would end in the past is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

import duckdb

from ipi.alerts.rules import SEVERITY
from ipi.errors import NotFound, UsageError
from ipi.store import utcnow


def silenced(con: duckdb.DuckDBPyConnection, account: str, marketplace: str,
             day: date) -> str | None:
    """The reason of a silence covering this account and marketplace on ``day``, if any."""
    row = con.execute(
        "SELECT reason FROM alert_silence WHERE account = $account AND until >= $day "
        "AND expired_at IS NULL AND (marketplace IS NULL OR marketplace = $marketplace) "
        "ORDER BY until DESC LIMIT 1",
        {"account": account, "day": day, "marketplace": marketplace}).fetchone()
    return str(row[0]) if row else None


@dataclass(frozen=True)
class Acked:
    marketplace: str
    rule: str
    since: date | None  # firing since
    as_of: date  # the estimate the acknowledgement is measured against
    score: float | None


def acknowledge(con: duckdb.DuckDBPyConnection, account: str,
                marketplace: str | None = None) -> list[Acked]:
    """Acknowledge every alert of the account (or marketplace) firing now; the ones
    acknowledged (none: nothing was firing)."""
    firing = con.execute(
        "SELECT s.marketplace, s.rule, s.since, s.last_date, d.score FROM alert_state s "
        "LEFT JOIN daily_score d ON d.account = s.account "
        "AND d.marketplace = s.marketplace AND d.date = s.last_date "
        "WHERE s.account = $account AND s.state = 'firing' "
        "AND ($marketplace IS NULL OR s.marketplace = $marketplace) "
        "ORDER BY s.marketplace, s.rule",
        {"account": account, "marketplace": marketplace}).fetchall()
    done = [Acked(mp, rule, since, last, score) for mp, rule, since, last, score in firing]
    for a in done:
        con.execute("UPDATE alert_state SET acked = $as_of, updated_at = $now "
                    "WHERE account = $account AND marketplace = $marketplace AND rule = $rule",
                    {"as_of": a.as_of, "now": utcnow(), "account": account,
                     "marketplace": a.marketplace, "rule": a.rule})
        con.execute("INSERT INTO alert_event (account, marketplace, rule, date, from_state, "
                    "to_state, value, note, recorded_at) "
                    "VALUES ($account, $marketplace, $rule, $as_of, 'firing', 'firing', "
                    "$score, 'acknowledged: no repeats until it resolves or gets worse', "
                    "$now)",
                    {"account": account, "marketplace": a.marketplace, "rule": a.rule,
                     "as_of": a.as_of, "score": a.score, "now": utcnow()})
    return done


def add_silence(con: duckdb.DuckDBPyConnection, account: str, marketplace: str | None, until: date,
                reason: str, today: date) -> int:
    """Silence the account (or one marketplace) through ``until``; the silence's id."""
    if until < today:
        raise UsageError(f"a silence until {until} would already be over (today is {today}): "
                         "a silence must end today or later")
    row = con.execute(
        "INSERT INTO alert_silence (account, marketplace, until, reason, created_at) "
        "VALUES ($account, $marketplace, $until, $reason, $now) RETURNING id",
        {"account": account, "marketplace": marketplace, "until": until, "reason": reason,
         "now": utcnow()}).fetchone()
    assert row is not None
    return int(row[0])


@dataclass(frozen=True, slots=True)
class Silence:
    """An account's alerts (one marketplace's, or ``all``) muted through ``until``;
    ``status``: active, ended (past ``until``) or expired (ended early)."""

    id: int
    account: str
    marketplace: str
    until: date
    reason: str
    created_at: datetime
    expired_at: datetime | None
    status: str


def silences(con: duckdb.DuckDBPyConnection, account: str | None = None, *, today: date,
             ended: bool = False) -> list[Silence]:
    """Silences in force on ``today`` (with ``ended``: also those over or expired),
    newest first."""
    return [Silence(*r) for r in con.execute(
        "SELECT id, account, coalesce(marketplace, 'all') AS marketplace, until, reason, "
        "created_at, expired_at, CASE WHEN expired_at IS NOT NULL THEN 'expired' "
        "WHEN until < $today THEN 'ended' ELSE 'active' END AS status FROM alert_silence "
        "WHERE ($account IS NULL OR account = $account) "
        "AND ($ended OR (expired_at IS NULL AND until >= $today)) ORDER BY id DESC",
        {"account": account, "today": today, "ended": ended}).fetchall()]


def expire_silence(con: duckdb.DuckDBPyConnection, silence_id: int) -> Silence:
    """End a silence now; the silence, expired. An alert still firing is paged by the
    next run."""
    row = con.execute(
        "SELECT id, account, coalesce(marketplace, 'all'), until, reason, created_at, "
        "expired_at, 'expired' FROM alert_silence WHERE id = $silence_id",
        {"silence_id": silence_id}).fetchone()
    if row is None:
        raise NotFound(f"no silence with id {silence_id}: `ipi alerts silence list "
                       "--all` shows them")
    found = Silence(*row)
    if found.expired_at is not None:
        raise UsageError(f"silence {silence_id} was already expired at "
                       f"{found.expired_at:%Y-%m-%d %H:%M} UTC")
    now = utcnow()
    con.execute("UPDATE alert_silence SET expired_at = $now WHERE id = $silence_id",
                {"now": now, "silence_id": silence_id})
    return replace(found, expired_at=now)


@dataclass(frozen=True, slots=True)
class Event:
    """An alert's change of state (or its acknowledgement) on a day, at ``value``."""

    date: date
    account: str
    marketplace: str
    rule: str
    from_state: str
    to_state: str
    value: float | None
    note: str | None
    recorded_at: datetime


def events(con: duckdb.DuckDBPyConnection, account: str | None = None,
           limit: int | None = None) -> list[Event]:
    """Every alert state change (and acknowledgement), newest first."""
    return [Event(*r) for r in con.execute(
        "SELECT date, account, marketplace, rule, from_state, to_state, value, note, "
        "recorded_at FROM alert_event WHERE ($account IS NULL OR account = $account) "
        "ORDER BY recorded_at DESC, date DESC LIMIT $limit",
        {"account": account, "limit": limit}).fetchall()]


@dataclass(frozen=True, slots=True)
class Sent:
    """A message queued for a day, its status, and each target's delivery in words."""

    date: date
    account: str
    kind: str
    severity: str | None
    title: str
    status: str
    deliveries: str | None


def messages(con: duckdb.DuckDBPyConnection, account: str | None = None,
             limit: int | None = None) -> list[Sent]:
    """The messages queued, newest first, with each target's delivery."""
    return [Sent(*r) for r in con.execute(
        "SELECT m.date, m.account, m.kind, m.severity, m.title, m.status, "
        "string_agg(d.target_name || ': ' || d.status || CASE WHEN d.attempts > 1 THEN "
        "' after ' || d.attempts || ' attempts' ELSE '' END, '; ' ORDER BY d.target_name) "
        "AS deliveries FROM alert_outbox m LEFT JOIN alert_delivery d USING (key) "
        "WHERE ($account IS NULL OR m.account = $account) "
        "GROUP BY ALL ORDER BY max(m.created_at) DESC LIMIT $limit",
        {"account": account, "limit": limit}).fetchall()]


@dataclass(frozen=True, slots=True)
class Firing:
    """An alert firing now: since when, the day and value last evaluated, whether it is
    acknowledged or held for flapping, and its rule's severity."""

    account: str
    marketplace: str
    rule: str
    since: date | None
    last_date: date | None
    last_value: float | None
    acked: date | None
    flapping_since: date | None
    severity: str


def firing(con: duckdb.DuckDBPyConnection, account: str | None = None) -> list[Firing]:
    """The alert states firing now, per account, marketplace and rule. A warning
    inhibited by the critical alert still fires here (its state goes on)."""
    found = con.execute(
        "SELECT account, marketplace, rule, since, last_date, last_value, acked, "
        "flapping_since FROM alert_state WHERE state = 'firing' "
        "AND ($account IS NULL OR account = $account) ORDER BY account, marketplace, rule",
        {"account": account}).fetchall()
    return [Firing(acc, mp, rule, since, last, value, acked, flapping,
                   SEVERITY.get(rule, "warning"))
            for acc, mp, rule, since, last, value, acked, flapping in found]
