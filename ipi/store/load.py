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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from ipi.errors import BadFile, BadValue
from ipi.reports import (
    REGISTRY,
    STAGE,
    ReportSpec,
    Staged,
    check_unique,
    detect,
    plan_direct,
    stage,
)
from ipi.settings import MARKETPLACE_TIMEZONES
from ipi.store import Store, asin_day, rows, utcnow
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
    # Per partition loaded: the rows of the last good (reliable, non-empty) earlier day
    # of the same report and marketplace, as the load saw it (for ``row_drop``).
    last_good_rows: dict[tuple[str, date], int | None] = field(default_factory=dict,
                                                                repr=False)
    rows_of: dict[tuple[str, date], int] = field(default_factory=dict, repr=False)


class _Again(Exception):
    """DuckDB refused the file read as it is: load it again through the stage."""


# New rows carry a marker in ``sha256`` until the load's end: "~", then 1 or 0 for whether
# the row took the default date, then the same for the marketplace. "~" sorts after every
# hex digit, so the filter on it skips the committed row groups by their min/max.
_NEW = "'~'"


def _values(parts: list[tuple[str, date, int]]) -> str:
    """The loaded partitions as an inline table ``p(marketplace, snapshot_date, rows)``."""
    rows = ", ".join(f"({_lit(m)}, DATE '{d.isoformat()}', {int(n)})" for m, d, n in parts)
    return f"(VALUES {rows}) p(marketplace, snapshot_date, rows)"


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


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
    marketplaces: Sequence[str] | None = None,
) -> LoadResult:
    """Detect, parse and load ``path`` for ``account``; raise BadInput if it cannot be.

    ``day_source`` says what ``ingest_day`` is, for ``date_source`` when the rows get
    it: "file time" for an archive member's own time. ``now`` (default: the clock) says
    which snapshot dates are in the future. ``marketplaces``: the account's; rows naming
    another are left out (a warning), and a file with no row for them is refused.
    """
    sha = sha256_of(path)
    try:
        return _load(store, account, path, sha, ingest_day=ingest_day,
                     default_marketplace=default_marketplace, source=source,
                     declared_charset=declared_charset, day_source=day_source, now=now,
                     direct=True, marketplaces=marketplaces)
    except _Again as again:
        log.debug("%s: read through the stage (%s)", path.name, again)
        return _load(store, account, path, sha, ingest_day=ingest_day,
                     default_marketplace=default_marketplace, source=source,
                     declared_charset=declared_charset, day_source=day_source, now=now,
                     direct=False, marketplaces=marketplaces)


