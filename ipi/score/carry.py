"""Carried factors: a day without one of its reports takes the factors that report feeds
from the report's newest day, up to a limit per report type (``[policy] carry_days``).
Past the limit the factor is unknown and the estimate partial; a missing report never
reads as zero, and never moves the headline on its own.

Only a measured value is carried, never a carried one, so a gap cannot stretch a value
past its limit. Pure: rows in, rows out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from ipi.reports import get_fba_inventory_planning_data as planning
from ipi.reports import get_fba_myi_unsuppressed_inventory_data as myi
from ipi.reports import get_stranded_inventory_ui_data as stranded

# The report that feeds each factor, by the name [policy] carry_days gives it.
FEEDS = {"excess": "planning", "sell_through": "planning", "stranded": "stranded",
         "in_stock": "myi"}
REPORTS = {"planning": planning.REPORT_TYPE, "myi": myi.REPORT_TYPE,
           "stranded": stranded.REPORT_TYPE}
VALUE = {"excess": "excess_pct", "sell_through": "sell_through",
         "stranded": "stranded_pct", "in_stock": "in_stock_rate"}
# Everything a factor's value comes with in daily_score.
COLUMNS = {
    "excess": ("excess_units", "excess_pct"),
    "sell_through": ("units_shipped_t90", "avg_units_on_hand", "sell_through",
                     "sell_through_approx"),
    "stranded": ("stranded_units", "stranded_pct"),
    "in_stock": ("in_stock_rate", "in_stock_days", "in_stock_approx"),
}
READ = sorted({c for cols in COLUMNS.values() for c in cols})


def carried_of(raw: str | None) -> dict[str, date]:
    """A stored row's carried factors ({factor: the day it was measured}) from its
    ``carried`` column."""
    return {f: date.fromisoformat(d) for f, d in json.loads(raw).items()} if raw else {}


def as_json(carried: Mapping[str, date]) -> str | None:
    return json.dumps({f: d.isoformat() for f, d in sorted(carried.items())}) \
        if carried else None


def carry(rows: list[dict[str, Any]], before: Iterable[Mapping[str, Any]],
          limits: Mapping[str, int]) -> None:
    """Fill each row's missing factors from the newest measured day within its report
    type's limit (``before``: stored rows of the days before, oldest first), in place;
    each row gets ``carried``: {factor: the day it was measured}."""
    last: dict[tuple[str, str], tuple[date, dict[str, Any]]] = {}

    def measured(r: Mapping[str, Any], skip: Mapping[str, date]) -> None:
        for f, value in VALUE.items():
            if r.get(value) is not None and f not in skip:
                last[(r["marketplace"], f)] = (r["date"], {c: r.get(c) for c in COLUMNS[f]})

    for r in before:
        measured(r, carried_of(r.get("carried")))
    for r in sorted(rows, key=lambda x: (x["date"], x["marketplace"])):
        carried: dict[str, date] = {}
        for f, value in VALUE.items():
            got = last.get((r["marketplace"], f))
            if r.get(value) is None and got is not None \
                    and (r["date"] - got[0]).days <= limits[FEEDS[f]]:
                r.update(got[1])
                carried[f] = got[0]
        measured(r, carried)
        r["carried"] = carried
