"""The public official scores the default model is fitted to and judged on.

``reference.csv`` (package data) holds official IPI scores read from public Seller
Central screenshots, each with the four factor values Amazon showed beside it and
where the image is. Only rows of ``kind`` ``screenshot`` count: Amazon's own page
shows the score and the factors together. ``seller-table`` rows (a seller's own
weekly table) are kept as a second, weaker check; ``no-score`` rows show factor
values where Amazon gave no score ("insufficient historical data"). The
``*_marker`` columns are where Amazon's bar put each factor's marker, as a share of
the bar's length, measured on the image: the evidence for the model's curves.

The prior's weights are chosen the way a seller's calibration chooses (``ipi.score.
calibrate``): weights fitted by least squares, held toward equal ones, are used only
if, leave-one-out (each official score predicted by weights fitted without it),
they miss by less than equal weights do. The band's model part is the
``BAND_QUANTILE`` quantile of the chosen weights' held-out errors, and its coverage
is judged the same way (each score against a band made without it).

Sellers can add their own rows (``ipi official export --anonymous`` on one
installation, ``ipi official import-reference`` on another): ``check_rows`` refuses
anything that is not an official score with its factor values.

Pure: reads the packaged file (or rows given), no clock, no database.
"""

from __future__ import annotations

import csv
import io
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from ipi.errors import ConfigError
from ipi.score.calibrate import Point, fit
from ipi.score.model import ALL_FACTORS, estimate, factors_for

if TYPE_CHECKING:
    import numpy as np

COLUMNS = ("source", "week", "marketplace", "ipi", "excess_pct", "sell_through",
           "stranded_pct", "in_stock_pct", "excess_marker", "sell_through_marker",
           "stranded_marker", "in_stock_marker", "kind", "notes")
VALUE_COLUMNS = {"excess": "excess_pct", "sell_through": "sell_through",
                 "stranded": "stranded_pct", "in_stock": "in_stock_pct"}
KINDS = ("screenshot", "seller-table", "no-score", "shared")
COUNTED = ("screenshot", "shared")  # rows the prior is fitted to and judged on
EQUAL = {f: 1.0 / len(ALL_FACTORS) for f in ALL_FACTORS}
RIDGE_POINTS = 10.0  # as a seller's calibration: 0.1 of weight costs one score missed by 10
BAND_QUANTILE = 0.9


@dataclass(frozen=True)
class Row:
    """One reference row: an official score (None: Amazon gave none) and the factor
    values Amazon showed beside it (in-stock as a rate, 0-1)."""

    source: str
    week: str
    marketplace: str
    ipi: float | None
    values: Mapping[str, float | None]
    kind: str
    markers: Mapping[str, float] = field(default_factory=dict)
    notes: str = ""

    @property
    def point(self) -> Point:
        return Point(self.values, factors_for(self.marketplace or "US"), float(self.ipi or 0))


def _num(text: str, where: str, column: str) -> float | None:
    text = (text or "").strip().rstrip("%")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{where}: {column} must be a number; fix or empty the cell"
                          ) from None


def parse(text: str, name: str = "reference.csv") -> list[Row]:
    """Rows of a reference CSV; any bad row refuses the file, naming its line."""
    reader = csv.DictReader(io.StringIO(text))
    heads = set(reader.fieldnames or ())
    need = {"ipi", "kind", *VALUE_COLUMNS.values()}
    if not need <= heads:
        raise ConfigError(f"{name}: the first line must name the columns "
                          f"{', '.join(c for c in COLUMNS if c in need)}; it lacks "
                          f"{', '.join(sorted(need - heads))}")
    rows = []
    for line, raw in enumerate(reader, start=2):
        at = f"{name} line {line}"
        r = {k: (v or "").strip() for k, v in raw.items() if k}
        values = {f: _num(r.get(c, ""), at, c) for f, c in VALUE_COLUMNS.items()}
        if values["in_stock"] is not None:
            values["in_stock"] = values["in_stock"] / 100.0
        markers = {f: m for f in ALL_FACTORS
                   if (m := _num(r.get(f"{f}_marker", ""), at, f"{f}_marker")) is not None}
        rows.append(Row(r.get("source", ""), r.get("week", ""),
                        r.get("marketplace", "").upper(), _num(r["ipi"], at, "ipi"), values,
                        r["kind"], markers, r.get("notes", "")))
        check_row(rows[-1], at)
    return rows


MAX_BYTES = 10 * 1024 * 1024


