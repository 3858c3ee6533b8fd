"""The capacity limits recorded (``ipi capacity set``), with their SQL: per account,
storage type and month, in cubic feet. Every input is checked before anything is written."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime

import duckdb

from ipi.capacity import limit_of, month_of, storage_type_of
from ipi.store import utcnow


@dataclass(frozen=True)
class Limit:
    """A month's capacity limit for a storage type, as recorded."""

    account: str
    storage_type: str
    month: date  # its first day
    limit_cuft: float
    recorded_at: datetime


def set_limit(con: duckdb.DuckDBPyConnection, account: str, storage_type: str, month: str | date,
              limit: float | str) -> Limit:
    """Record (or replace) a month's limit for a storage type; the row as stored."""
    row = Limit(account, storage_type_of(storage_type), month_of(month), limit_of(limit),
                utcnow())
    con.execute("INSERT OR REPLACE INTO capacity_limit (account, storage_type, month, "
                "limit_cuft, recorded_at) VALUES ($account, $storage_type, $month, "
                "$limit_cuft, $recorded_at)", asdict(row))
    return row


def limits(con: duckdb.DuckDBPyConnection, account: str | None = None) -> list[Limit]:
    """The limits recorded (every account's, or one's), by account, month, storage type."""
    return [Limit(*r) for r in con.execute(
        "SELECT account, storage_type, month, limit_cuft, recorded_at FROM capacity_limit "
        "WHERE ($account IS NULL OR account = $account) "
        "ORDER BY account, month, storage_type", {"account": account}).fetchall()]


def month_limits(con: duckdb.DuckDBPyConnection, account: str, day: date) -> dict[str, float]:
    """The limits recorded for the month of ``day``: storage type -> cubic feet."""
    return dict(con.execute(
        "SELECT storage_type, limit_cuft FROM capacity_limit "
        "WHERE account = $account AND month = $month",
        {"account": account, "month": month_of(day)}).fetchall())
