"""This installation's default model: the shipped prior, refitted with the official
scores sellers shared (``ipi official import-reference``), and the export that lets a
seller share theirs (``ipi official export --anonymous``).

Imported rows live in ``reference_row``; the prior fitted on the packaged reference set
plus them, in ``score_prior`` (one row). Without imported rows the shipped prior
(``ipi.score.model``) holds and nothing is stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from ipi.safe import csv_text
from ipi.score import reference
from ipi.score.model import (
    ALL_FACTORS,
    DEFAULT_MAE,
    DEFAULT_MODEL_ERROR,
    DEFAULT_WEIGHTS,
    MODEL,
    factors_for,
)
from ipi.store import utcnow


@dataclass(frozen=True)
class Model:
    """What an account's estimates use: weights, the band's model error, and a name
    stored with each estimate."""

    weights: dict[str, float]
    model_error: float
    name: str
    mae: float | None = None  # a default's held-out error on the public official scores


SHIPPED = Model(dict(DEFAULT_WEIGHTS), DEFAULT_MODEL_ERROR, MODEL, DEFAULT_MAE)
_COLS = ("source", "week", "marketplace", "ipi", "excess_pct", "sell_through",
         "stranded_pct", "in_stock_pct", "kind", "notes")


def _key(r: reference.Row) -> str:
    values = [r.marketplace, r.ipi, *(r.values[f] for f in ALL_FACTORS), r.kind]
    return hashlib.sha256(repr(values).encode()).hexdigest()


def imported(con: duckdb.DuckDBPyConnection) -> list[reference.Row]:
    """The rows this installation imported, oldest first."""
    out = []
    for src, week, mp, ipi, ex, st, sd, ins, kind, notes in con.execute(
            f"SELECT {', '.join(_COLS)} FROM reference_row ORDER BY imported_at, key"
    ).fetchall():
        values = {"excess": ex, "sell_through": st, "stranded": sd,
                  "in_stock": None if ins is None else ins / 100.0}
        out.append(reference.Row(src, week or "", mp or "", ipi, values, kind, {},
                                 notes or ""))
    return out


def current(con: duckdb.DuckDBPyConnection) -> Model:
    """The installation's default model: refitted with imported rows, else the shipped."""
    row = con.execute("SELECT name, w_excess, w_sell_through, w_stranded, w_in_stock, "
                      "model_error, mae FROM score_prior").fetchone()
    if row is None:
        return SHIPPED
    name, *weights, model_error, mae = row
    return Model(dict(zip(ALL_FACTORS, weights, strict=True)), model_error, name, mae)


@dataclass(frozen=True)
class Imported:
    added: int  # rows new to this installation
    already: int  # rows it had
    judged: reference.Judgement  # the refitted prior, leave-one-out
    name: str


def import_rows(con: duckdb.DuckDBPyConnection, rows: Sequence[reference.Row]) -> Imported:
    """Add counted rows to the installation's reference set and refit its prior (the
    caller rescores: every account whose estimates carry another model's name)."""
    counted = [r for r in rows if r.kind in reference.COUNTED and r.ipi is not None]
    have = {k for (k,) in con.execute("SELECT key FROM reference_row").fetchall()}
    new = list({_key(r): r for r in counted if _key(r) not in have}.values())
    if new:
        columns = ("key", *_COLS, "imported_at")
        con.executemany(
            f"INSERT INTO reference_row ({', '.join(columns)}) "
            f"VALUES ({', '.join('$' + c for c in columns)})",
            [dict(zip(columns, (
                _key(r), r.source or "imported", r.week, r.marketplace, r.ipi,
                r.values["excess"], r.values["sell_through"], r.values["stranded"],
                None if r.values["in_stock"] is None else 100.0 * r.values["in_stock"],
                r.kind, r.notes, utcnow()), strict=True)) for r in new])
    extra = imported(con)
    judged = reference.judge(reference.counted(reference.load(extra)))
    name = f"{MODEL} +{len(extra)} imported" if extra else MODEL
    con.execute("DELETE FROM score_prior")
    if extra:
        con.execute(
            "INSERT INTO score_prior (name, points, w_excess, w_sell_through, "
            "w_stranded, w_in_stock, model_error, mae, bias, covered, fitted_at) "
            "VALUES ($name, $points, $w_excess, $w_sell_through, $w_stranded, $w_in_stock, "
            "$model_error, $mae, $bias, $covered, $now)",
            {"name": name, "points": judged.points,
             **{f"w_{f}": judged.weights[f] for f in ALL_FACTORS},
             "model_error": judged.model_error, "mae": judged.mae, "bias": judged.bias,
             "covered": judged.covered, "now": utcnow()})
    return Imported(len(new), len(counted) - len(new), judged, name)


# Each official score with the factor values of the estimate it was paired with, and
# nothing else: no account, no SKU, no money.
_EXPORT = """
    SELECT o.marketplace, o.date, o.score, d.date AS day, d.excess_pct, d.sell_through,
           d.stranded_pct, d.in_stock_rate, d.status
    FROM official_score o
    ASOF LEFT JOIN (SELECT * FROM daily_score WHERE score IS NOT NULL) d
      ON d.account = o.account AND d.marketplace = o.marketplace AND o.date >= d.date
    WHERE o.account = $account
    ORDER BY o.date, o.marketplace"""


def export_anonymous(con: duckdb.DuckDBPyConnection, accounts: Sequence[str],
                     pair_days: int) -> tuple[str, int]:
    """The accounts' official scores with ipi's factor values of their day, as reference
    CSV rows (kind ``shared``); how many were left out (no estimate of every factor
    within ``pair_days`` before)."""
    rows: list[list[str]] = []
    skipped = 0
    for account in accounts:
        for mp, day, score, paired, ex, st, sd, ins, status in con.execute(
                _EXPORT, {"account": account}).fetchall():
            values = {"excess": ex, "sell_through": st, "stranded": sd, "in_stock": ins}
            if paired is None or (day - paired).days > pair_days or status not in (
                    "ok", "approximate") or any(
                    values[f] is None for f in factors_for(mp)):
                skipped += 1
                continue
            year, week, _ = day.isocalendar()
            rows.append(["shared via ipi official export", f"{year}-W{week:02d}", mp,
                        f"{score:.0f}", _fmt(ex), _fmt(st), _fmt(sd),
                        _fmt(None if ins is None else 100 * ins), "", "", "", "",
                        "shared", f"factor values computed by ipi ({status})"])
    return csv_text(reference.COLUMNS, rows), skipped


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}"
