"""What every report module shares: column specs, header matching, staging in DuckDB.

A report module declares a ``ReportSpec``; ``stage`` reads the file with
DuckDB's own CSV reader into a temporary table of typed columns named after
the spec, checks types and keys in SQL, and never loops over rows in Python.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import duckdb

from ipi.errors import BadFile, BadInput, BadValue, MissingColumn
from ipi.reports._decode import Prepared, prepared
from ipi.reports._decode import direct as _decode_direct

STAGE = "_ipi_stage"
_BAD = "_ipi_bad"  # a staging-only column: the row failed a value check

# Amazon writes marketplace codes or ids; GB is how some reports spell UK.
MARKETPLACE_IDS = {
    "ATVPDKIKX0DER": "US", "A2EUQ1WTGCTBG2": "CA", "A1AM78C64UM0Y8": "MX",
    "A2Q3Y263D00KWC": "BR", "A1F83G8C2ARO7P": "UK", "A1PA6795UKMFR9": "DE",
    "A13V1IB3VIYZZH": "FR", "APJ6JRA9NG5V4": "IT", "A1RKKUPIHCS9HS": "ES",
    "A1805IZSGTT6HS": "NL", "A2NODRKZP88ZB9": "SE", "A1C3SOZRARQ6R3": "PL",
    "A21TJRUUN4KGV": "IN", "A1VC38T7YXB528": "JP", "A39IBJ37TRP1C6": "AU",
    "A19VAU5U5O7RUS": "SG", "A2VIGQ35RCS4UG": "AE", "A17E79C6D8DWNP": "SA", "GB": "UK",
}


def normalize_header(name: str) -> str:
    """'Total Reserved Quantity', 'total_reserved_quantity' -> 'total-reserved-quantity'."""
    return re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")


@dataclass(frozen=True)
class Column:
    name: str  # our snake_case name, the column in the DuckDB table
    headers: tuple[str, ...]  # Amazon's header names for it, current name first
    type: str = "VARCHAR"  # VARCHAR | BIGINT | DOUBLE | DATE
    required: bool = False
    key: bool = False  # part of the natural key within a (marketplace, day): never empty
    count: bool = False  # a number of units: a negative one is impossible, and refused


@dataclass(frozen=True)
class ReportSpec:
    report_type: str
    table: str
    columns: tuple[Column, ...]
    # Header names typical of this report: detection scores a header by how many it has.
    signature: tuple[str, ...]
    date_column: str | None = None  # a column holding the snapshot date, if the report has one
    marketplace_column: str | None = None
    unique: bool = True  # whether the key columns identify a row (else they only must be set)
    # Whether a sudden fall in rows means a broken report (listings do not vanish
    # overnight), not a real change (stranded rows do go to zero when fixed).
    steady_rows: bool = True
    # A row's units on hand, as SQL over the report's table: a day whose total jumps
    # tenfold (or falls to a tenth) against the previous one loads with a warning.
    on_hand: str | None = None
    description: str = ""
    _by_name: dict[str, Column] = field(default_factory=dict, repr=False, compare=False)

    @property
    def key(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.key)

    def match(self, header: Sequence[str]) -> tuple[int, float]:
        """How many, and what share, of this report's signature headers ``header`` has."""
        have = {normalize_header(h) for h in header}
        hits = sum(normalize_header(s) in have for s in self.signature)
        return hits, hits / len(self.signature)

    def locate(self, header: Sequence[str], path: Path) -> dict[str, int]:
        """Column name -> field index, by header name; error on a missing required column."""
        index: dict[str, int] = {}
        for i, h in enumerate(header):
            index.setdefault(normalize_header(h), i)
        found: dict[str, int] = {}
        for col in self.columns:
            for h in col.headers:
                if normalize_header(h) in index:
                    found[col.name] = index[normalize_header(h)]
                    break
            else:
                if col.required:
                    raise MissingColumn(
                        f"{self.report_type} report lacks the required column "
                        f"'{col.headers[0]}'; download the full report from Seller Central "
                        "(not a custom column selection)",
                        path=path,
                    )
        return found


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _cast(expr: str, type_: str) -> str:
    v = f"NULLIF(trim({expr}), '')"
    if type_ == "DATE":
        # ISO dates (optionally with a time) or US MM/DD/YYYY as some reports write them.
        return (
            f"COALESCE(TRY_CAST(left({v}, 10) AS DATE), "
            f"TRY_CAST(TRY_STRPTIME({v}, '%m/%d/%Y') AS DATE))"
        )
    if type_ in ("BIGINT", "DOUBLE"):
        # A thousands separator is not a decimal point; Amazon writes plain numbers.
        return f"TRY_CAST({v} AS {type_})"
    return v


