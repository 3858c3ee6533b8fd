"""Amazon's 2020 rule: the score takes whichever of recent and long-term performance
scores higher (Seller Forums, "IPI score calculation change", 20 Jan 2020; still so in
2026). Amazon names neither window. Here **recent** is the day's factors, each over the
window Amazon defines it on (sell-through 90 days, in-stock 30 days, excess and
stranded today), and **long-term** is each factor's mean over the ``DAYS`` days ending
that day: the three months Amazon says the score combines.

A long-term reading needs every factor the day has measured over at least ``MIN_DAYS``
days (its oldest value in the window that far back; daily or weekly reports alike), so
a new account or a short backfill is scored on its recent factors alone. Only measured
values count: a factor carried over a missing report is the same reading again.

Pure: rows in, rows out.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from ipi.score.carry import VALUE, carried_of

DAYS = 90
MIN_DAYS = 30
RECENT, LONG_TERM = "recent", "long-term"


def as_json(values: Mapping[str, float]) -> str | None:
    return json.dumps(dict(sorted(values.items()))) if values else None


def of(raw: str | None) -> dict[str, float]:
    """A stored row's long-term factor values from its ``long_term`` column ({} when it
    had none)."""
    return {f: float(v) for f, v in json.loads(raw).items()} if raw else {}


def long_term(rows: list[dict[str, Any]], before: Iterable[Mapping[str, Any]],
              days: int = DAYS, min_days: int = MIN_DAYS) -> None:
    """Give each row ``long_term``: {factor: its mean over the ``days`` days ending on the
    row's day}, for every factor the row has, or {} when the measured values of one of
    them span fewer than ``min_days`` days. ``before``: stored rows of the days before,
    oldest first; ``rows`` get ``carried`` first (ipi.score.carry). In place."""
    seen: dict[tuple[str, str], deque[tuple[date, float]]] = {}

    def add(r: Mapping[str, Any], carried: Mapping[str, Any]) -> None:
        for f, col in VALUE.items():
            if r.get(col) is not None and f not in carried:
                key = (r["marketplace"], f)
                seen.setdefault(key, deque()).append((r["date"], float(r[col])))

    def mean(key: tuple[str, str], day: date) -> float | None:
        got = seen.get(key)
        while got and (day - got[0][0]).days >= days:
            got.popleft()
        # fsum, not a running sum: the same day reads the same whichever range is scored
        return round(math.fsum(v for _, v in got) / len(got), 4) \
            if got and (day - got[0][0]).days >= min_days - 1 else None

    for r in before:
        add(r, carried_of(r.get("carried")))
    for r in sorted(rows, key=lambda x: (x["date"], x["marketplace"])):
        add(r, r.get("carried") or {})
        present = [f for f, col in VALUE.items() if r.get(col) is not None]
        means = {f: mean((r["marketplace"], f), r["date"]) for f in present}
        r["long_term"] = {f: v for f, v in means.items() if v is not None} \
            if present and all(v is not None for v in means.values()) else {}
