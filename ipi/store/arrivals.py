"""What arrived: the reports loaded per account, marketplace and day, read from the
partitions the loads keep (``report_partition``: one row per report type and day, the
file whose rows are loaded now) and the files they came from (``ingested_file``).

A day without a partition for a report type is a report that did not arrive (or was
forgotten): the dashboard shows the gaps, and how old the newest data is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb


@dataclass(frozen=True, slots=True)
class Arrival:
    """One report type loaded for a marketplace and day."""

    marketplace: str
    date: date
    report_type: str
    rows: int
    loaded_at: datetime
    unreliable: str | None  # why the report cannot be trusted, if so
    original_name: str | None  # the file's name as it came


@dataclass(frozen=True, slots=True)
class Freshness:
    """How fresh an account's data is in one marketplace."""

    account: str
    marketplace: str
    latest_data: date  # the newest day with any report loaded
    last_loaded_at: datetime


@dataclass(frozen=True, slots=True)
class Gap:
    """A report type that stopped arriving: the newest day it came."""

    marketplace: str
    report_type: str
    last: date


def arrivals(con: duckdb.DuckDBPyConnection, account: str, *, marketplace: str | None = None,
             start: date | None = None, end: date | None = None) -> list[Arrival]:
    """One row per marketplace, day and report type loaded, newest day first: its rows,
    when it was loaded, why it is unreliable (if so) and the file's name as it came."""
    # A file without a date in it (a header-only stranded report) is byte-identical on
    # many days: its name is the one ingested for the day nearest the partition's.
    return [Arrival(*r) for r in con.execute(
        "SELECT p.marketplace, p.snapshot_date AS date, p.report_type, p.rows, p.loaded_at,"
        " p.unreliable, arg_min(f.original_name,"
        "   abs(datediff('day', f.default_date, p.snapshot_date))) AS original_name"
        " FROM report_partition p LEFT JOIN ingested_file f"
        "   ON f.account = p.account AND f.sha256 = p.sha256"
        " WHERE p.account = $account"
        " AND ($marketplace IS NULL OR p.marketplace = $marketplace)"
        " AND ($start IS NULL OR p.snapshot_date >= $start)"
        " AND ($end IS NULL OR p.snapshot_date <= $end)"
        " GROUP BY ALL ORDER BY p.marketplace, p.snapshot_date DESC, p.report_type",
        {"account": account, "marketplace": marketplace, "start": start, "end": end}
        ).fetchall()]


def newest(con: duckdb.DuckDBPyConnection, account: str | None = None) -> list[Freshness]:
    """Per account and marketplace, the newest day with any report loaded and when the
    last load happened: how fresh the data is."""
    return [Freshness(*r) for r in con.execute(
        "SELECT account, marketplace, max(snapshot_date) AS latest_data,"
        " max(loaded_at) AS last_loaded_at FROM report_partition"
        " WHERE $account IS NULL OR account = $account"
        " GROUP BY account, marketplace ORDER BY account, marketplace",
        {"account": account}).fetchall()]


def silent(con: duckdb.DuckDBPyConnection, account: str, marketplaces: Sequence[str],
           day: date) -> list[tuple[str, date | None]]:
    """The marketplaces of ``marketplaces`` with no report for ``day``, each with the
    newest day one came (None: never)."""
    cur = con.execute(
        "SELECT marketplace, max(snapshot_date) FILTER (WHERE snapshot_date <= $day),"
        " bool_or(snapshot_date = $day) FROM report_partition WHERE account = $account"
        " GROUP BY ALL", {"account": account, "day": day})
    seen = {mp: (last, today) for mp, last, today in cur.fetchall()}
    return [(mp, seen.get(mp, (None, False))[0]) for mp in marketplaces
            if not seen.get(mp, (None, False))[1]]


def gaps(con: duckdb.DuckDBPyConnection, account: str, day: date,
         report_types: Sequence[str], lookback: int = 30) -> list[Gap]:
    """Per marketplace with a report on ``day``, each of ``report_types`` that arrived in
    the ``lookback`` days before but not on it: the newest day it did arrive (a report
    never seen is no gap: the seller may not use it)."""
    cur = con.execute(
        "SELECT marketplace, report_type, max(snapshot_date) AS last FROM report_partition"
        " WHERE account = $account AND snapshot_date BETWEEN $first AND $day"
        " AND list_contains($types, report_type)"
        # Only a marketplace with some report today: with none, the account's whole day
        # is missing, which the dead man's switch tells (alerts.engine.check_freshness).
        " AND marketplace IN (SELECT marketplace FROM report_partition"
        "   WHERE account = $account AND snapshot_date = $day)"
        " GROUP BY ALL HAVING max(snapshot_date) < $day ORDER BY marketplace, report_type",
        {"account": account, "first": day - timedelta(days=lookback), "day": day,
         "types": list(report_types)})
    return [Gap(*r) for r in cur.fetchall()]
