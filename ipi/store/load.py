"""Load one report file into DuckDB: atomic, idempotent, in SQL.

A load replaces whole (account, marketplace, report type, day) partitions in
one transaction, so dropping the same file twice changes nothing, a corrected
download for a day replaces that day, and a process killed mid-load leaves the
previous state (DuckDB rolls back the open transaction on restart).
"""

from __future__ import annotations

import logging
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from ipi.errors import BadValue
from ipi.reports import REGISTRY, STAGE, ReportSpec, detect, stage
from ipi.settings import MARKETPLACE_TIMEZONES
from ipi.store import Store, asin_day, duck, utcnow
from ipi.store.landing import land, landing_path, sha256_of

log = logging.getLogger(__name__)

# Below this many rows a fall is as likely a small catalogue changing as a broken report.
_MIN_ROWS_FOR_GUARD = 20
# A day's units on hand this many times those of the day before (or a this-th of them)
# load with a warning: stock does not move tenfold overnight, a wrong file does (another
# account's, a partial download). Under _MIN_UNITS_FOR_JUMP units on both days, a
# tenfold move is a few units arriving or selling out in a small catalogue.
_JUMP = 10
_MIN_UNITS_FOR_JUMP = 100
_NAME_DATE = re.compile(r"(?<!\d)(20\d\d)[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])(?!\d)")


def date_from_name(name: str) -> date | None:
    """A YYYY-MM-DD, YYYY_MM_DD or YYYYMMDD date in a file name, if there is one."""
    for m in _NAME_DATE.finditer(name):
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            continue
    return None


def _from_content(con: duckdb.DuckDBPyConnection, column: str | None, rows: int) -> bool:
    """Whether every staged row got ``column`` (a date or marketplace) from the file itself."""
    if not column or not rows:
        return False
    missing = con.execute(f'SELECT count(*) FROM {STAGE} WHERE "{column}" IS NULL').fetchone()
    return bool(missing and missing[0] == 0)


@dataclass
class LoadResult:
    path: Path
    sha256: str
    report_type: str | None = None
    rows: int = 0
    partitions: list[tuple[str, date]] = field(default_factory=list)
    date_source: str | None = None
    skipped: bool = False  # these bytes were already loaded for this account
    warnings: list[str] = field(default_factory=list)  # loaded, but suspicious


