"""Take a load back out: the rows of a day that should never have been loaded.

A file from another account, or dated 2099 by a machine whose clock was wrong, loads
as any other. Forgetting removes the day's typed rows and their partitions and
rebuilds the day's ``asin_day`` from what is left, in one transaction. The raw bytes
stay (``raw_file``, the landing zone, ``ingested_file``): the removal is recorded in
``forgotten_load``, and the same file dropped again loads again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from ipi.errors import NotFound
from ipi.reports import REGISTRY
from ipi.store import asin_day, utcnow


@dataclass(frozen=True)
class Forgotten:
    marketplace: str
    report_type: str
    snapshot_date: date
    rows: int
    sha256: str  # the file the rows came from; its bytes are kept


def forget_day(con: duckdb.DuckDBPyConnection, account: str, day: date, *,
               marketplace: str | None = None, report_type: str | None = None,
               reason: str = "ipi forget") -> list[Forgotten]:
    """Remove ``account``'s loads of ``day`` (every marketplace and report type, or the
    one named) and record it; raise NotFound, changing nothing, when none match."""
    if report_type is not None and report_type not in REGISTRY:
        raise NotFound(f"no report type {report_type}: ipi loads {', '.join(REGISTRY)}")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ipi_forget AS SELECT account, marketplace, "
        "report_type, snapshot_date, sha256, rows, loaded_at FROM report_partition "
        "WHERE account = $account AND snapshot_date = $day "
        "AND marketplace = coalesce($marketplace, marketplace) "
        "AND report_type = coalesce($report_type, report_type)",
        {"account": account, "day": day, "marketplace": marketplace,
         "report_type": report_type})
    gone = [Forgotten(*r) for r in con.execute(
        "SELECT marketplace, report_type, snapshot_date, rows, sha256 FROM _ipi_forget "
        "ORDER BY marketplace, report_type").fetchall()]
    if not gone:
        raise NotFound(_nothing(con, account, day, marketplace, report_type))
    for rt in sorted({f.report_type for f in gone}):
        # The date bound lets DuckDB skip the table's other days.
        con.execute(
            f"DELETE FROM {REGISTRY[rt].table} t USING _ipi_forget f "
            "WHERE t.account = f.account AND t.marketplace = f.marketplace "
            "AND t.snapshot_date = f.snapshot_date AND f.report_type = $rt "
            "AND t.snapshot_date = $day", {"rt": rt, "day": day})
    con.execute(
        "DELETE FROM report_partition r USING _ipi_forget f WHERE r.account = f.account "
        "AND r.marketplace = f.marketplace AND r.report_type = f.report_type "
        "AND r.snapshot_date = f.snapshot_date")
    con.execute(
        "INSERT INTO forgotten_load (account, marketplace, report_type, snapshot_date, "
        "sha256, rows, loaded_at, reason, forgotten_at) SELECT account, marketplace, "
        "report_type, snapshot_date, sha256, rows, loaded_at, $reason, $now FROM _ipi_forget",
        {"reason": reason, "now": utcnow()})
    # The day's other reports may remain (MYI without the planning report, say).
    for sql in asin_day.refresh_sql(
            "SELECT DISTINCT account, marketplace, snapshot_date AS d FROM _ipi_forget",
            day, day):
        con.execute(sql)
    con.execute("DROP TABLE _ipi_forget")
    return gone


def _nothing(con: duckdb.DuckDBPyConnection, account: str, day: date,
             marketplace: str | None, report_type: str | None) -> str:
    """What was looked for, and what there is instead."""
    what = " ".join(x for x in (account, marketplace, report_type) if x)
    that_day = con.execute(
        "SELECT marketplace || ' ' || report_type FROM report_partition "
        "WHERE account = $account AND snapshot_date = $day ORDER BY 1",
        {"account": account, "day": day}).fetchall()
    if that_day:
        there = f"on {day} it has {', '.join(r[0] for r in that_day)}"
    else:
        latest = con.execute("SELECT max(snapshot_date) FROM report_partition "
                             "WHERE account = $account", {"account": account}).fetchone()
        there = (f"its latest loaded day is {latest[0]}; `ipi score --account {account} "
                 "--history 30` lists the days with estimates" if latest and latest[0]
                 else f"nothing is loaded for {account} at all")
    return f"nothing loaded for {what} on {day} to forget: {there}"