def _duckdb_error(exc: duckdb.Error, path: Path, n_fields: int) -> BadFile:
    text = str(exc)
    m = re.search(r"CSV Error on Line: (\d+)", text)
    cols = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if m and cols:
        return BadFile(
            f"line {m.group(1)} has {cols.group(2)} fields where the header has "
            f"{cols.group(1)}: the file looks truncated or damaged; download it again",
            path=path,
        )
    first = text.splitlines()[0] if text else type(exc).__name__
    where = f" ({m.group(0)})" if m else ""
    return BadFile(f"DuckDB cannot read it{where}: {first}", path=path)


def _csv_sql(prep: Prepared, found: dict[str, int], *, types: dict[int, str] | None = None,
             extra: bool = False) -> str:
    """The file's columns we use, as text under our names, in file order.

    ``types``: field index -> the type DuckDB's reader gives it (default VARCHAR);
    ``extra``: the fields no column uses too, as ``c<i>`` (so their bytes are checked).
    """
    n = len(prep.header)
    types = types or {}
    cols = "{" + ", ".join(f"'c{i}': '{types.get(i, 'VARCHAR')}'" for i in range(n)) + "}"
    select = [f'c{i} AS "{name}"' for name, i in found.items()]
    if extra:
        select += [f"c{i}" for i in sorted(set(range(n)) - set(found.values()))]
    compression = "gzip" if prep.gzip else "none"
    return (
        f"SELECT {', '.join(select)} FROM read_csv("
        f"{_lit(str(prep.path))}, delim='\\t', header=false, skip=1, quote='', escape='', "
        f"auto_detect=false, compression='{compression}', columns={cols})"
    )


def _read_sql(spec: ReportSpec, prep: Prepared, found: dict[str, int]) -> str:
    return f"CREATE OR REPLACE TEMP TABLE {STAGE}_raw AS {_csv_sql(prep, found)}"


@dataclass(frozen=True)
class _Check:
    column: Column
    kind: str  # type | negative | empty
    cond: str  # on the text columns: true for a row that fails the check


def _value_checks(spec: ReportSpec, found: dict[str, int]) -> list[_Check]:
    """Per check, a condition on the text columns that flags a bad row.

    A typed value that is there but does not cast, a count below zero, an empty key.
    """
    checks = []
    for c in spec.columns:
        if c.name not in found:
            continue
        raw = f'"{c.name}"'
        if c.type != "VARCHAR":
            checks.append(_Check(c, "type", f"NULLIF(trim({raw}), '') IS NOT NULL "
                                             f"AND {_cast(raw, c.type)} IS NULL"))
        if c.count:
            checks.append(_Check(c, "negative", f"{_cast(raw, c.type)} < 0"))
        if c.key:
            checks.append(_Check(c, "empty", f"NULLIF(trim({raw}), '') IS NULL"))
    # The first failure a file has is the one named: a value of the wrong type first.
    order = {"type": 0, "negative": 1, "empty": 2}
    return sorted(checks, key=lambda k: order[k.kind])


def _check_values(con: duckdb.DuckDBPyConnection, spec: ReportSpec, found: dict[str, int],
                  path: Path) -> None:
    checks = _value_checks(spec, found)
    if not checks:
        return
    counts = con.execute(
        f"SELECT {', '.join(f'count(*) FILTER (WHERE {k.cond})' for k in checks)} "
        f"FROM {STAGE}_raw").fetchone() or ()
    for k, n in zip(checks, counts, strict=False):
        if not n:
            continue
        c = k.column
        if k.kind == "empty":
            raise BadValue(
                f"column '{c.headers[0]}' of {spec.report_type} is empty on {n} line(s); "
                "every row needs it",
                path=path,
            )
        # Line numbers count the header as line 1, as an editor shows them.
        (line,) = con.execute(
            f"SELECT line FROM (SELECT row_number() OVER () + 1 AS line, * "
            f"FROM {STAGE}_raw) WHERE {k.cond} ORDER BY line LIMIT 1"
        ).fetchone() or (0,)
        # Positions, never the file's text: a message goes to people and channels.
        if k.kind == "negative":
            raise BadValue(
                f"column '{c.headers[0]}' of {spec.report_type} counts units and cannot be "
                f"negative, but line {line} has a negative value ({n} in all); fix the "
                "file or download it again",
                path=path,
            )
        kind = {"BIGINT": "a whole number", "DOUBLE": "a number", "DATE": "a date"}[c.type]
        raise BadValue(
            f"column '{c.headers[0]}' of {spec.report_type} must hold {kind}, but line "
            f"{line} has something else ({n} bad value(s) in all); fix the file or "
            "download it again",
            path=path,
        )


