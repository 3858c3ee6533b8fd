"""Factors per account, marketplace and day, and the score estimate with its band."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from typing import Any

import duckdb

from ipi.score import carry, official, window
from ipi.score.calibrate import Calibration
from ipi.score.factors import compute_factors
from ipi.score.model import LABELS, Estimate, estimate, factors_for
from ipi.score.official import model_for
from ipi.score.prior import Model
from ipi.settings import Account, CarryDays
from ipi.store import Store, rows, utcnow

log = logging.getLogger(__name__)

INSUFFICIENT = "insufficient history"
HELD = "held by the long-term factors"  # the 2020 rule (ipi.score.window)
CARRY_DAYS = CarryDays()  # the defaults, for callers without a policy (tests, benchmarks)



@dataclass(frozen=True, slots=True, kw_only=True)
class DailyScore:
    """A marketplace's day as ``daily_score`` holds it: the four factors with their
    inputs, the estimate with its band, status and notes, and what it rests on. Nullable
    columns default to None, so a test names only what it needs."""

    account: str
    marketplace: str
    date: dt.date
    units_on_hand: float | None = None
    excess_units: float | None = None
    excess_pct: float | None = None
    units_shipped_t90: float | None = None
    avg_units_on_hand: float | None = None
    sell_through: float | None = None
    sell_through_approx: bool | None = None
    stranded_units: float | None = None
    stranded_pct: float | None = None
    in_stock_rate: float | None = None
    in_stock_days: int | None = None
    in_stock_approx: bool | None = None
    score: float | None = None
    score_low: float | None = None
    score_high: float | None = None
    status: str  # ok | approximate | partial | unreliable | insufficient history | no data
    notes: str | None = None
    model: str
    carried: str | None = None  # JSON {factor: the day it was measured} (ipi.score.carry)
    carry_margin: float | None = None
    score_recent: float | None = None  # from the day's factors alone (ipi.score.window)
    long_term: str | None = None  # JSON {factor: its long-term value} (ipi.score.window)


# The table's columns as the library reads and writes them, in its order.
SCORE_COLUMNS = tuple(f.name for f in fields(DailyScore))


def _daily(cur: duckdb.DuckDBPyConnection) -> list[DailyScore]:
    """The rows of a query selecting ``SCORE_COLUMNS``."""
    return [DailyScore(**dict(zip(SCORE_COLUMNS, r, strict=True))) for r in cur.fetchall()]


@dataclass(frozen=True)
class ScoreRun:
    account: str
    days: int  # (marketplace, day) rows computed
    changed: int  # rows written because they were new or different
    removed: int = 0  # rows deleted: their day has no data left (`ipi forget`)


def score_range(con: duckdb.DuckDBPyConnection, account: str, start: date, end: date,
                carry_days: CarryDays = CARRY_DAYS) -> ScoreRun:
    """Recompute factors and estimates for every day with data in [start, end]; a day
    in it left without data (its loads forgotten) loses its estimate. A day missing a
    report carries the factors it feeds from its newest day (``carry_days``); each day
    also reads its long-term factors (``ipi.score.window``: the 2020 rule)."""
    limits = carry_days.model_dump()
    rows = compute_factors(con, account, start, end)
    back = max(*limits.values(), window.DAYS - 1)
    cur = con.execute(
        f"SELECT date, marketplace, carried, {', '.join(carry.READ)} FROM daily_score "
        "WHERE account = $account AND date BETWEEN $first AND $last ORDER BY date",
        {"account": account, "first": start - timedelta(days=back),
         "last": start - timedelta(days=1)})
    names = [d[0] for d in cur.description or ()]
    before = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    carry.carry(rows, before, limits)
    window.long_term(rows, before)
    model = model_for(con, account)  # the account's calibration, else the prior
    new = [_with_estimate(account, r, model) for r in rows]
    old = {
        (r[1], r[2]): r
        for r in con.execute(
            f"SELECT {', '.join(SCORE_COLUMNS)} FROM daily_score "
            "WHERE account = $account AND date BETWEEN $start AND $end",
            {"account": account, "start": start, "end": end}
        ).fetchall()
    }
    changed = [row for row in new if old.get((row[1], row[2])) != row]
    gone = old.keys() - {(row[1], row[2]) for row in new}
    if gone:
        con.executemany(
            "DELETE FROM daily_score WHERE account = $account AND marketplace = $marketplace "
            "AND date = $date",
            [{"account": account, "marketplace": mp, "date": d} for mp, d in sorted(gone)],
        )
    if changed:
        con.executemany(
            "DELETE FROM daily_score WHERE account = $account AND marketplace = $marketplace "
            "AND date = $date",
            [dict(zip(("account", "marketplace", "date"), row[:3], strict=True))
             for row in changed],
        )
        columns = (*SCORE_COLUMNS, "computed_at")
        con.executemany(
            f"INSERT INTO daily_score ({', '.join(columns)}) "
            f"VALUES ({', '.join('$' + c for c in columns)})",
            [dict(zip(columns, (*row, utcnow()), strict=True)) for row in changed],
        )
    return ScoreRun(account, len(new), len(changed), len(gone))


def upgrade(store: Store, account: str, carry_days: CarryDays = CARRY_DAYS) -> str | None:
    """Once per change of the default model (a new ``MODEL``, rows imported into the
    installation's reference set): refit the account's calibration on the new curves and
    rescore its whole history, so that no chart or alert compares two models. Says what
    it did (also as a warning in the log), or None when every estimate is current."""
    with store.read() as con:  # every run asks: a read, not a turn as the writer
        made = con.execute("SELECT model, min(date), max(date) FROM daily_score "
                           "WHERE account = $account GROUP BY model",
                           {"account": account}).fetchall()
        stale = sorted(m for m, _, _ in made if m != model_for(con, account).name)
    if not stale:
        return None
    with store.write() as con:
        if con.execute("SELECT count(*) FROM calibration WHERE account = $account",
                       {"account": account}).fetchone() != (0,):
            official.refit(con, account)
        now = model_for(con, account).name
        run = score_range(con, account, min(r[1] for r in made), max(r[2] for r in made),
                          carry_days)
    note = (f"{account}: estimates now come from the model {now} (they came from "
            f"{', '.join(stale)}); rescored {run.days} day(s) of history with it, once")
    log.warning("%s", note)
    return note


def _round(x: Any, nd: int = 4) -> Any:
    return round(float(x), nd) if x is not None else None


def _with_estimate(account: str, r: dict[str, Any], model: Model) -> tuple[Any, ...]:
    mp = r["marketplace"]
    # The values as stored: whoever recomputes the estimate from them (what-if, the
    # calibration) gets exactly the stored one.
    values = {
        "excess": _round(r["excess_pct"]), "sell_through": _round(r["sell_through"]),
        "stranded": _round(r["stranded_pct"]), "in_stock": _round(r["in_stock_rate"]),
    }
    approx = {f for f, flag in (("sell_through", r["sell_through_approx"]),
                                ("in_stock", r["in_stock_approx"])) if flag}
    carried = r.get("carried") or {}
    long_term = r.get("long_term") or {}

    def scored(values: dict[str, Any]) -> Estimate:
        return estimate(values, factors=factors_for(mp), approximate=approx,
                        weights=model.weights, model_error=model.model_error,
                        carried={f: (r["date"] - d).days for f, d in carried.items()})

    recent = est = scored(values)
    held = scored(long_term) if long_term else None
    if held is not None and held.score is not None and recent.score is not None \
            and held.score > recent.score:
        est = held  # Amazon takes the better of recent and long-term (the 2020 rule)
    if r["units_shipped_t90"] == 0:
        # Amazon gives no score to an account inactive for 13 weeks ("There is
        # insufficient historical data to calculate your IPI", beside a sell-through of
        # 0.0: reference.csv): neither does ipi, rather than a number nobody will see.
        est = replace(est, score=None, low=None, high=None, status=INSUFFICIENT)
    status, notes = est.status, est.notes
    if est.status == INSUFFICIENT:
        notes = ("nothing shipped in 90 days: Amazon shows no score (\"insufficient "
                 "historical data\")")
    if est is held and est.score is not None:
        notes = "; ".join(n for n in (f"{HELD} (recent factors alone: {recent.score:.0f})",
                                      notes) if n)
    if carried:
        notes = "; ".join(n for n in (notes, *(f"{LABELS[f]} carried from {d}"
                                              for f, d in carried.items())) if n)
    if r["from_ledger"]:
        notes = "; ".join(n for n in ("rebuilt from the inventory ledger", notes) if n)
    if r["unreliable"] and est.score is not None:
        status = "unreliable"
        notes = "; ".join(n for n in (r["unreliable"], notes) if n)
    return (
        account, mp, r["date"], _round(r["units_on_hand"]), _round(r["excess_units"]),
        _round(r["excess_pct"]), _round(r["units_shipped_t90"]),
        _round(r["avg_units_on_hand"]), _round(r["sell_through"]),
        bool(r["sell_through_approx"]), _round(r["stranded_units"]), _round(r["stranded_pct"]),
        _round(r["in_stock_rate"]), r["in_stock_days"], bool(r["in_stock_approx"]),
        est.score, est.low, est.high, status, notes or None, model.name,
        carry.as_json(carried), est.carry_margin if carried else None,
        recent.score if est.score is not None else None, window.as_json(long_term),
    )


def scores(con: duckdb.DuckDBPyConnection, account: str | None = None, *,
           marketplace: str | None = None, start: date | None = None, end: date | None = None,
           last: int | None = None) -> list[DailyScore]:
    """Stored daily scores, oldest first; ``last``: the newest N days of each account
    and marketplace only."""
    return _daily(con.execute(
        f"SELECT {', '.join(SCORE_COLUMNS)} FROM ("
        " SELECT *, row_number() OVER (PARTITION BY account, marketplace ORDER BY date DESC)"
        " AS newest FROM daily_score"
        " WHERE ($account IS NULL OR account = $account)"
        " AND ($marketplace IS NULL OR marketplace = $marketplace)"
        " AND ($start IS NULL OR date >= $start) AND ($end IS NULL OR date <= $end))"
        " WHERE $last IS NULL OR newest <= $last ORDER BY account, marketplace, date",
        {"account": account, "marketplace": marketplace, "start": start, "end": end,
         "last": last}))


def record_official(con: duckdb.DuckDBPyConnection, account: Account,
                    rows: list[official.Official],
                    carry_days: CarryDays = CARRY_DAYS) -> Calibration:
    """Record official scores, refit the account's model, then rescore its whole history
    with the new model."""
    cal = official.record(con, account, rows)
    _rescore_all(con, account.name, carry_days)
    return cal


def remove_official(con: duckdb.DuckDBPyConnection, account: Account, marketplace: str,
                    day: date, carry_days: CarryDays = CARRY_DAYS) -> Calibration:
    """Remove an official score recorded by mistake, refit and rescore as recording does."""
    cal = official.remove(con, account, marketplace, day)
    _rescore_all(con, account.name, carry_days)
    return cal


def _rescore_all(con: duckdb.DuckDBPyConnection, account: str, carry_days: CarryDays) -> None:
    span = rows(con, "SELECT min(date) AS first, max(date) AS last FROM daily_score "
                       "WHERE account = $account", {"account": account})[0]
    if span["first"] is not None:
        score_range(con, account, span["first"], span["last"], carry_days)


def partial_line(row: DailyScore) -> str | None:
    """How a partial day leads, never as a bare number: "partial: 2 of 4 factors known,
    560-940" (None for any other day)."""
    if row.status != "partial" or row.score_low is None or row.score_high is None:
        return None
    factors = factors_for(row.marketplace)
    known = sum(getattr(row, carry.VALUE[f]) is not None for f in factors)
    return (f"partial: {known} of {len(factors)} factors known, "
            f"{row.score_low:.0f}\u2013{row.score_high:.0f}")


def held_line(row: DailyScore) -> str | None:
    """What a day held by its long-term factors says beside its estimate (None for any
    other day): Amazon's 2020 rule keeps the better reading, and actions move today's."""
    recent, score = row.score_recent, row.score
    if recent is None or score is None or score <= recent:
        return None
    return (f"{HELD}: today's factors alone read {recent:.0f}; Amazon takes the better of "
            "recent and long-term performance, and the long-term factors follow today's "
            "as the days roll")


def latest_day(con: duckdb.DuckDBPyConnection, account: str) -> date | None:
    """The account's latest day with an estimate row: the day alerts look at."""
    row = con.execute("SELECT max(date) FROM daily_score WHERE account = $account",
                      {"account": account}).fetchone()
    return row[0] if row else None


def day_row(con: duckdb.DuckDBPyConnection, account: str, marketplace: str,
            day: date | None) -> DailyScore | None:
    """The marketplace's daily_score row of ``day``, if there is one."""
    if day is None:
        return None
    found = _daily(con.execute(
        f"SELECT {', '.join(SCORE_COLUMNS)} FROM daily_score WHERE account = $account "
        "AND marketplace = $marketplace AND date = $day",
        {"account": account, "marketplace": marketplace, "day": day}))
    return found[0] if found else None


def day_rows(con: duckdb.DuckDBPyConnection, account: str, day: date) -> list[DailyScore]:
    """The account's daily_score rows of ``day``, one per marketplace, by marketplace."""
    return _daily(con.execute(
        f"SELECT {', '.join(SCORE_COLUMNS)} FROM daily_score WHERE account = $account "
        "AND date = $day ORDER BY marketplace", {"account": account, "day": day}))


def latest_row(con: duckdb.DuckDBPyConnection, account: str, marketplace: str,
               day: date | None = None) -> DailyScore | None:
    """The marketplace's newest row with an estimate, on or before ``day`` if given."""
    found = _daily(con.execute(
        f"SELECT {', '.join(SCORE_COLUMNS)} FROM daily_score WHERE account = $account "
        "AND marketplace = $marketplace AND score IS NOT NULL AND date <= coalesce($day, date) "
        "ORDER BY date DESC LIMIT 1",
        {"account": account, "marketplace": marketplace, "day": day}))
    return found[0] if found else None
