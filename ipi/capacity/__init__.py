"""FBA capacity: the monthly limits per storage type Amazon sets (in part from the IPI),
and how much of them the seller's stock uses.

No API gives the limits (Seller Central's Capacity Monitor shows them), so the seller types
them in (``ipi capacity set``, kept by ``ipi.capacity.limits``) or writes standing ones in
the configuration. ``ipi.capacity.usage`` computes each day's use per storage type from the
planning and MYI reports and projects it to the month's end. This module holds the checks
both share: a refusal names the input and the fix.
"""

from __future__ import annotations

import difflib
import math
import re
from datetime import date

from ipi.errors import ConfigError

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
