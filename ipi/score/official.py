"""Official scores, as the seller reads them in Seller Central, and the account's score
model calibrated from them (the fit itself is ``calibrate.py``, pure).

Recording scores refits the account's model in the same transaction, then rescores
the account's history with it: estimates, bands and the alerts that read them all
follow the calibrated model from then on.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import ClassVar

import duckdb

from ipi.errors import ConfigError, NotFound
from ipi.score import prior, window
from ipi.score.calibrate import MIN_POINTS, PAIR_DAYS, Calibration, Point, calibrate
from ipi.score.model import ALL_FACTORS, factors_for
from ipi.score.prior import Model
from ipi.settings import Account
from ipi.store import utcnow


@dataclass(frozen=True)
class Official:
    marketplace: str
    date: date
    score: float


def check(account: Account, rows: Sequence[Official], where: Sequence[str],
          today: date | None = None) -> None:
    """Every score within 0-1000, for one of the account's marketplaces and not after
    ``today``, else a ConfigError naming the row (``where``: how to name each) and the
    fix."""
    for row, at in zip(rows, where, strict=True):
        if today is not None and row.date > today:
            raise ConfigError(f"{at}: {row.date} is in the future (today is {today} for "
                              f"account {account.name}): record the score Seller Central "
                              "shows now, with today's date or an earlier one")
        if not 0 <= row.score <= 1000:
            raise ConfigError(f"{at}: score {row.score:g} is not an IPI: use 0 to 1000")
        if row.marketplace not in account.marketplaces:
            raise ConfigError(f"{at}: marketplace {row.marketplace!r} is not one of account "
                              f"{account.name}'s ({', '.join(account.marketplaces)})")


def read_csv(path: Path, account: Account, today: date | None = None) -> list[Official]:
    """Rows of a CSV with columns date, score and, optionally, marketplace (default: the
    account's first). Any bad row rejects the file, naming its line."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            heads = {h.strip().lower() for h in reader.fieldnames or ()}
            if not {"date", "score"} <= heads:
                raise ConfigError(f"{path}: the first line must name the columns date and "
                                  "score (and optionally marketplace), e.g. date,score")
            rows, where = [], []
            for line, raw in enumerate(reader, start=2):
                r = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
                try:
                    day = date.fromisoformat(r["date"])
                    score = float(r["score"])
                except ValueError:
                    raise ConfigError(f"{path} line {line}: date {r['date']!r} and score "
                                      f"{r['score']!r} must be YYYY-MM-DD and a number"
                                      ) from None
                mp = (r.get("marketplace") or account.marketplaces[0]).upper()
                rows.append(Official(mp, day, score))
                where.append(f"{path} line {line}")
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a UTF-8 text file: save it as CSV") from None
    if not rows:
        raise ConfigError(f"{path} has no rows under its header")
    check(account, rows, where, today)
    return rows


def record(con: duckdb.DuckDBPyConnection, account: Account,
           rows: Sequence[Official]) -> Calibration:
    """Store the official scores (a date already recorded is replaced) and refit the
    account's model (``ipi.score.record_official`` then rescores with it)."""
    con.executemany(
        "INSERT OR REPLACE INTO official_score (account, marketplace, date, score, "
        "recorded_at) VALUES ($account, $marketplace, $date, $score, $now)",
        [{"account": account.name, "marketplace": r.marketplace, "date": r.date,
          "score": r.score, "now": utcnow()} for r in rows])
    return refit(con, account.name)


def remove(con: duckdb.DuckDBPyConnection, account: Account, marketplace: str,
           day: date) -> Calibration:
    """Remove one recorded official score and refit; NotFound, changing nothing, when
    there is none."""
    gone = con.execute("DELETE FROM official_score WHERE account = $account "
                       "AND marketplace = $marketplace AND date = $day RETURNING date",
                       {"account": account.name, "marketplace": marketplace,
                        "day": day}).fetchall()
    if not gone:
        raise NotFound(f"no official score of account {account.name} {marketplace} on "
                       f"{day}: `ipi official list` shows those recorded")
    return refit(con, account.name)


def refit(con: duckdb.DuckDBPyConnection, account: str) -> Calibration:
    """Fit the account's model again from its official scores, and store it."""
    base = prior.current(con)
    cal = calibrate(points(con, account), base.weights, base.model_error)
    con.execute(
        "INSERT OR REPLACE INTO calibration (account, points, w_excess, w_sell_through, "
        "w_stranded, w_in_stock, fitted, mae, prior_mae, model_error, used, fitted_at) "
        "VALUES ($account, $points, $w_excess, $w_sell_through, $w_stranded, $w_in_stock, "
        "$fitted, $mae, $prior_mae, $model_error, $used, $now)",
        {"account": account, "points": cal.points,
         **{f"w_{f}": cal.weights[f] for f in ALL_FACTORS},
         "fitted": json.dumps(cal.fitted) if cal.fitted else None, "mae": cal.mae,
         "prior_mae": cal.prior_mae, "model_error": cal.model_error, "used": cal.used,
         "now": utcnow()})
    return cal


# Each official score with ipi's latest estimate on or before its day (PAIR_DAYS is
# applied after: an ASOF join takes the nearest row, however far).
_PAIRED = """
        SELECT o.marketplace, o.date, o.score AS official, d.date AS day, d.score AS estimate,
               d.excess_pct, d.sell_through, d.stranded_pct, d.in_stock_rate,
               CASE WHEN d.score > d.score_recent THEN d.long_term END AS long_term
        FROM official_score o
        ASOF LEFT JOIN (SELECT * FROM daily_score WHERE score IS NOT NULL) d
          ON d.account = o.account AND d.marketplace = o.marketplace AND o.date >= d.date
        WHERE o.account = $a
        ORDER BY o.date, o.marketplace"""


def points(con: duckdb.DuckDBPyConnection, account: str) -> list[Point]:
    out = []
    for mp, day, official, paired, _, ex, st, sd, ins, held in con.execute(
            _PAIRED, {"a": account}).fetchall():
        if paired is None or (day - paired).days > PAIR_DAYS:
            continue
        # The factors that made the estimate: the long-term ones where they held it
        values = {"excess": ex, "sell_through": st, "stranded": sd, "in_stock": ins} \
            if held is None else window.of(held)
        out.append(Point(values, factors_for(mp), official))
    return out


@dataclass(frozen=True, slots=True)
class Recorded:
    """An official score beside the estimate it was paired with (None: no day close
    enough)."""

    account: str
    marketplace: str
    date: date
    official: float
    estimate: float | None


def listing(con: duckdb.DuckDBPyConnection, account: str) -> list[Recorded]:
    """The official scores with the estimate each was paired with, oldest first."""
    rows = con.execute(_PAIRED, {"a": account}).fetchall()
    return [Recorded(account, mp, day, off,
                     est if paired is not None and (day - paired).days <= PAIR_DAYS else None)
            for mp, day, off, paired, est, *_ in rows]


def model_for(con: duckdb.DuckDBPyConnection, account: str) -> Model:
    """The account's model: calibrated on its official scores, else the installation's
    default (``ipi.score.prior``)."""
    base = prior.current(con)
    row = con.execute("SELECT w_excess, w_sell_through, w_stranded, w_in_stock, model_error, "
                      "used, points FROM calibration WHERE account = $account",
                      {"account": account}).fetchone()
    if row is None:
        return base
    *weights, model_error, used, n = row
    # Every name starts with the default's: a new default shows which estimates are stale.
    name = f"{base.name} calibrated-{n}" if used else f"{base.name}, band from {n} official"
    return Model(dict(zip(ALL_FACTORS, weights, strict=True)), model_error, name)


@dataclass(frozen=True)
class ModelState:
    """What an account's estimates rest on: the model, the official scores behind it,
    and how far it misses them; for the account's page and its messages."""

    ASK: ClassVar[str] = ("Record this week's official score from Seller Central "
                          "(Inventory > Inventory performance)")

    account: str
    model: str  # the name its estimates carry
    recorded: int  # official scores recorded
    paired: int  # of them, paired with an estimate of their day
    error: float | None  # mean miss: held-out on the account's scores, else the public ones
    band: float  # the band's model part
    calibrated: bool  # weights fitted to the account are used
    last: date | None  # the newest official score

    def line(self) -> str:
        band = f"band ±{self.band:.0f}"
        if self.calibrated:
            return (f"Model {self.model}: calibrated on {self.paired} official scores, "
                    f"held-out error {self.error:.1f} points, {band}.")
        if self.paired:
            return (f"Model {self.model}: it misses this account's {self.paired} official "
                    f"score(s) by {self.error:.0f} points on average, {band}; weights are "
                    f"fitted to the account from {MIN_POINTS}.")
        public = (f", which misses Amazon's public official scores by {self.error:.0f} "
                  "points on average" if self.error is not None else "")
        recorded = (f"{self.recorded} official score(s) recorded, none on a day with an "
                    "estimate yet" if self.recorded else "no official score recorded yet")
        return f"Model {self.model}: the default{public}, {band}; {recorded}."

    def record(self, today: date) -> str | None:
        """The command that records this week's official score, unless one of the last 7
        days is recorded: Amazon updates the score weekly."""
        if self.last is not None and (today - self.last).days < 7:
            return None
        return f"ipi official add --account {self.account} --date {today} --score N"

    def ask(self, today: date) -> str | None:
        """The request for this week's official score, with its command."""
        command = self.record(today)
        return f"{self.ASK}: {command}" if command else None


def state(con: duckdb.DuckDBPyConnection, account: str) -> ModelState:
    model = model_for(con, account)
    recorded, last = con.execute("SELECT count(*), max(date) FROM official_score "
                                 "WHERE account = $account", {"account": account}
                                 ).fetchone() or (0, None)
    cal = con.execute("SELECT points, mae, prior_mae, used FROM calibration "
                      "WHERE account = $account", {"account": account}).fetchone()
    paired, mae, prior_mae, used = cal or (0, None, None, False)
    error = (mae if used else prior_mae) if paired else prior.current(con).mae
    return ModelState(account, model.name, recorded, paired, error, model.model_error,
                      bool(used), last)


@dataclass(frozen=True, slots=True)
class Stored:
    """The account's model as stored by ``refit``: the weights used, the fit (JSON, also
    when it is not used), its held-out error and the default's, the band's model part."""

    account: str
    points: int
    w_excess: float
    w_sell_through: float
    w_stranded: float
    w_in_stock: float
    fitted: str | None
    mae: float | None
    prior_mae: float
    model_error: float
    used: bool
    fitted_at: datetime


def calibration(con: duckdb.DuckDBPyConnection, account: str) -> Stored | None:
    """The account's stored model, if it was ever fitted."""
    found = con.execute("SELECT account, points, w_excess, w_sell_through, w_stranded, "
                        "w_in_stock, fitted, mae, prior_mae, model_error, used, fitted_at "
                        "FROM calibration WHERE account = $account",
                        {"account": account}).fetchone()
    return Stored(*found) if found else None