def _insert_new(con: duckdb.DuckDBPyConnection, account: str, path: Path,
                planned: Staged | None, *, default_date: date, default_marketplace: str,
                declared_charset: str | None) -> tuple[ReportSpec, str, bool]:
    """Insert the file's rows into its report's table, marked new (``_NEW``); return the
    spec, the charset read and whether the file was read as it is (``direct``).

    ``planned`` (``plan_direct``): the file can be read as it is, and one read types,
    checks and inserts its rows in one statement; a failure of that statement raises
    ``_Again`` (the transaction is then aborted). Otherwise through the stage, which
    decides the charset on the whole file and names the first bad value.
    """
    staged = planned or stage(con, detect, path, default_date=default_date,
                              default_marketplace=default_marketplace,
                              declared_charset=declared_charset)
    spec = staged.spec
    skip = {spec.date_column, spec.marketplace_column}
    collist = ", ".join(f'"{c.name}"' for c in spec.columns if c.name not in skip)

    def defaulted(column: str | None) -> str:
        return f"""CASE WHEN "{column}" IS NULL THEN '1' ELSE '0' END""" if column else "'1'"

    sql = (f"INSERT INTO {spec.table} (account, marketplace, snapshot_date, sha256, "
           f"{collist}) SELECT $account, marketplace, snapshot_date, {_NEW} || "
           f"{defaulted(spec.date_column)} || {defaulted(spec.marketplace_column)}, "
           f"{collist} FROM {staged.source}")
    try:
        con.execute(sql, {"account": account, **staged.params})
    except duckdb.Error as exc:
        if not staged.direct:
            raise
        raise _Again(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    if not staged.direct:
        con.execute(f"DROP TABLE {STAGE}")
    return spec, staged.charset, staged.direct


def _load(store: Store, account: str, path: Path, sha: str, *, ingest_day: date,
          default_marketplace: str, source: str, declared_charset: str | None,
          day_source: str, now: datetime | None, direct: bool,
          marketplaces: Sequence[str] | None = None) -> LoadResult:
    result = LoadResult(path, sha)
    name_date = date_from_name(path.name)
    default_date = name_date or ingest_day
    # Read the header and write the SQL before the transaction: a daily run's accounts
    # queue for the database's one writer turn, not for this.
    planned = plan_direct(detect, path, default_date=default_date,
                          default_marketplace=default_marketplace,
                          declared_charset=declared_charset) if direct else None
    with store.write() as con:
        # Bytes loaded before are skipped, unless `ipi forget` took their rows out since.
        seen = con.execute(
            "SELECT report_type FROM ingested_file i WHERE account = $account AND sha256 = $sha "
            "AND (date_source = 'content' OR default_date = $default_date) "
            "AND (marketplace_source = 'content' OR default_marketplace = $default_marketplace) "
            "AND NOT EXISTS (SELECT 1 FROM forgotten_load f WHERE f.account = i.account "
            "    AND f.sha256 = i.sha256 AND f.forgotten_at >= i.ingested_at)",
            {"account": account, "sha": sha, "default_date": default_date,
             "default_marketplace": default_marketplace},
        ).fetchone()
        if seen:
            result.report_type, result.skipped = seen[0], True
            result.partitions = [(m, d) for m, d in con.execute(
                "SELECT marketplace, snapshot_date FROM report_partition WHERE account = $account "
                "AND sha256 = $sha ORDER BY 2, 1", {"account": account, "sha": sha}).fetchall()]
            return result
        spec, charset, direct = _insert_new(
            con, account, path, planned, default_date=default_date,
            default_marketplace=default_marketplace, declared_charset=declared_charset)
        table = spec.table
        new = f"account = $account AND sha256 >= {_NEW}"
        if direct:  # the stage checked it otherwise
            check_unique(con, spec, table, path, new, {"account": account})
        foreign = _foreign(con, table, new, account, marketplaces, spec.report_type, path)
        counted = con.execute(
            f"SELECT marketplace, snapshot_date, count(*), max(sha256[2]), max(sha256[3]) "
            f"FROM {table} WHERE {new} GROUP BY ALL ORDER BY 2, 1",
            {"account": account}).fetchall()
        rows = sum(n for _, _, n, _, _ in counted)
        result.report_type, result.rows = spec.report_type, rows
        # Whether every row got its date (marketplace) from the file itself.
        result.date_source = (
            "content" if rows and all(dd == "0" for *_, dd, _ in counted)
            else "file name" if name_date else day_source
        )
        marketplace_source = "content" if rows and all(md == "0" for *_, md in counted) \
            else "default"
        # A header-only report is data too: nothing stranded, say.
        parts = ([(m, d, n) for m, d, n, _, _ in counted]
                 or [(default_marketplace, default_date, 0)])
        result.partitions = [(m, d) for m, d, _ in parts]
        _refuse_future(spec, result, path, now or datetime.now(UTC))

        days = [d for _, d, _ in parts]
        lo, hi = min(days), max(days)
        # The date bounds let DuckDB skip the table's other days (row groups hold
        # consecutive loads): a load costs the same however long the history.
        con.execute(
            f"DELETE FROM {table} t USING {_values(parts)} WHERE t.account = $account "
            "AND t.snapshot_date BETWEEN $lo AND $hi AND t.sha256 < '~' "
            "AND t.marketplace = p.marketplace AND t.snapshot_date = p.snapshot_date",
            {"account": account, "lo": lo, "hi": hi},
        )
        con.execute(f"UPDATE {table} SET sha256 = $sha WHERE {new} "
                    "AND snapshot_date BETWEEN $lo AND $hi",
                    {"sha": sha, "account": account, "lo": lo, "hi": hi})
        loaded_at = utcnow()
        con.execute(
            "INSERT OR REPLACE INTO report_partition (account, marketplace, report_type, "
            "snapshot_date, sha256, rows, loaded_at, unreliable) SELECT $account, marketplace, "
            f"$report_type, snapshot_date, $sha, rows, $loaded_at, NULL FROM {_values(parts)}",
            {"account": account, "report_type": spec.report_type, "sha": sha,
             "loaded_at": loaded_at},
        )
        result.warnings = [*foreign, *_jumps(con, spec, account, parts, result)]
        if spec.report_type in asin_day.SOURCES:
            for sql in asin_day.refresh_sql(
                    f"SELECT $account AS account, marketplace, snapshot_date AS d "
                    f"FROM {_values(parts)}", lo, hi):
                con.execute(sql, {"account": account})
        # The bytes go to the landing zone before the commit that points at them.
        land(store.raw_dir, path, sha)
        con.execute(
            "INSERT INTO raw_file (sha256, size_bytes, landing_path, first_seen_at) "
            "VALUES ($sha, $size, $path, $now) ON CONFLICT DO NOTHING",
            {"sha": sha, "size": path.stat().st_size,
             "path": str(landing_path(store.raw_dir.relative_to(store.data_dir), sha)),
             "now": loaded_at},
        )
        con.execute(
            "INSERT OR REPLACE INTO ingested_file (account, sha256, report_type, original_name, "
            "source, charset, date_source, rows, default_date, default_marketplace, "
            "marketplace_source, ingested_at) VALUES ($account, $sha, $report_type, "
            "$original_name, $source, $charset, $date_source, $rows, $default_date, "
            "$default_marketplace, $marketplace_source, $loaded_at)",
            {"account": account, "sha": sha, "report_type": spec.report_type,
             "original_name": path.name, "source": source, "charset": charset,
             "date_source": result.date_source, "rows": rows,
             "default_date": default_date, "default_marketplace": default_marketplace,
             "marketplace_source": marketplace_source, "loaded_at": loaded_at},
        )
    days = sorted({d for _, d in result.partitions})
    log.info("loaded %s: %s, %d rows, %s %s", path.name, spec.report_type, rows,
             "/".join(sorted({m for m, _ in result.partitions})),
             f"{days[0]}..{days[-1]} ({len(days)} days)" if len(days) > 1 else days[0])
    return result


def _foreign(con: duckdb.DuckDBPyConnection, table: str, new: str, account: str,
             marketplaces: Sequence[str] | None, report_type: str, path: Path) -> list[str]:
    """Leave out the new rows of marketplaces the account does not have (EU reports carry
    the whole region's): a warning naming them; none left at all refuses the file."""
    if not marketplaces:
        return []
    have = list(marketplaces)
    other = con.execute(
        f"SELECT marketplace, count(*) FROM {table} WHERE {new} "
        "AND NOT list_contains($have, marketplace) GROUP BY ALL ORDER BY 1",
        {"account": account, "have": have}).fetchall()
    if not other:
        return []
    con.execute(f"DELETE FROM {table} WHERE {new} AND NOT list_contains($have, marketplace)",
                {"account": account, "have": have})
    # Only a marketplace ipi knows is named: the column is the file's text.
    named = ", ".join(f"{n} row(s) for "
                      f"{m if m in MARKETPLACE_TIMEZONES else 'an unknown marketplace'}"
                      for m, n in other)
    mine = ", ".join(have)
    left = con.execute(f"SELECT count(*) FROM {table} WHERE {new}",
                       {"account": account}).fetchone()
    if left == (0,):
        raise BadFile(f"{report_type}: {named}, none for account {account}'s marketplaces "
                      f"({mine}): add the marketplace to the account, or drop the file for "
                      "the account that sells there", path=path)
    return [f"{named} left out: not one of account {account}'s marketplaces ({mine})"]


def _refuse_future(spec: ReportSpec, result: LoadResult, path: Path, now: datetime) -> None:
    """Refuse a file with a snapshot dated after tomorrow in its marketplace's time zone.

    Tomorrow, not today: Amazon dates reports in the marketplace's zone, which can be a
    day ahead of the machine's. A later date is a wrong file or a wrong clock, and loaded
    it would become the account's latest day, which alerts and freshness key on.
    """
    # No zone is more than 12 hours behind UTC: a day up to the day after UTC-12's is
    # never after tomorrow anywhere (and needs no zone table, nor its import).
    earliest = (now.astimezone(UTC) - timedelta(hours=12)).date() + timedelta(days=1)
    late = [(mp, day) for mp, day in result.partitions if day > earliest]
    if not late:
        return
    from ipi.settings import MARKETPLACE_TIMEZONES  # pydantic: only for a suspect date

    for mp, day in late:
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


def _jumps(con: duckdb.DuckDBPyConnection, spec: ReportSpec, account: str,
           parts: list[tuple[str, date, int]], result: LoadResult) -> list[str]:
    """Why the days just loaded (``parts``) look wrong: units on hand ten times those
    of the report's previous loaded day for the marketplace, or a tenth of them.

    Records in ``result`` the rows of each day's last good earlier day, for ``row_drop``.
    """
    if spec.on_hand is None and not spec.steady_rows:
        return []
    prev = con.execute(
        "SELECT p.marketplace, p.snapshot_date, max(r.snapshot_date), "
        "    arg_max(r.rows, r.snapshot_date) FILTER (WHERE r.unreliable IS NULL "
        "        AND r.rows > 0) "
        f"FROM {_values(parts)} LEFT JOIN report_partition r ON r.account = $account "
        "    AND r.report_type = $report_type AND r.marketplace = p.marketplace "
        "    AND r.snapshot_date < p.snapshot_date "
        "GROUP BY ALL", {"account": account, "report_type": spec.report_type}).fetchall()
    result.last_good_rows = {(m, d): good for m, d, _, good in prev}
    result.rows_of = {(m, d): n for m, d, n in parts}
    pairs = [(m, d, p) for m, d, p, _ in prev if p is not None]
    if spec.on_hand is None or not pairs:
        return []
    jump = ", ".join(f"({_lit(m)}, DATE '{d.isoformat()}', DATE '{p.isoformat()}')"
                     for m, d, p in pairs)
    # The date bounds let DuckDB read only the days compared, however long the history.
    rows = con.execute(f"""
        WITH j AS (SELECT * FROM (VALUES {jump}) j(marketplace, d, prev)),
        units AS (
            SELECT t.marketplace, t.snapshot_date AS d, sum({spec.on_hand}) AS units
            FROM {spec.table} t
            JOIN (SELECT marketplace, d FROM j UNION SELECT marketplace, prev FROM j) w
                ON t.marketplace = w.marketplace AND t.snapshot_date = w.d
            WHERE t.account = $account AND t.snapshot_date BETWEEN $first AND $last
            GROUP BY ALL
        )
        SELECT j.marketplace, j.d, coalesce(n.units, 0), j.prev, coalesce(b.units, 0)
        FROM j
        LEFT JOIN units n ON n.marketplace = j.marketplace AND n.d = j.d
        LEFT JOIN units b ON b.marketplace = j.marketplace AND b.d = j.prev
        WHERE greatest(coalesce(n.units, 0), coalesce(b.units, 0)) >= {_MIN_UNITS_FOR_JUMP}
            AND (coalesce(n.units, 0) >= {_JUMP} * coalesce(b.units, 0)
                 OR {_JUMP} * coalesce(n.units, 0) <= coalesce(b.units, 0))
        ORDER BY 2, 1
        """, {"account": account, "first": min(p for _, _, p in pairs),
              "last": max(d for _, d, _ in pairs)}).fetchall()
    out = []
    for mp, day, units, prev_day, prev in rows:
        change = (f"down from {prev:,.0f}" if units < prev else f"up from {prev:,.0f}"
                  if not prev else f"{units / prev:.1f} times the {prev:,.0f}")
        out.append(f"{mp} {spec.report_type} on {day}: {units:,.0f} units on hand, {change} "
                   f"on {prev_day}; loaded, but check that the file is this account's and "
                   f"complete (`ipi forget --account {account} --date {day} --marketplace "
                   f"{mp} --report-type {spec.report_type}` takes it out)")
    return out


def row_drop(con: duckdb.DuckDBPyConnection, account: str, result: LoadResult,
             threshold: float) -> str | None:
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
        now, good = _rows_and_last_good(con, account, result, mp, day)
        if good is not None and good >= _MIN_ROWS_FOR_GUARD and now is not None \
                and now < threshold * good:
            reasons.append(f"{mp} {result.report_type} on {day} has {now:,} rows, "
                           f"the last good one {good:,}")
    return "; ".join(reasons) or None


def _rows_and_last_good(con: duckdb.DuckDBPyConnection, account: str, result: LoadResult, mp: str,
                        day: date) -> tuple[int | None, int | None]:
    """The rows of a partition ``result`` loaded, and those of the last good (reliable,
    non-empty) earlier day of the same report and marketplace."""
    if (mp, day) in result.last_good_rows:  # as the load saw them, in its transaction
        return result.rows_of.get((mp, day)), result.last_good_rows[(mp, day)]
    row = rows(con, 
        "SELECT (SELECT rows FROM report_partition WHERE account = $a AND marketplace = $m "
        "        AND report_type = $t AND snapshot_date = $d) AS now, "
        "       (SELECT rows FROM report_partition WHERE account = $a AND marketplace = $m "
        "        AND report_type = $t AND snapshot_date < $d AND unreliable IS NULL "
        "        AND rows > 0 ORDER BY snapshot_date DESC LIMIT 1) AS good",
        {"a": account, "m": mp, "t": result.report_type, "d": day})[0]
    return row["now"], row["good"]


def mark_unreliable(con: duckdb.DuckDBPyConnection, account: str, result: LoadResult,
                    reason: str) -> None:
    con.executemany(
        "UPDATE report_partition SET unreliable = $reason WHERE account = $account "
        "AND marketplace = $marketplace AND report_type = $report_type "
        "AND snapshot_date = $day",
        [{"reason": reason, "account": account, "marketplace": mp,
          "report_type": result.report_type, "day": day} for mp, day in result.partitions])
