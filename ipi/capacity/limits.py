"""The capacity limits recorded (``ipi capacity set``), with their SQL: per account,
storage type and month, in cubic feet. Every input is checked before anything is written."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb

from ipi.capacity import limit_of, month_of, storage_type_of
from ipi.store import rows, utcnow


def set_limit(con: duckdb.DuckDBPyConnection, account: str, storage_type: str, month: str | date,
              limit: float | str) -> dict[str, Any]:
    """Record (or replace) a month's limit for a storage type; the row as stored."""
    row = {"account": account, "storage_type": storage_type_of(storage_type),
           "month": month_of(month), "limit_cuft": limit_of(limit), "recorded_at": utcnow()}
    con.execute("INSERT OR REPLACE INTO capacity_limit (account, storage_type, month, "
                "limit_cuft, recorded_at) VALUES ($account, $storage_type, $month, "
                "$limit_cuft, $recorded_at)", row)
    return row


def limits(con: duckdb.DuckDBPyConnection, account: str | None = None) -> list[dict[str, Any]]:
    """The limits recorded (every account's, or one's), by account, month, storage type."""
    return rows(con, 
        "SELECT account, storage_type, month, limit_cuft, recorded_at FROM capacity_limit "
        "WHERE ($account IS NULL OR account = $account) "
        "ORDER BY account, month, storage_type", {"account": account})


def month_limits(con: duckdb.DuckDBPyConnection, account: str, day: date) -> dict[str, float]:
    """The limits recorded for the month of ``day``: storage type -> cubic feet."""
    return dict(con.execute(
        "SELECT storage_type, limit_cuft FROM capacity_limit "
        "WHERE account = $account AND month = $month",
        {"account": account, "month": month_of(day)}).fetchall())
