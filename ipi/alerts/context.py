"""What the alert rules look at, read from DuckDB: each rule's stored state, the score
trend, newly stranded SKUs, the rise in excess units. ``steps`` runs every rule for
one marketplace and day; the rules themselves are pure (``rules.py``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from itertools import pairwise

import duckdb

from ipi.alerts.calendar import days_to_check, next_checkpoint
from ipi.alerts.rules import (
    BELOW_THRESHOLD,
    CHECK_WINDOW,
    EXCESS_JUMP,
    PROJECTED_CROSSING,
    STRANDED_JUMP,
    Context,
    Reading,
    State,
    Step,
    below_threshold,
    check_window,
    factor_jump,
    projected_crossing,
    recent_under,
)
from ipi.score import DailyScore, day_row, scores
from ipi.score.projection import projection
from ipi.settings import Policy


def state(con: duckdb.DuckDBPyConnection, account: str, mp: str, rule: str) -> State:
    row = con.execute(
        "SELECT state, since, count, last_notified, last_date, paged, acked, flapping_since, "
        "repeats FROM alert_state WHERE account = $account AND marketplace = $mp AND rule = $rule",
        {"account": account, "mp": mp, "rule": rule}).fetchone()
    return State(row[0], row[1], row[2] or 0, row[3], row[4], row[5] or "normal", row[6],
                 row[7], row[8] or 0) if row else State()


def _flips(con: duckdb.DuckDBPyConnection, account: str, mp: str, rule: str, day: date,
           policy: Policy) -> int:
    """Changes between firing and not firing in the flap window before ``day``."""
    row = con.execute(
        "SELECT count(*) FROM alert_event WHERE account = $account AND marketplace = $marketplace "
        "AND rule = $rule AND date BETWEEN $first AND $last "
        "AND (from_state = 'firing') <> (to_state = 'firing')",
        {"account": account, "marketplace": mp, "rule": rule,
         "first": day - timedelta(days=policy.flap_window_days - 1),
         "last": day - timedelta(days=1)}).fetchone()
    return int(row[0]) if row else 0


def _context(con: duckdb.DuckDBPyConnection, account: str, mp: str, rule: str, prev: State,
             row: DailyScore, day: date, policy: Policy, check: date | None) -> Context:
    return Context(Reading.of(row),
                   Reading.of(day_row(con, account, mp, prev.last_notified)),
                   Reading.of(day_row(con, account, mp, prev.acked)),
                   (check - day).days if check else None,
                   _flips(con, account, mp, rule, day, policy))


_FACTORS = (("excess_pct", "excess", "{:.1f}%"), ("sell_through", "sell-through", "{:.2f}"),
            ("stranded_pct", "stranded", "{:.1f}%"), ("in_stock_rate", "in-stock", "{:.0%}"))


def flap_cause(con: duckdb.DuckDBPyConnection, account: str, mp: str, day: date,
               policy: Policy) -> str:
    """The swing of the estimate over the flap window, and its likely cause: a factor
    with data some days and none on others, else the factor that moved most from day to
    day (relative to its size)."""
    rows = scores(con, account, marketplace=mp,
                  start=day - timedelta(days=policy.flap_window_days - 1), end=day)
    estimates = [r.score for r in rows if r.score is not None]
    if not estimates:
        return "no estimate in the window"
    swing = (f"the estimate swung between {min(estimates):.0f} and {max(estimates):.0f} in "
             f"{len(rows)} days")
    gaps = [(n, label) for col, label, _ in _FACTORS
            if 0 < (n := sum(getattr(r, col) is None for r in rows)) < len(rows)]
    if gaps:
        n, label = max(gaps)
        return (f"{swing}; likely cause: {label} had no data on {n} of those days (a report "
                "missing on some days): check those days' downloads or reports")
    moved = []
    for col, label, fmt in _FACTORS:
        vals = [float(v) for r in rows if (v := getattr(r, col)) is not None]
        if len(vals) > 1:
            size = sum(abs(v) for v in vals) / len(vals) or 1.0
            step = sum(abs(b - a) for a, b in pairwise(vals)) / (len(vals) - 1)
            moved.append((step / size, label, fmt.format(min(vals)), fmt.format(max(vals))))
    if not moved:
        return swing
    _, label, lo, hi = max(moved)
    return f"{swing}; likely cause: {label} moving between {lo} and {hi} from day to day"


def _previous(con: duckdb.DuckDBPyConnection, account: str, mp: str, report_type: str,
              day: date) -> date | None:
    row = con.execute(
        "SELECT max(snapshot_date) FROM report_partition WHERE account = $account "
        "AND marketplace = $marketplace AND report_type = $report_type AND snapshot_date < $day",
        {"account": account, "marketplace": mp, "report_type": report_type, "day": day}
    ).fetchone()
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
          row: DailyScore, policy: Policy) -> list[tuple[str, State, Step, str]]:
    """Every rule's step for one marketplace: (rule, previous state, step, detail)."""
    out = []
    check = next_checkpoint(policy, day)

    def step(rule: str, run: Callable[[State, Context], Step], detail: str) -> None:
        prev = state(con, account, mp, rule)
        taken = run(prev, _context(con, account, mp, rule, prev, row, day, policy, check))
        if taken.notify == "flapping":
            detail = (f"{flap_cause(con, account, mp, day, policy)}. Its pages are held "
                      f"until it keeps one state {policy.flap_stable_days} days; every change "
                      "is still recorded (ipi alerts history)")
        out.append((rule, prev, taken, detail))

    step(BELOW_THRESHOLD, lambda p, c: below_threshold(p, row, policy, day, c),
         f"next Amazon check {check} ({(check - day).days} days)" if check else "")

    window = days_to_check(policy, day)
    step(CHECK_WINDOW, lambda p, c: check_window(p, row, policy, day, window, c),
         f"{window[1]} day(s) before Amazon's check on {window[0]}: under "
         f"{policy.threshold:.0f} then means lower capacity limits, and over a limit Amazon "
         "refuses new shipments" if window else "")

    proj = projection(con, account, mp, day, check, policy)
    value = proj.value if proj else None
    falling = [proj.describe("the check on ")] if proj else []
    if recent_under(row, policy):
        falling.insert(0, f"today's factors alone read {row.score_recent:.0f}, under "
                          f"{policy.threshold:.0f}; Amazon takes the better of recent and "
                          "long-term performance, and the long-term factors follow the "
                          "recent ones as the days roll")
    step(PROJECTED_CROSSING, lambda p, c: projected_crossing(p, row, policy, day, value, c),
         "; ".join(falling))

    new = _newly_stranded(con, account, mp, day)
    units = sum(u for _, u in new or [])
    active = None if new is None else units >= policy.stranded_jump_units
    step(STRANDED_JUMP, lambda p, c: factor_jump(p, active, policy, day, c),
         f"{len(new or [])} SKU(s) newly stranded, {units:,.0f} units: {_names(new or [])}")

    rise = _excess_rise(con, account, mp, day)
    jump, detail = None, ""
    if rise is not None:
        before, now, skus = rise
        jump = now - before >= max(policy.excess_jump_units,
                                   policy.excess_jump_pct / 100 * before)
        detail = f"excess units rose from {before:,.0f} to {now:,.0f}; most: {_names(skus)}"
    step(EXCESS_JUMP, lambda p, c: factor_jump(p, jump, policy, day, c), detail)
    return out
