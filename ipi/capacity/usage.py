"""Capacity use per storage type and day, and where it is heading by the month's end.

Amazon counts on-hand plus inbound volume against each storage type's limit. From the
planning report, per SKU and day:

- on hand: ``storage-volume`` (Amazon's own figure), else ``item-volume`` x the units on
  hand (available, reserved, unfulfillable);
- inbound: ``item-volume`` (else ``storage-volume`` per unit on hand) x the inbound units
  (``inbound-working`` + ``-shipped`` + ``-received`` where the report has them, else
  ``inbound-quantity``, else the MYI report's inbound working, shipped and receiving);
- volumes in ``volume-unit-measurement`` (cubic feet or cubic meters; none written: cubic
  feet, as the US reports give them).

A SKU whose volume cannot be known is left out and counted (``skus_unknown``); a storage
type where no SKU's volume is known has no use (None), never 0. An account's
marketplaces add up: configure one ipi account per region whose limits differ.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

from ipi.capacity import STORAGE_TYPES
from ipi.capacity.limits import month_limits
from ipi.score.projection import Point, Projection, project
from ipi.settings import Policy

STEP = 0.1  # a move of a tenth of the use in a day is a step (the seller acted), not a trend
# Cubic feet per unit of volume-unit-measurement (lower case, trimmed).
_TO_CUFT = {"cubic feet": 1.0, "cubic foot": 1.0, "cubic meters": 35.3147,
            "cubic meter": 35.3147, "cubic centimeters": 3.53147e-5, "cubic inches": 1 / 1728}



def cubic_feet_factor(column: str) -> str:
    """SQL: cubic feet per unit of the volume unit named in ``column`` (none: cubic feet,
    as the US reports give it; one ipi does not know: NULL, so the volume is unknown)."""
    return ("CASE WHEN " + column + " IS NULL THEN 1.0 "
            + " ".join(f"WHEN lower(trim({column})) = '{k}' THEN {v!r}"
                       for k, v in _TO_CUFT.items()) + " END")


_FACTOR = cubic_feet_factor("p.volume_unit_measurement")

USAGE_SQL = f"""
WITH sku AS (
    SELECT p.snapshot_date AS d,
        coalesce(lower(trim(p.storage_type)), 'unknown') AS storage_type,
        coalesce(p.available, 0) + coalesce(p.reserved_quantity, 0)
            + coalesce(p.unfulfillable_quantity, 0) + coalesce(p.fc_transfer, 0) AS units,
        CASE WHEN coalesce(p.inbound_working, p.inbound_shipped, p.inbound_received)
                IS NOT NULL
            THEN coalesce(p.inbound_working, 0) + coalesce(p.inbound_shipped, 0)
                + coalesce(p.inbound_received, 0)
            ELSE coalesce(p.inbound_quantity, m.afn_inbound_working_quantity
                + m.afn_inbound_shipped_quantity + m.afn_inbound_receiving_quantity) END
            AS inbound_units,
        p.storage_volume * ({_FACTOR}) AS stored,
        p.item_volume * ({_FACTOR}) AS unit
    FROM fba_inventory_planning p
    LEFT JOIN fba_myi_inventory m ON m.account = p.account
        AND m.marketplace = p.marketplace AND m.snapshot_date = p.snapshot_date
        AND m.sku = p.sku
    WHERE p.account = $account AND p.snapshot_date BETWEEN $start AND $end
), cuft AS (
    SELECT d, storage_type,
        CASE WHEN units = 0 THEN coalesce(stored, 0.0) ELSE coalesce(stored, unit * units)
            END AS on_hand,
        CASE WHEN inbound_units = 0 THEN 0.0
            ELSE coalesce(unit, stored / nullif(units, 0)) * inbound_units END AS inbound
    FROM sku
)
SELECT d, storage_type, sum(on_hand) AS on_hand_cuft, sum(inbound) AS inbound_cuft,
    count(*) AS skus,
    count(*) FILTER (WHERE on_hand IS NULL OR inbound IS NULL) AS skus_unknown,
    count(*) FILTER (WHERE on_hand IS NOT NULL AND inbound IS NOT NULL) AS skus_known
FROM cuft GROUP BY d, storage_type ORDER BY d, storage_type
"""


@dataclass(frozen=True, slots=True)
class Use:
    """A storage type's use on day ``d``, in cubic feet (None when no SKU's volume is
    known): on hand, inbound and their sum; the SKUs counted and those left out."""

    d: date
    storage_type: str
    on_hand_cuft: float | None
    inbound_cuft: float | None
    skus: int
    skus_unknown: int

    @property
    def used_cuft(self) -> float | None:
        if self.on_hand_cuft is None or self.inbound_cuft is None:
            return None
        return self.on_hand_cuft + self.inbound_cuft


def usage(con: duckdb.DuckDBPyConnection, account: str, start: date, end: date) -> list[Use]:
    """Each day's use per storage type in [start, end]."""
    rows = con.execute(USAGE_SQL, {"account": account, "start": start, "end": end}).fetchall()
    return [Use(d, kind, on_hand if known else None, inbound if known else None, skus,
                unknown)
            for d, kind, on_hand, inbound, skus, unknown, known in rows]


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