def load_file(
    store: Store,
    account: str,
    path: Path,
    *,
    ingest_day: date,
    default_marketplace: str,
    source: str = "file",
    declared_charset: str | None = None,
    day_source: str = "ingestion day",
    now: datetime | None = None,
) -> LoadResult:
    """Detect, parse and load ``path`` for ``account``; raise BadInput if it cannot be.

    ``day_source`` says what ``ingest_day`` is, for ``date_source`` when the rows get
    it: "file time" for an archive member's own time. ``now`` (default: the clock) says
    which snapshot dates are in the future.
    """
    sha = sha256_of(path)
    result = LoadResult(path, sha)
    name_date = date_from_name(path.name)
    default_date = name_date or ingest_day
    with store.begin() as conn:
        con = duck(conn)
        # Bytes loaded before are skipped, unless `ipi forget` took their rows out since.
        seen = con.execute(
            "SELECT report_type FROM ingested_file i WHERE account = ? AND sha256 = ? "
            "AND (date_source = 'content' OR default_date = ?) "
            "AND (marketplace_source = 'content' OR default_marketplace = ?) "
            "AND NOT EXISTS (SELECT 1 FROM forgotten_load f WHERE f.account = i.account "
            "    AND f.sha256 = i.sha256 AND f.forgotten_at >= i.ingested_at)",
            [account, sha, default_date, default_marketplace],
        ).fetchone()
        if seen:
            result.report_type, result.skipped = seen[0], True
            result.partitions = [(m, d) for m, d in con.execute(
                "SELECT marketplace, snapshot_date FROM report_partition WHERE account = ? "
                "AND sha256 = ? ORDER BY 2, 1", [account, sha]).fetchall()]
            return result
        staged = stage(
            con, detect, path,
            default_date=default_date,
            default_marketplace=default_marketplace,
            declared_charset=declared_charset,
        )
        spec = staged.spec
        result.report_type, result.rows = spec.report_type, staged.rows
        result.date_source = (
            "content" if _from_content(con, spec.date_column, staged.rows)
            else "file name" if name_date else day_source
        )
        marketplace_source = (
            "content" if _from_content(con, spec.marketplace_column, staged.rows) else "default"
        )
        if staged.rows:
            parts = con.execute(
                f"SELECT marketplace, snapshot_date, count(*) FROM {STAGE} "
                "GROUP BY ALL ORDER BY 2, 1"
            ).fetchall()
        else:  # a header-only report is data too: nothing stranded, say
            parts = [(default_marketplace, default_date, 0)]
        result.partitions = [(m, d) for m, d, _ in parts]
        _refuse_future(spec, result, path, now or datetime.now(UTC))
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _ipi_parts (marketplace VARCHAR, snapshot_date DATE, "
            "rows BIGINT)"
        )
        con.executemany("INSERT INTO _ipi_parts VALUES (?, ?, ?)", parts)

        table = spec.table
        skip = {spec.date_column, spec.marketplace_column}
        cols = [c.name for c in spec.columns if c.name not in skip]
        collist = ", ".join(f'"{c}"' for c in cols)
        days = [d for _, d, _ in parts]
        # The date bounds let DuckDB skip the table's other days (row groups hold
        # consecutive loads): a load costs the same however long the history.
        con.execute(
            f"DELETE FROM {table} t USING _ipi_parts p WHERE t.account = ? "
            "AND t.snapshot_date BETWEEN ? AND ? "
            "AND t.marketplace = p.marketplace AND t.snapshot_date = p.snapshot_date",
            [account, min(days), max(days)],
        )
        con.execute(
            f"INSERT INTO {table} (account, marketplace, snapshot_date, sha256, {collist}) "
            f"SELECT ?, marketplace, snapshot_date, ?, {collist} FROM {STAGE}",
            [account, sha],
        )
        loaded_at = utcnow()
        con.execute(
            "INSERT OR REPLACE INTO report_partition "
            "SELECT ?, marketplace, ?, snapshot_date, ?, rows, ?, NULL FROM _ipi_parts",
            [account, spec.report_type, sha, loaded_at],
        )
        result.warnings = _jumps(con, spec, account)
        if spec.report_type in asin_day.SOURCES:
            for sql in asin_day.refresh_sql(
                    "SELECT ? AS account, marketplace, snapshot_date AS d FROM _ipi_parts",
                    min(days), max(days)):
                con.execute(sql, [account] * sql.count("?"))
        # The bytes go to the landing zone before the commit that points at them.
        land(store.data_dir / "raw", path, sha)
        con.execute(
            "INSERT INTO raw_file VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [sha, path.stat().st_size,
             str(landing_path(Path("raw"), sha)), loaded_at],
        )
        con.execute(
            "INSERT OR REPLACE INTO ingested_file VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [account, sha, spec.report_type, path.name, source, staged.charset,
             result.date_source, staged.rows, default_date, default_marketplace,
             marketplace_source, loaded_at],
        )
        con.execute(f"DROP TABLE {STAGE}")
        con.execute("DROP TABLE _ipi_parts")
    days = sorted({d for _, d in result.partitions})
    log.info("loaded %s: %s, %d rows, %s %s", path.name, spec.report_type, staged.rows,
             "/".join(sorted({m for m, _ in result.partitions})),
             f"{days[0]}..{days[-1]} ({len(days)} days)" if len(days) > 1 else days[0])
    return result


def _refuse_future(spec: ReportSpec, result: LoadResult, path: Path, now: datetime) -> None:
    """Refuse a file with a snapshot dated after tomorrow in its marketplace's time zone.

    Tomorrow, not today: Amazon dates reports in the marketplace's zone, which can be a
    day ahead of the machine's. A later date is a wrong file or a wrong clock, and loaded
    it would become the account's latest day, which alerts and freshness key on.
    """
    for mp, day in result.partitions:
        tz = MARKETPLACE_TIMEZONES.get(mp, "UTC")
        tomorrow = now.astimezone(zoneinfo.ZoneInfo(tz)).date() + timedelta(days=1)
        if day <= tomorrow:
            continue
        if result.date_source == "content":
            date_col = next(c for c in spec.columns if c.name == spec.date_column)
            what, fix = f"{date_col.headers[0]} {day}", "the file's dates"
        elif result.date_source == "file name":
            what, fix = f"the date in its name, {day},", "the file's name"
        elif result.date_source == "file time":
            what, fix = f"the day it was saved, {day},", "the file's time"
        else:
            what, fix = f"the day it is loaded for, {day},", "--date"
        raise BadValue(f"{what} is after tomorrow ({tomorrow} in {tz}): check {fix} or the "
                       "machine's clock", path=path)