def _partition_exprs(spec: ReportSpec, found: dict[str, int]) -> tuple[str, str]:
    """The snapshot date and marketplace of a typed row: from the file's columns when it
    has them, else the parameters ``$default_date`` and ``$default_marketplace``."""
    if spec.date_column and spec.date_column in found:
        date_expr = f"COALESCE(\"{spec.date_column}\"::DATE, $default_date::DATE)"
    else:
        date_expr = "$default_date::DATE"
    mp_default = "$default_marketplace::VARCHAR"
    if spec.marketplace_column and spec.marketplace_column in found:
        mcol = f'upper(NULLIF(trim("{spec.marketplace_column}"), \'\'))'
        ids = ", ".join(f"{_lit(k)}: {_lit(v)}" for k, v in MARKETPLACE_IDS.items())
        mp_expr = f"COALESCE(COALESCE(MAP {{{ids}}}[{mcol}], {mcol}), {mp_default})"
    else:
        mp_expr = mp_default
    return date_expr, mp_expr


_NUMERIC = ("BIGINT", "DOUBLE")
CHECK_FAILED = "ipi: a value check failed"


def direct_sql(spec: ReportSpec, prep: Prepared, found: dict[str, int]) -> str:
    """A SELECT of the file's rows as ``stage`` types them (``snapshot_date``,
    ``marketplace``, the spec's columns), in one read and nothing materialized: for an
    INSERT straight into the report's table. Parameters: ``$default_date`` and
    ``$default_marketplace``.

    DuckDB's reader types the numbers itself (cheaper than casting text); a value it
    cannot read, a field that is not UTF-8 (every field is read, used or not), or a row
    failing a check (``_value_checks``: a bad date, a negative count, an empty key)
    makes the statement fail. The caller then loads the file again through ``stage``,
    which reads the same values the same way and names what is wrong.
    """
    types = {i: c.type for c in spec.columns
             if c.type in _NUMERIC and (i := found.get(c.name)) is not None}
    exprs = []
    for c in spec.columns:
        q = f'"{c.name}"'
        if c.name not in found:
            exprs.append(f"CAST(NULL AS {c.type}) AS {q}")
        elif c.type in _NUMERIC:
            exprs.append(q)
        else:
            exprs.append(f"{_cast(q, c.type)} AS {q}")
    conds, counts = [], []
    for k in _value_checks(spec, found):
        if k.kind == "type" and k.column.type in _NUMERIC:
            continue  # the reader's own: a number it cannot read fails the statement
        if k.kind == "negative" and k.column.type in _NUMERIC:
            counts.append(f'"{k.column.name}"')  # typed already
        else:
            conds.append(f"({k.cond})")
    if counts:  # least() passes over NULLs: one comparison per row for all the counts
        conds.append(f"least({', '.join(counts)}) < 0")
    # The fields no column uses: read (so DuckDB checks they are UTF-8), never kept.
    extra = [f"c{i}" for i in sorted(set(range(len(prep.header))) - set(found.values()))]
    if extra:
        conds.append(f"least({', '.join(f'strlen({e})' for e in extra)}) < 0")
    flag = " OR ".join(conds) or "false"
    date_expr, mp_expr = _partition_exprs(spec, found)
    return (
        f"SELECT {date_expr} AS snapshot_date, {mp_expr} AS marketplace, * FROM ("
        f"SELECT {', '.join(exprs)} FROM ({_csv_sql(prep, found, types=types, extra=True)}) "
        f"WHERE CASE WHEN {flag} THEN error({_lit(CHECK_FAILED)}) ELSE true END)"
    )


@dataclass(frozen=True)
class Staged:
    spec: ReportSpec
    rows: int | None  # None: not read yet (``source`` is the file itself)
    charset: str
    # What to read the rows from: the temp table, or (``direct``) a SELECT over the file
    # taking ``params``.
    source: str = STAGE
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def direct(self) -> bool:
        return self.source != STAGE


def plan_direct(spec: ReportSpec | Callable[[Sequence[str], Path], ReportSpec], path: Path,
                *, default_date: date | None, default_marketplace: str | None,
                declared_charset: str | None = None) -> Staged | None:
    """``stage(..., direct=True)``'s answer when the file can be read as it is, from its
    header alone and without a connection (so a load can plan before its transaction);
    None when it must be staged (which then names what is wrong)."""
    prep = _decode_direct(path, declared_charset)
    if not prep:
        return None
    try:
        chosen = spec if isinstance(spec, ReportSpec) else spec(prep.header, path)
        found = chosen.locate(prep.header, path)
    except BadInput:
        return None  # staged, where the charset is decided on the whole file
    return Staged(chosen, None, prep.charset, f"({direct_sql(chosen, prep, found)})",
                  {"default_date": default_date, "default_marketplace": default_marketplace})