@dataclass(frozen=True)
class Outlook:
    """A storage type's use on ``day`` against its limit, and projected to the month's
    end. ``status``: over (at or over the limit now), warning (now or projected at or over
    ``warn_share`` of it), ok, no limit (none recorded), no data (no volume known)."""

    storage_type: str
    day: date
    used_cuft: float | None
    on_hand_cuft: float | None
    inbound_cuft: float | None
    skus_unknown: int
    limit_cuft: float | None
    limit_source: str | None  # recorded | config
    projection: Projection | None
    warn_share: float
    status: str

    @property
    def share(self) -> float | None:
        if self.used_cuft is None or not self.limit_cuft:
            return None
        return self.used_cuft / self.limit_cuft

    @property
    def projected_cuft(self) -> float | None:
        return self.projection.value if self.projection else None

    @property
    def projected_share(self) -> float | None:
        v = self.projected_cuft
        return None if v is None or not self.limit_cuft else v / self.limit_cuft

    def describe(self) -> str:
        """One line for people."""
        kind = f"{self.storage_type} storage"
        if self.used_cuft is None:
            return f"{kind}: no data (no SKU's volume is in the reports)"
        used = f"{self.used_cuft:,.0f} cu ft used on {self.day}"
        if self.limit_cuft is None:
            return f"{kind}: {used}; no capacity limit recorded (ipi capacity set)"
        text = f"{kind}: {used} of {self.limit_cuft:,.0f} ({self.share:.0%})"
        p = self.projection
        if p is not None and p.value is not None:
            text += (f", heading for {p.value:,.0f} ({self.projected_share:.0%}) by "
                     f"{p.target}")
        elif p is not None:
            text += f"; {p.describe()}"
        if self.status == "over":
            text += ": OVER the limit"
        elif self.status == "warning":
            text += f": past the {self.warn_share:.0%} warning"
        if self.skus_unknown:
            text += f" ({self.skus_unknown} SKU(s) without a volume not counted)"
        return text

    @property
    def month_end(self) -> date:
        return self.projection.target if self.projection else month_end(self.day)

    @property
    def projected_low(self) -> float | None:
        return self.projection.low if self.projection else None

    @property
    def projected_high(self) -> float | None:
        return self.projection.high if self.projection else None

    @property
    def projection_note(self) -> str | None:
        """Why there is no projection, where the projection could not be made."""
        p = self.projection
        return p.reason if p and p.value is None else None

    def record(self) -> dict[str, object]:
        """As ``ipi capacity --json`` and the flows' artifacts write it: the fields with
        the figures derived from them, and the line."""
        return {"storage_type": self.storage_type, "date": self.day,
                "used_cuft": self.used_cuft, "on_hand_cuft": self.on_hand_cuft,
                "inbound_cuft": self.inbound_cuft, "skus_unknown": self.skus_unknown,
                "limit_cuft": self.limit_cuft, "limit_source": self.limit_source,
                "share": self.share, "month_end": self.month_end,
                "projected_cuft": self.projected_cuft, "projected_low": self.projected_low,
                "projected_high": self.projected_high,
                "projected_share": self.projected_share,
                "projection_note": self.projection_note,
                "warn_share": self.warn_share, "status": self.status,
                "line": self.describe()}


def outlook(con: duckdb.DuckDBPyConnection, account: str, day: date | None,
            standing: dict[str, float], policy: Policy,
            warn_share: float, *, limited: bool = False) -> list[Outlook]:
    """Each storage type's outlook on the account's newest planning day on or before
    ``day`` (None: the newest), the four of Amazon first, then any other the reports
    name. The limits are those recorded for that day's month, else ``standing`` (the
    configuration's). ``limited``: only the types with a limit (what can warn)."""
    newest = con.execute(
        "SELECT max(snapshot_date) FROM fba_inventory_planning WHERE account = $account "
        "AND ($day IS NULL OR snapshot_date <= $day)", {"account": account, "day": day}).fetchone()
    on = newest[0] if newest and newest[0] else None
    if on is None:
        return []
    limits = {k: (v, "config") for k, v in standing.items()}
    limits.update({k: (v, "recorded") for k, v in month_limits(con, account, on).items()})
    if limited and not limits:  # most accounts of a fleet: skip the use per day
        return []
    first = on - timedelta(days=policy.projection_days - 1)
    by_type: dict[str, list[Use]] = {}
    for r in usage(con, account, first, on):
        by_type.setdefault(r.storage_type, []).append(r)
    kinds = [k for k in STORAGE_TYPES if k in by_type or k in limits]
    kinds += sorted(k for k in by_type if k not in STORAGE_TYPES)
    if limited:
        kinds = [k for k in kinds if k in limits]
    out = []
    for kind in kinds:
        rows = by_type.get(kind, [])
        today = rows[-1] if rows and rows[-1].d == on else None
        used = today.used_cuft if today else None
        limit, source = limits.get(kind, (None, None))
        points = [Point(r.d, v, STEP * v, v) for r in rows if (v := r.used_cuft) is not None]
        # The estimate's own projection: a step of STEP in a day (a large shipment
        # landing, a removal order) starts a new trend, never extrapolated as a slope;
        # no threshold to cross.
        proj = project(points, on, month_end(on), math.inf,
                       min_days=policy.projection_min_days, bounds=(0.0, math.inf),
                       noun="day(s) of use") \
            if used is not None else None
        if used is None:
            status = "no data"
        elif limit is None:
            status = "no limit"
        elif used >= limit:
            status = "over"
        elif used >= warn_share * limit or (
                proj is not None and proj.value is not None
                and proj.value >= warn_share * limit):
            status = "warning"
        else:
            status = "ok"
        out.append(Outlook(kind, on, used, today.on_hand_cuft if today else None,
                           today.inbound_cuft if today else None,
                           today.skus_unknown if today else 0, limit, source, proj,
                           warn_share, status))
    return out