def _jumps(con: duckdb.DuckDBPyConnection, spec: ReportSpec, account: str) -> list[str]:
    """Why the days just loaded (``_ipi_parts``) look wrong: units on hand ten times those
    of the report's previous loaded day for the marketplace, or a tenth of them."""
    if spec.on_hand is None:
        return []
    pairs = con.execute(
        "SELECT p.marketplace, p.snapshot_date, (SELECT max(r.snapshot_date) "
        "    FROM report_partition r WHERE r.account = ? AND r.report_type = ? "
        "    AND r.marketplace = p.marketplace AND r.snapshot_date < p.snapshot_date) "
        "FROM _ipi_parts p", [account, spec.report_type]).fetchall()
    pairs = [p for p in pairs if p[2] is not None]
    if not pairs:
        return []
    con.execute("CREATE OR REPLACE TEMP TABLE _ipi_jump (marketplace VARCHAR, d DATE, "
                "prev DATE)")
    con.executemany("INSERT INTO _ipi_jump VALUES (?, ?, ?)", pairs)
    # The date bounds let DuckDB read only the days compared, however long the history.
    rows = con.execute(f"""
        WITH units AS (
            SELECT t.marketplace, t.snapshot_date AS d, sum({spec.on_hand}) AS units
            FROM {spec.table} t
            JOIN (SELECT marketplace, d FROM _ipi_jump
                  UNION SELECT marketplace, prev FROM _ipi_jump) w
                ON t.marketplace = w.marketplace AND t.snapshot_date = w.d
            WHERE t.account = ? AND t.snapshot_date BETWEEN ? AND ?
            GROUP BY ALL
        )
        SELECT j.marketplace, j.d, coalesce(n.units, 0), j.prev, coalesce(b.units, 0)
        FROM _ipi_jump j
        LEFT JOIN units n ON n.marketplace = j.marketplace AND n.d = j.d
        LEFT JOIN units b ON b.marketplace = j.marketplace AND b.d = j.prev
        WHERE greatest(coalesce(n.units, 0), coalesce(b.units, 0)) >= {_MIN_UNITS_FOR_JUMP}
            AND (coalesce(n.units, 0) >= {_JUMP} * coalesce(b.units, 0)
                 OR {_JUMP} * coalesce(n.units, 0) <= coalesce(b.units, 0))
        ORDER BY 2, 1
        """, [account, min(p[2] for p in pairs), max(p[1] for p in pairs)]).fetchall()
    con.execute("DROP TABLE _ipi_jump")
    out = []
    for mp, day, units, prev_day, prev in rows:
        change = (f"down from {prev:,.0f}" if units < prev else f"up from {prev:,.0f}"
                  if not prev else f"{units / prev:.1f} times the {prev:,.0f}")
        out.append(f"{mp} {spec.report_type} on {day}: {units:,.0f} units on hand, {change} "
                   f"on {prev_day}; loaded, but check that the file is this account's and "
                   f"complete (`ipi forget --account {account} --date {day} --marketplace "
                   f"{mp} --report-type {spec.report_type}` takes it out)")
    return out


def row_drop(store: Store, account: str, result: LoadResult, threshold: float) -> str | None:
    """Why ``result`` looks like a collapsed report (far fewer rows than the last good
    one for the same report and marketplace), or None.

    Amazon's planning report sometimes comes back with a fraction of its rows; read
    as is, it would look like a crash in the score.
    """
    spec = REGISTRY.get(result.report_type or "")
    if spec is None or not spec.steady_rows or not result.partitions or threshold <= 0:
        return None
    reasons = []
    for mp, day in result.partitions:
        rows = store.query(
            "SELECT (SELECT rows FROM report_partition WHERE account = $a AND marketplace = $m "
            "        AND report_type = $t AND snapshot_date = $d) AS now, "
            "       (SELECT rows FROM report_partition WHERE account = $a AND marketplace = $m "
            "        AND report_type = $t AND snapshot_date < $d AND unreliable IS NULL "
            "        AND rows > 0 ORDER BY snapshot_date DESC LIMIT 1) AS good",
            {"a": account, "m": mp, "t": result.report_type, "d": day})[0]
        if (rows["good"] or 0) >= _MIN_ROWS_FOR_GUARD and rows["now"] is not None \
                and rows["now"] < threshold * rows["good"]:
            reasons.append(f"{mp} {result.report_type} on {day} has {rows['now']:,} rows, "
                           f"the last good one {rows['good']:,}")
    return "; ".join(reasons) or None


def mark_unreliable(store: Store, account: str, result: LoadResult, reason: str) -> None:
    with store.begin() as conn:
        duck(conn).executemany(
            "UPDATE report_partition SET unreliable = ? WHERE account = ? AND marketplace = ? "
            "AND report_type = ? AND snapshot_date = ?",
            [[reason, account, mp, result.report_type, day] for mp, day in result.partitions])