def read(path: Path) -> list[Row]:
    """Rows of a reference CSV a seller was given: a regular UTF-8 file of at most
    ``MAX_BYTES``, every row valid, else one line naming the file and the fix."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{path} is not a regular file: give the CSV itself")
        if st.st_size > MAX_BYTES:
            raise ConfigError(f"{path} is {st.st_size:,} bytes, over {MAX_BYTES:,}: a "
                              "reference CSV is a few lines per official score")
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a UTF-8 text file: save it as CSV") from None
    return parse(text, str(path))


def check_row(row: Row, at: str) -> None:
    """A counted row is an official score with every factor of its marketplace."""
    if row.kind not in KINDS:
        raise ConfigError(f"{at}: kind {row.kind!r} is not one of {', '.join(KINDS)}")
    if row.ipi is not None and not 0 <= row.ipi <= 1000:
        raise ConfigError(f"{at}: ipi {row.ipi:g} is not an IPI: use 0 to 1000")
    if row.kind in COUNTED:
        lacking = [f for f in factors_for(row.marketplace or "US") if row.values[f] is None]
        if row.ipi is None or lacking:
            what = "the official score" if row.ipi is None else ", ".join(
                VALUE_COLUMNS[f] for f in lacking)
            raise ConfigError(f"{at}: a {row.kind} row needs {what}; fill it in or drop "
                              "the row")


def load(extra: Iterable[Row] = ()) -> list[Row]:
    """The packaged reference rows, then ``extra`` (rows an installation imported)."""
    text = files("ipi.score").joinpath("reference.csv").read_text(encoding="utf-8")
    return [*parse(text), *extra]


def counted(rows: Sequence[Row]) -> list[Point]:
    """The rows that count: official scores shown with their factor values."""
    return [r.point for r in rows if r.kind in COUNTED and r.ipi is not None]


def error(point: Point, weights: Mapping[str, float]) -> float:
    """The estimate minus the official score (positive: ipi reads high)."""
    est = estimate(point.values, factors=point.factors, weights=weights).score
    return float(est if est is not None else 0.0) - point.official


def fit_prior(points: Sequence[Point]) -> dict[str, float]:
    """The prior's weights: least squares held toward equal weights."""
    return fit(points, prior=EQUAL, ridge_points=RIDGE_POINTS)


def held_out(points: Sequence[Point]) -> np.ndarray:
    """Each point's error under weights fitted without it."""
    import numpy as np

    return np.array([error(p, fit_prior([*points[:i], *points[i + 1:]]))
                     for i, p in enumerate(points)])


def band(errors: Sequence[float] | np.ndarray) -> float:
    """The band's half-width that holds ``BAND_QUANTILE`` of these errors."""
    import numpy as np

    return float(np.quantile(np.abs(np.asarray(errors, dtype=float)), BAND_QUANTILE))


@dataclass(frozen=True)
class Judgement:
    """How the prior does on official scores it did not see."""

    points: int
    errors: tuple[float, ...]  # held-out error per point
    mae: float  # mean absolute held-out error
    bias: float  # mean held-out error: positive reads high
    covered: int  # points inside a band made without them
    weights: Mapping[str, float]  # the prior's weights
    fitted: bool  # fitted weights beat equal ones, held out
    other_mae: float  # the held-out error of the choice not taken
    model_error: float  # the band's half-width from every point's held-out error

    @property
    def coverage(self) -> float:
        return self.covered / self.points

    def sentence(self) -> str:
        return (f"On {self.points} public official scores, the default model misses by "
                f"{self.mae:.0f} points on average (leave-one-out, {self.bias:+.0f} points "
                f"on balance), and its band of ±{self.model_error:.0f} holds "
                f"{self.covered} of them ({self.coverage:.0%}).")


def _equal_errors(points: Sequence[Point]) -> np.ndarray:
    import numpy as np

    return np.array([error(p, EQUAL) for p in points])


def judge(points: Sequence[Point]) -> Judgement:
    """Choose the prior's weights and band, leave-one-out.

    Two candidates: equal weights (nothing fitted, so every error is held out) and
    weights fitted without each point. The one that misses by less wins, as in a
    seller's calibration. Its band holds ``BAND_QUANTILE`` of its held-out errors;
    coverage is judged with, for each point, a band made from the others only (for
    fitted weights, each of those fitted without the point too)."""
    import numpy as np

    points = list(points)
    equal, fitted = _equal_errors(points), held_out(points)
    use_fit = float(np.abs(fitted).mean()) < float(np.abs(equal).mean())
    errors, other = (fitted, equal) if use_fit else (equal, fitted)
    covered = 0
    for i in range(len(points)):
        others = [*points[:i], *points[i + 1:]]
        rest = held_out(others) if use_fit else np.delete(equal, i)
        covered += bool(abs(errors[i]) <= band(rest))
    return Judgement(len(points), tuple(round(float(e), 1) for e in errors),
                     float(np.abs(errors).mean()), float(errors.mean()), covered,
                     fit_prior(points) if use_fit else dict(EQUAL), use_fit,
                     float(np.abs(other).mean()), float(round(band(errors))))


def seller_table_error(rows: Sequence[Row], weights: Mapping[str, float]) -> list[float]:
    """The model's error on the ``seller-table`` rows (never fitted): a second check."""
    return [round(error(r.point, weights), 1) for r in rows
            if r.kind == "seller-table" and r.ipi is not None]
