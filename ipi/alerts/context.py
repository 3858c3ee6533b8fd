"""What the alert rules look at, read from DuckDB: each rule's stored state, the score
trend, newly stranded SKUs, the rise in excess units. ``steps`` runs every rule for
one marketplace and day; the rules themselves are pure (``rules.py``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import duckdb

from ipi.alerts.calendar import days_to_check, next_checkpoint
from ipi.alerts.rules import (
    BELOW_THRESHOLD,
    CHECK_WINDOW,
    EXCESS_JUMP,
    PROJECTED_CROSSING,
    STRANDED_JUMP,
    State,
    Step,
    below_threshold,
    check_window,
    factor_jump,
    projected_crossing,
)
from ipi.settings import Policy


def state(con: duckdb.DuckDBPyConnection, account: str, mp: str, rule: str) -> State:
    row = con.execute(
        "SELECT state, since, count, last_notified, last_date FROM alert_state "
        "WHERE account = ? AND marketplace = ? AND rule = ?", [account, mp, rule]).fetchone()
    return State(row[0], row[1], row[2] or 0, row[3], row[4]) if row else State()


@dataclass(frozen=True)
class Projection:
    """The estimate at the next check if the recent trend holds, with a 90 % range."""

    value: float
    low: float
    high: float
    slope: float  # points a day
    check: date


def projection(con: duckdb.DuckDBPyConnection, account: str, mp: str, day: date,
               policy: Policy) -> Projection | None:
    """From the trend of the last ``projection_days`` days (at least 7 of them): the
    latest estimate moved on by the fitted slope. The range is the regression's 90 %
    prediction interval at the check date: wide when the days scatter or the check is
    far."""
    check = next_checkpoint(policy, day)
    row = con.execute(
        "SELECT regr_slope(score, x), regr_count(score, x), arg_max(score, date), "
        "regr_sxx(score, x), regr_syy(score, x), regr_sxy(score, x), regr_avgx(score, x), "
        "max(x) FROM (SELECT *, date_diff('day', DATE '2000-01-01', date) AS x "
        "FROM daily_score WHERE account = ? AND marketplace = ? AND date BETWEEN ? AND ? "
        "AND score IS NOT NULL AND status <> 'unreliable')",
        [account, mp, day - timedelta(days=policy.projection_days - 1), day]).fetchone()
    if check is None or row is None or row[0] is None or row[1] < 7:
        return None
    slope, n, score, sxx, syy, sxy, avgx, last = (float(v) for v in row)
    ahead = (check - day).days
    resid = max(syy - sxy * sxy / sxx, 0.0) / (n - 2) if sxx > 0 else 0.0
    spread = 1.645 * math.sqrt(resid * (1 + 1 / n + (last + ahead - avgx) ** 2 / sxx)) \
        if sxx > 0 else 0.0
    value = score + slope * ahead

    def clamp(v: float) -> float:  # the IPI runs 0-1000, however steep the trend
        return min(max(v, 0.0), 1000.0)

    return Projection(clamp(value), clamp(value - spread), clamp(value + spread), slope, check)


def _previous(con: duckdb.DuckDBPyConnection, account: str, mp: str, report_type: str,
              day: date) -> date | None:
    row = con.execute(
        "SELECT max(snapshot_date) FROM report_partition WHERE account = ? AND marketplace = ? "
        "AND report_type = ? AND snapshot_date < ?", [account, mp, report_type, day]).fetchone()
    return row[0] if row else None


def _newly_stranded(con: duckdb.DuckDBPyConnection, account: str, mp: str,
                    day: date) -> list[tuple[str, float]] | None:
    """SKUs stranded today that were not in the previous stranded report (None: no
    previous report to compare with)."""
    prev = _previous(con, account, mp, "GET_STRANDED_INVENTORY_UI_DATA", day)
    if prev is None:
        return None
    return [(str(sku), float(units)) for sku, units in con.execute(
        "SELECT sku, sum(coalesce(fulfillable_qty, 0) + coalesce(unfulfillable_qty, 0) "
        "+ coalesce(reserved_quantity, 0)) AS units FROM stranded_inventory "
        "WHERE account = $a AND marketplace = $m AND snapshot_date = $d AND sku NOT IN ("
        "  SELECT sku FROM stranded_inventory WHERE account = $a AND marketplace = $m "
        "  AND snapshot_date = $p) GROUP BY sku HAVING units > 0 ORDER BY units DESC, sku",
        {"a": account, "m": mp, "d": day, "p": prev}).fetchall()]


def _excess_rise(con: duckdb.DuckDBPyConnection, account: str, mp: str,
                 day: date) -> tuple[float, float, list[tuple[str, float]]] | None:
    """(excess units before, now, the SKUs that rose most) against the previous planning
    report (None: no previous report)."""
    prev = _previous(con, account, mp, "GET_FBA_INVENTORY_PLANNING_DATA", day)
    if prev is None:
        return None
    rows = con.execute(
        "SELECT sku, coalesce(n.e, 0) AS now, coalesce(o.e, 0) AS before FROM "
        "(SELECT sku, estimated_excess_quantity AS e FROM fba_inventory_planning "
        " WHERE account = $a AND marketplace = $m AND snapshot_date = $d) n "
        "FULL JOIN (SELECT sku, estimated_excess_quantity AS e FROM fba_inventory_planning "
        " WHERE account = $a AND marketplace = $m AND snapshot_date = $p) o USING (sku)",
        {"a": account, "m": mp, "d": day, "p": prev}).fetchall()
    before = sum(float(r[2]) for r in rows)
    now = sum(float(r[1]) for r in rows)
    rises = sorted(((str(r[0]), float(r[1]) - float(r[2])) for r in rows
                    if float(r[1]) > float(r[2])), key=lambda t: (-t[1], t[0]))
    return before, now, rises


def _names(items: list[tuple[str, float]], n: int = 5) -> str:
    shown = ", ".join(f"{sku} ({units:+,.0f})" for sku, units in items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")


def steps(con: duckdb.DuckDBPyConnection, account: str, mp: str, day: date,
           row: dict[str, Any], policy: Policy) -> list[tuple[str, State, Step, str]]:
    """Every rule's step for one marketplace: (rule, previous state, step, detail)."""
    out = []
    prev = state(con, account, mp, BELOW_THRESHOLD)
    check = next_checkpoint(policy, day)
    detail = f"next Amazon check {check} ({(check - day).days} days)" if check else ""
    out.append((BELOW_THRESHOLD, prev, below_threshold(prev, row, policy, day), detail))

    window = days_to_check(policy, day)
    prev = state(con, account, mp, CHECK_WINDOW)
    detail = (f"{window[1]} day(s) before Amazon's check on {window[0]}: under "
              f"{policy.threshold:.0f} then means storage limits and overage fees"
              if window else "")
    out.append((CHECK_WINDOW, prev, check_window(prev, row, policy, day, window), detail))

    proj = projection(con, account, mp, day, policy)
    prev = state(con, account, mp, PROJECTED_CROSSING)
    detail = (f"at {proj.slope:+.1f} points a day over {policy.projection_days} days it "
              f"reaches {proj.value:.0f} (90 % range {proj.low:.0f}-{proj.high:.0f}) by the "
              f"check on {proj.check}" if proj else "")
    out.append((PROJECTED_CROSSING, prev,
                projected_crossing(prev, row, policy, day, proj.value if proj else None),
                detail))

    new = _newly_stranded(con, account, mp, day)
    prev = state(con, account, mp, STRANDED_JUMP)
    units = sum(u for _, u in new or [])
    active = None if new is None else units >= policy.stranded_jump_units
    detail = f"{len(new or [])} SKU(s) newly stranded, {units:,.0f} units: {_names(new or [])}"
    out.append((STRANDED_JUMP, prev, factor_jump(prev, active, policy, day), detail))

    rise = _excess_rise(con, account, mp, day)
    prev = state(con, account, mp, EXCESS_JUMP)
    active, detail = None, ""
    if rise is not None:
        before, now, skus = rise
        active = now - before >= max(policy.excess_jump_units,
                                     policy.excess_jump_pct / 100 * before)
        detail = f"excess units rose from {before:,.0f} to {now:,.0f}; most: {_names(skus)}"
    out.append((EXCESS_JUMP, prev, factor_jump(prev, active, policy, day), detail))
    return out
