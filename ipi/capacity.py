"""FBA capacity limits: per account, storage type and month, in cubic feet.

No API gives them (Seller Central's Capacity Monitor shows them), so the seller types
them in (``ipi capacity set``); they are kept here, with their SQL. Every input is checked
before anything is written, and a refusal names the input and the fix.
"""

from __future__ import annotations

import difflib
import math
import re
from datetime import date
from typing import Any

from ipi.errors import ConfigError
from ipi.store import Store, duck, utcnow

STORAGE_TYPES = ("standard", "oversize", "apparel", "footwear")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def storage_type_of(text: str) -> str:
    """One of Amazon's storage types (any case), or a ConfigError suggesting the closest."""
    kind = text.strip().lower()
    if kind in STORAGE_TYPES:
        return kind
    close = difflib.get_close_matches(kind, STORAGE_TYPES, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(f"storage type {text!r} is not one Amazon limits: {hint}use one of "
                      f"{', '.join(STORAGE_TYPES)}")


def month_of(value: str | date) -> date:
    """``YYYY-MM`` (or a date) as the first of its month."""
    if isinstance(value, date):
        return value.replace(day=1)
    m = _MONTH.match(value.strip())
    if m is None or not 1 <= int(m[2]) <= 12:
        raise ConfigError(f"month {value!r} is not a month: use YYYY-MM, e.g. 2026-12")
    return date(int(m[1]), int(m[2]), 1)


def limit_of(value: float | str) -> float:
    """A limit in cubic feet: a finite number, 0 or more."""
    try:
        limit = float(value)
    except ValueError:
        limit = math.nan
    if not math.isfinite(limit) or limit < 0:
        raise ConfigError(f"limit {value!r} is not a capacity: give the cubic feet Seller "
                          "Central's Capacity Monitor shows, a number 0 or more")
    return limit


def set_limit(store: Store, account: str, storage_type: str, month: str | date,
              limit: float | str) -> dict[str, Any]:
    """Record (or replace) a month's limit for a storage type; the row as stored."""
    row = {"account": account, "storage_type": storage_type_of(storage_type),
           "month": month_of(month), "limit_cuft": limit_of(limit), "recorded_at": utcnow()}
    with store.begin() as conn:
        duck(conn).execute("INSERT OR REPLACE INTO capacity_limit VALUES (?, ?, ?, ?, ?)",
                           list(row.values()))
    return row


def limits(store: Store, account: str | None = None) -> list[dict[str, Any]]:
    """The limits recorded (every account's, or one's), by account, month, storage type."""
    return store.query(
        "SELECT account, storage_type, month, limit_cuft, recorded_at FROM capacity_limit "
        "WHERE ($account IS NULL OR account = $account) "
        "ORDER BY account, month, storage_type", {"account": account})