def check_unique(con: duckdb.DuckDBPyConnection, spec: ReportSpec, relation: str, path: Path,
                 where: str = "TRUE", params: dict[str, Any] | None = None) -> None:
    """Refuse a report that lists one key twice on a day (BadFile naming the file): in the
    stage, or in the rows a direct load just inserted (``where`` picks them)."""
    if not (spec.key and spec.unique):
        return
    keys = ", ".join(f'"{k}"' for k in spec.key)
    dup = con.execute(
        f"SELECT marketplace, snapshot_date, {keys}, count(*) FROM {relation} "
        f"WHERE {where} GROUP BY ALL HAVING count(*) > 1 LIMIT 1", params or {}).fetchone()
    if dup:
        raise BadFile(f"{spec.report_type}: one {', '.join(spec.key)} appears {dup[-1]} times "
                      "on one day; a report lists each once: download it again", path=path)


def stage(
    con: duckdb.DuckDBPyConnection,
    spec: ReportSpec | Callable[[Sequence[str], Path], ReportSpec],
    path: Path,
    *,
    default_date: date | None,
    default_marketplace: str | None,
    declared_charset: str | None = None,
    direct: bool = False,
) -> Staged:
    """Read ``path`` into the temp table ``_ipi_stage``.

    ``spec`` is the report's spec, or a function choosing it from the header.
    The stage has the spec's columns, typed, plus ``snapshot_date`` and
    ``marketplace`` (from the file when it has them, else the defaults).

    ``direct``: when the file can be read as it is (``_decode.direct``), read only its
    header and return the SELECT that reads, types and checks its rows
    (``direct_sql``) instead, for the caller to insert from; keys are then the
    caller's to check, and a failure of that SELECT means: stage it
    (``direct=False``), which names what is wrong.
    """
    if direct and (planned := plan_direct(spec, path, default_date=default_date,
                                          default_marketplace=default_marketplace,
                                          declared_charset=declared_charset)):
        return planned
    with ExitStack() as stack:
        prep = stack.enter_context(prepared(path, declared_charset))
        if not isinstance(spec, ReportSpec):
            spec = spec(prep.header, path)
        found = spec.locate(prep.header, path)

        exprs = []
        for c in spec.columns:
            exprs.append(f'{_cast(chr(34) + c.name + chr(34), c.type)} AS "{c.name}"'
                         if c.name in found else f'CAST(NULL AS {c.type}) AS "{c.name}"')
        # One read of the file types every value and flags the rows that fail a check
        # (_check_values's conditions); only a flagged file is read again as text, to
        # name its first bad line.
        checks = _value_checks(spec, found)
        flag = " OR ".join(f"({k.cond})" for k in checks) if checks else "false"
        exprs.append(f"({flag}) AS {_BAD}")
        date_expr, mp_expr = _partition_exprs(spec, found)
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {STAGE} AS SELECT {date_expr} AS snapshot_date, "
                f"{mp_expr} AS marketplace, * FROM (SELECT {', '.join(exprs)} "
                f"FROM ({_csv_sql(prep, found)}))",
                {"default_date": default_date, "default_marketplace": default_marketplace},
            )
        except duckdb.Error as exc:
            raise _duckdb_error(exc, path, len(prep.header)) from None
        flagged = con.execute(f"SELECT count(*) FILTER (WHERE {_BAD}) FROM {STAGE}").fetchone()
        if flagged and flagged[0]:
            con.execute(_read_sql(spec, prep, found))
            _check_values(con, spec, found, path)  # raises, naming the first bad line
            con.execute(f"DROP TABLE {STAGE}_raw")
    con.execute(f"ALTER TABLE {STAGE} DROP COLUMN {_BAD}")
    check_unique(con, spec, STAGE, path)
    row = con.execute(f"SELECT count(*) FROM {STAGE}").fetchone()
    return Staged(spec, int(row[0]) if row else 0, prep.charset)


def parse_bytes(spec: ReportSpec, data: bytes, *, charset: str | None = None,
                name: str = "report.tsv") -> list[dict[str, Any]]:
    """Parse a report held in memory into typed rows (for tests and ad-hoc use)."""
    with TemporaryDirectory(prefix="ipi-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        con = duckdb.connect()
        try:
            stage(con, spec, path, default_date=None, default_marketplace=None,
                  declared_charset=charset)
            cur = con.execute(f"SELECT * FROM {STAGE}")
            names = [d[0] for d in cur.description or ()]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        finally:
            con.close()


