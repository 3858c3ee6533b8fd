"""Write a large seller's report history for the backfill benchmark.

One account, marketplace US, ``--skus`` SKUs (default 20,000) over ``--days``
days (default 730) ending on ``--end`` (default 2026-03-01), as a seller keeps
them from Seller Central:

* ``planning/planning-<day>.txt``: GET_FBA_INVENTORY_PLANNING_DATA, one per day,
  the live header (``ipi.demo.PLANNING_HEADER``) cut down to the columns ipi reads
  and the factors use (the full 43 columns would be ~2.5x the bytes); like
  Amazon's, it leaves most out-of-stock SKUs out;
* ``myi/myi-<day>.txt``: GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA, one per day, the
  full header (``ipi.demo.MYI_HEADER``), every SKU, zero stock included; the report
  has no date column, so the day is in the file name;
* ``stranded/stranded-<day>.txt``: GET_STRANDED_INVENTORY_UI_DATA, one per day, a
  few hundred rows at the default size (header-only on a day with none);
* ``ledger/ledger-<first>_<last>.txt``: GET_LEDGER_SUMMARY_VIEW_DATA in 30-day files
  counted back from ``--end`` (so the newest holds exactly the last 30 days; the
  oldest is shorter), MM/DD/YYYY dates, a SELLABLE row per FNSKU and day with
  stock or movement, and a CUSTOMER_DAMAGED row per day for SKUs holding
  unsellable units.

The quantities follow one closed-form model per SKU, so the reports agree with
each other: stock runs down in replenishment cycles of 20-90 days at a
seasonal daily demand, two in five SKUs run out before the next delivery,
a tenth are slow movers sitting on excess; ledger ending balances are the MYI
warehouse quantities and each ledger row balances (start + events = end).
Pseudo-random values come from ``hash``, so the output depends only on the
options.

Each report type is one DuckDB ``COPY (SELECT ... FROM range() x range()) TO
folder (PARTITION_BY ...)`` statement; the partition files are then renamed
into place. Finally the folder is packed into ``history-<skus>x<days>.zip``
(ZIP_DEFLATED, ``--zip-level``, default 1; ``--zip-level 0`` stores the files),
the "archive" of the benchmark.

    python -m bench.generate_history                          # 20,000 x 730 into bench/out
    python -m bench.generate_history --skus 500 --days 150    # a small one
    python -m bench.generate_history --skus 20 --days 30 --out /tmp/h   # the smallest (1 s)

``--days`` is at least 30, the days of one ledger file.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import zipfile
from datetime import date, timedelta
from pathlib import Path

import duckdb

from ipi.demo import MYI_HEADER, PLANNING_HEADER, STRANDED_HEADER

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
END = date(2026, 3, 1)
LEDGER_DAYS = 30  # days per ledger file
LEDGER_HEADER = [
    "Date", "FNSKU", "ASIN", "MSKU", "Title", "Disposition", "StartingWarehouseBalance",
    "InTransitBetweenWarehouses", "Receipts", "CustomerShipments", "CustomerReturns",
    "VendorReturns", "WarehouseTransferIn/Out", "Found", "Lost", "Damaged", "Disposed",
    "OtherEvents", "EndingWarehouseBalance", "UnknownEvents", "Location",
]
# Of the live planning header (in its order), what ipi reads for the factors, plus
# what a seller looks at.
_PLANNING_KEEP = {
    "snapshot-date", "sku", "fnsku", "asin", "product-name", "condition", "available",
    "units-shipped-t30", "units-shipped-t60", "units-shipped-t90", "recommended-action",
    "sell-through", "marketplace", "days-of-supply", "estimated-excess-quantity",
    "Total Reserved Quantity", "unfulfillable-quantity",
}
PLANNING_COLUMNS = [h for h in PLANNING_HEADER if h in _PLANNING_KEEP]
if len(PLANNING_COLUMNS) != len(_PLANNING_KEEP):  # ipi.demo renamed one: follow it here
    raise SystemExit(f"not in ipi.demo.PLANNING_HEADER: {_PLANNING_KEEP - set(PLANNING_HEADER)}")
# The folder of each report type, and the file name prefix.
KINDS = {
    "GET_FBA_INVENTORY_PLANNING_DATA": "planning",
    "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA": "myi",
    "GET_STRANDED_INVENTORY_UI_DATA": "stranded",
    "GET_LEDGER_SUMMARY_VIEW_DATA": "ledger",
}

_NOUNS = ["Mug", "Lamp", "Kettle", "Jar", "Towel", "Candle", "Basket", "Vase", "Bowl", "Tray",
          "Pillow", "Blanket", "Crêpe Pan", "Café Press", "Knife Set"]
_STRANDED = [("Listing closed", "Relist"), ("Missing price", "Add price"),
             ("Listing error", "Fix listing")]

_CSV = "FORMAT csv, DELIMITER '\t', HEADER, QUOTE '', ESCAPE '', NULLSTR ''"


def _list(items: list[str]) -> str:
    return "[" + ", ".join("'" + s.replace("'", "''") + "'" for s in items) + "]"


def _pick(items: list[str], key: str) -> str:
    return f"{_list(items)}[1 + (hash({key}) % {len(items)})::INTEGER]"


def _u(key: str) -> str:
    """A pseudo-random DOUBLE in [0, 1) from the hash of ``key`` (SQL expressions)."""
    return f"((hash({key}) % 1000003)::DOUBLE / 1000003)"


def _setup(con: duckdb.DuckDBPyConnection, skus: int, days: int, end: date, seed: int) -> None:
    """The views every report selects from: ``sku`` (constants) and ``sd`` (SKU x day)."""
    s = seed * 100
    start = end - timedelta(days=days - 1)
    con.execute(f"""
        CREATE TEMP VIEW sku AS
        SELECT i,
            'SKU-' || lpad(i::VARCHAR, 6, '0') AS sku,
            'X00' || upper(substr(md5((i + {seed})::VARCHAR), 1, 7)) AS fnsku,
            'B0' || upper(substr(md5((i + {seed})::VARCHAR), 8, 8)) AS asin,
            -- short names: three reports x 15M rows carry one (4 GB is enough as it is)
            {_pick(_NOUNS, f"i, {s + 2}")} AS name,
            round(4.99 + pow({_u(f"i, {s + 3}")}, 2) * 95, 2) AS price,
            -- units sold a day: most SKUs sell little, a few a lot
            0.05 + pow({_u(f"i, {s + 4}")}, 3) * 25 AS lam,
            {_u(f"i, {s + 5}")} * 0.6 AS amp,                 -- seasonal swing
            {_u(f"i, {s + 6}")} * 365 AS phase,
            (20 + floor({_u(f"i, {s + 7}")} * 70))::BIGINT AS cyc,  -- days between deliveries
            -- stock at a delivery, in cycles of demand: under 1 runs out before the next;
            -- slow movers hold several cycles (excess)
            CASE WHEN {_u(f"i, {s + 8}")} < 0.1 THEN 2 + {_u(f"i, {s + 9}")} * 2
                 ELSE 0.6 + {_u(f"i, {s + 9}")} * 0.9 END AS cover,
            (hash(i, {s + 10}) % 997)::BIGINT AS off,
            CASE WHEN {_u(f"i, {s + 11}")} < 0.06 THEN (1 + hash(i, {s + 12}) % 4)::BIGINT
                 ELSE 0 END AS unsell
        FROM range({skus}) r(i)
    """)
    # stock(t): on hand (sellable, reserved included) at the end of day t.
    con.execute("""
        CREATE TEMP MACRO season(amp, phase, t) AS 1 + amp * sin(2 * pi() * (t + phase) / 365);
    """)
    con.execute("""
        CREATE TEMP MACRO stock(lam, amp, phase, cyc, cover, off, t) AS
            greatest(0, round(lam * season(amp, phase, t)
                              * (cover * cyc - ((t + off) % cyc))))::BIGINT;
    """)
    st = "stock(lam, amp, phase, cyc, cover, off, {t})"
    con.execute(f"""
        CREATE TEMP VIEW sd AS
        SELECT *, floor(stock * 0.04)::BIGINT AS reserved
        FROM (
            SELECT k.*, t, DATE '{start.isoformat()}' + t::INTEGER AS d,
                {days - 1} - t AS back,  -- days before the end
                {st.format(t="t")} AS stock,
                {st.format(t="t - 1")} AS prev,
                {st.format(t="t - 30")} AS s30,
                {st.format(t="t - 60")} AS s60,
                {st.format(t="t - 90")} AS s90,
                (t + off) % cyc AS pos,
                lam * least(cover, 1) AS rate  -- units shipped a day over a cycle, on average
            FROM sku k, range({days}) r(t)
        )
    """)


def _planning_sql(s: int) -> str:
    key = f"i, t, {s}"
    season = "season(amp, phase, t - {k})"
    t30 = f"round(30 * rate * {season.format(k=15)} * (0.9 + 0.2 * {_u(key + ' + 1')}))"
    t60 = f"round(30 * rate * {season.format(k=45)} * (0.9 + 0.2 * {_u(key + ' + 2')}))"
    t90 = f"round(30 * rate * {season.format(k=75)} * (0.9 + 0.2 * {_u(key + ' + 3')}))"
    exprs = {
        "snapshot-date": "strftime(d, '%Y-%m-%d')",
        "sku": "sku", "fnsku": "fnsku", "asin": "asin", "product-name": "name",
        "condition": "'New'",
        "available": "avail",
        "units-shipped-t30": "t30",
        "units-shipped-t60": "t60",
        "units-shipped-t90": "t90",
        "recommended-action": "CASE WHEN excess > 0 AND cover > 2 THEN 'Create removal order' "
                              "WHEN excess > 0 THEN 'Create sales' "
                              "WHEN dos < 14 THEN 'Restock' ELSE 'No action' END",
        # Amazon's: units shipped in 90 days over the mean stock today, 30, 60 and 90 days ago
        "sell-through": "printf('%.2f', t90 / greatest((stock + s30 + s60 + s90 + 4 * unsell)"
                        " / 4.0, 1))",
        "marketplace": "'US'",
        "days-of-supply": "dos",
        "estimated-excess-quantity": "excess",
        "Total Reserved Quantity": "reserved",
        "unfulfillable-quantity": "unsell",
    }
    cols = ",\n            ".join(f'{exprs[h]} AS "{h}"' for h in PLANNING_COLUMNS)
    return f"""
        SELECT back AS _part,
            {cols}
        FROM (
            SELECT *, least(round(avail / greatest(t30 / 30.0, 0.02)), 999)::BIGINT AS dos,
                greatest(0, round(stock + unsell - 90 * t30 / 30.0))::BIGINT AS excess
            FROM (
                SELECT *, stock - reserved AS avail,
                    {t30}::BIGINT AS t30,
                    ({t30} + {t60})::BIGINT AS t60,
                    ({t30} + {t60} + {t90})::BIGINT AS t90
                FROM sd
            )
            -- Amazon leaves most out-of-stock SKUs out of this report
            WHERE avail > 0 OR {_u(key + ' + 4')} < 0.1
        )
    """


def _myi_sql() -> str:
    inbound = "CASE WHEN pos >= cyc - 10 THEN round(lam * cover * cyc)::BIGINT ELSE 0 END"
    exprs = {
        "sku": "sku", "fnsku": "fnsku", "asin": "asin", "product-name": "name",
        "condition": "'New'", "your-price": "printf('%.2f', price)",
        "mfn-listing-exists": "'No'", "mfn-fulfillable-quantity": "NULL",
        "afn-listing-exists": "'Yes'",
        "afn-warehouse-quantity": "stock + unsell",
        "afn-fulfillable-quantity": "stock - reserved",
        "afn-unsellable-quantity": "unsell",
        "afn-reserved-quantity": "reserved",
        "afn-total-quantity": f"stock + unsell + {inbound}",
        "per-unit-volume": "NULL",
        "afn-inbound-working-quantity": "0",
        "afn-inbound-shipped-quantity": inbound,
        "afn-inbound-receiving-quantity": "0",
        "afn-researching-quantity": "0",
        "afn-reserved-future-supply": "0",
        "afn-future-supply-buyable": "0",
    }
    missing = [h for h in MYI_HEADER if h not in exprs]
    if missing:  # ipi.demo added a column: give it a value here
        raise SystemExit(f"no generator for MYI columns {missing}")
    cols = ",\n            ".join(f'{exprs[h]} AS "{h}"' for h in MYI_HEADER)
    return f"SELECT back AS _part,\n            {cols}\n        FROM sd"


def _stranded_sql(s: int) -> str:
    # Stranded spells of 14 days; about 1.5% of the SKUs in stock are stranded on a day.
    block = "((t + off) // 14)"
    reason = _pick([r for r, _ in _STRANDED], f"i, {block}, {s + 1}")
    action = ("CASE " + " ".join(f"WHEN reason = '{r}' THEN '{a}'" for r, a in _STRANDED)
              + " END")
    exprs = {
        "primary-action": action,
        "date-stranded": "strftime(since, '%Y-%m-%d')",
        "Date-to-take-auto-removal": "strftime(since + 30, '%Y-%m-%d')",
        "status-primary": "'Stranded'", "status-secondary": "NULL",
        "error-message": "reason", "stranded-reason": "reason",
        "asin": "asin", "sku": "sku", "fnsku": "fnsku", "product-name": "name",
        "condition": "'New'", "fulfilled-by": "'Amazon'",
        "fulfillable-qty": "stock - reserved", "your-price": "printf('%.2f', price)",
        "unfulfillable-qty": "unsell", "reserved-quantity": "reserved",
        "inbound-shipped-qty": "0",
    }
    missing = [h for h in STRANDED_HEADER if h not in exprs]
    if missing:
        raise SystemExit(f"no generator for stranded columns {missing}")
    cols = ",\n            ".join(f'{exprs[h]} AS "{h}"' for h in STRANDED_HEADER)
    return f"""
        SELECT back AS _part,
            {cols}
        FROM (
            SELECT *, {reason} AS reason, d - ((t + off) % 14)::INTEGER AS since FROM sd
            WHERE stock > 0 AND {_u(f"i, {block}, {s}")} < 0.015
        )
    """


def _ledger_sql(s: int) -> str:
    key = f"i, t, {s}"
    # One customer return on ~3% of the days a SKU has stock.
    returns = f"CASE WHEN prev > 0 AND {_u(key)} < 0.03 THEN 1 ELSE 0 END"
    sellable = f"""
        SELECT *, stock - prev - receipts + shipped - returns AS other  -- what balances it
        FROM (
            SELECT *, greatest(0, stock - prev + shipped - returns) AS receipts
            FROM (
                SELECT *,
                    CASE WHEN stock < prev THEN prev - stock + returns
                         WHEN prev > 0 THEN round(lam * season(amp, phase, t))::BIGINT
                         ELSE 0 END AS shipped
                FROM (SELECT *, {returns} AS returns FROM sd)
            )
        )
        WHERE prev > 0 OR stock > 0
    """
    row = """
        SELECT back // {n} AS _part, strftime(d, '%m/%d/%Y') AS "Date", fnsku AS "FNSKU",
            asin AS "ASIN", sku AS "MSKU", name AS "Title", {disp} AS "Disposition",
            {start} AS "StartingWarehouseBalance", 0 AS "InTransitBetweenWarehouses",
            {receipts} AS "Receipts", {ship} AS "CustomerShipments",
            {returns} AS "CustomerReturns", 0 AS "VendorReturns",
            0 AS "WarehouseTransferIn/Out", 0 AS "Found", 0 AS "Lost", 0 AS "Damaged",
            0 AS "Disposed", {other} AS "OtherEvents", {end} AS "EndingWarehouseBalance",
            0 AS "UnknownEvents", 'US' AS "Location"
        FROM ({src})
    """
    good = row.format(n=LEDGER_DAYS, disp="'SELLABLE'", start="prev", receipts="receipts",
                      ship="-shipped", returns="returns", other="other", end="stock",
                      src=sellable)
    damaged = row.format(n=LEDGER_DAYS, disp="'CUSTOMER_DAMAGED'", start="unsell",
                         receipts="0", ship="0", returns="0", other="0", end="unsell",
                         src="SELECT * FROM sd WHERE unsell > 0")
    return f"{good}\n    UNION ALL\n{damaged}"


def _copy(con: duckdb.DuckDBPyConnection, select: str, folder: Path) -> None:
    target = str(folder).replace("'", "''")
    con.execute(f"COPY ({select}) TO '{target}' ({_CSV}, PARTITION_BY (_part), "
                "OVERWRITE_OR_IGNORE)")


def _place(parts: Path, dest: Path, name_of: dict[int, str], header: list[str]) -> int:
    """Move ``parts/_part=<k>/data_0.csv`` to ``dest/<name_of[k]>``; return the files placed.

    A partition with no rows gets a header-only file, as Amazon sends one.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for k, name in name_of.items():
        files = list((parts / f"_part={k}").glob("*.csv"))
        if len(files) > 1:
            raise SystemExit(f"partition {k} of {parts} was written as {len(files)} files")
        if files:
            files[0].replace(dest / name)
        else:
            (dest / name).write_text("\t".join(header) + "\n", encoding="utf-8")
    shutil.rmtree(parts)
    return len(name_of)


def generate(skus: int, days: int, folder: Path, *, end: date = END, seed: int = 1,
             zip_path: Path | None = None, zip_level: int = 1,
             threads: int | None = None) -> dict[str, object]:
    """Write the history into ``folder`` (replacing it) and pack it into ``zip_path``."""
    if days < LEDGER_DAYS:
        raise SystemExit(f"--days must be at least {LEDGER_DAYS}")
    start = end - timedelta(days=days - 1)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    con = duckdb.connect()
    timings: dict[str, float] = {}
    try:
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        # One open file per partition: 730 days must not be split into several files.
        con.execute(f"SET partitioned_write_max_open_files = {days + 10}")
        con.execute("SET preserve_insertion_order = false")
        _setup(con, skus, days, end, seed)
        s = seed * 100
        daily = {back: (end - timedelta(days=back)).isoformat() for back in range(days)}
        n_ledger = (days + LEDGER_DAYS - 1) // LEDGER_DAYS
        ledger_names = {}
        for k in range(n_ledger):
            last = end - timedelta(days=k * LEDGER_DAYS)
            first = max(start, last - timedelta(days=LEDGER_DAYS - 1))
            ledger_names[k] = f"ledger-{first.isoformat()}_{last.isoformat()}.txt"
        jobs = [
            ("planning", _planning_sql(s + 20), PLANNING_COLUMNS,
             {k: f"planning-{v}.txt" for k, v in daily.items()}),
            ("myi", _myi_sql(), MYI_HEADER, {k: f"myi-{v}.txt" for k, v in daily.items()}),
            ("stranded", _stranded_sql(s + 40), STRANDED_HEADER,
             {k: f"stranded-{v}.txt" for k, v in daily.items()}),
            ("ledger", _ledger_sql(s + 60), LEDGER_HEADER, ledger_names),
        ]
        for kind, sql, header, names in jobs:
            t0 = time.perf_counter()
            _copy(con, sql, tmp / f"_{kind}")
            _place(tmp / f"_{kind}", tmp / kind, names, header)
            timings[kind] = round(time.perf_counter() - t0, 2)
            print(f"  {kind:9s} {len(names):5d} files in {timings[kind]:6.1f}s", flush=True)
    finally:
        con.close()
    shutil.rmtree(folder, ignore_errors=True)
    tmp.replace(folder)

    summary = summarize(folder)
    summary.update(skus=skus, days=days, start=start.isoformat(), end=end.isoformat(),
                   seed=seed, seconds=timings)
    if zip_path is not None:
        t0 = time.perf_counter()
        pack(folder, zip_path, level=zip_level)
        timings["zip"] = round(time.perf_counter() - t0, 2)
        summary["zip"] = {"path": str(zip_path), "bytes": zip_path.stat().st_size,
                          "compression": "deflated" if zip_level else "stored",
                          "level": zip_level}
        print(f"  zip       {zip_path.name}: {zip_path.stat().st_size / 1e6:,.0f} MB "
              f"({'ZIP_DEFLATED level ' + str(zip_level) if zip_level else 'ZIP_STORED'}) "
              f"in {timings['zip']:.1f}s", flush=True)
    (folder / "history.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def summarize(folder: Path) -> dict[str, object]:
    """Files, rows (lines minus headers) and bytes per report type under ``folder``."""
    con = duckdb.connect()
    try:
        kinds: dict[str, dict[str, int]] = {}
        for report_type, kind in KINDS.items():
            files = sorted((folder / kind).glob("*.txt"))
            size = sum(f.stat().st_size for f in files)
            glob = str(folder / kind / "*.txt").replace("'", "''")
            # Counting lines with DuckDB's reader is quicker than Python over 4 GB.
            row = con.execute(
                f"SELECT count(*) FROM read_csv('{glob}', delim='\t', header=true, quote='', "
                "escape='', all_varchar=true, null_padding=true)"
            ).fetchone()
            kinds[report_type] = {"files": len(files), "rows": int(row[0]) if row else 0,
                                  "bytes": size}
    finally:
        con.close()
    return {"kinds": kinds,
            "files": sum(k["files"] for k in kinds.values()),
            "rows": sum(k["rows"] for k in kinds.values()),
            "bytes": sum(k["bytes"] for k in kinds.values())}


def pack(folder: Path, zip_path: Path, *, level: int = 1) -> Path:
    """Zip every report file under ``folder`` (relative paths kept), atomically."""
    tmp = zip_path.with_name(zip_path.name + ".tmp")
    method = zipfile.ZIP_DEFLATED if level else zipfile.ZIP_STORED
    with zipfile.ZipFile(tmp, "w", compression=method,
                         compresslevel=level if level else None) as zf:
        for kind in KINDS.values():
            for f in sorted((folder / kind).glob("*.txt")):
                zf.write(f, f.relative_to(folder).as_posix())
    tmp.replace(zip_path)
    return zip_path


def estimate(skus: int, days: int) -> tuple[int, int]:
    """Rough rows and bytes before writing (measured bytes per row at 20,000 x 730)."""
    rows = {"planning": 0.92, "myi": 1.0, "stranded": 0.014, "ledger": 0.98}
    per_row = {"planning": 97, "myi": 85, "stranded": 140, "ledger": 95}
    n = skus * days
    return (round(sum(n * r for r in rows.values())),
            round(sum(n * rows[k] * per_row[k] for k in rows)))


def default_folder(skus: int, days: int) -> Path:
    return OUT / f"history-{skus}x{days}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skus", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--end", type=date.fromisoformat, default=END,
                    help=f"the last report day (default {END})")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, help="the folder (default bench/out/history-SxD)")
    ap.add_argument("--zip-level", type=int, default=1, choices=range(10),
                    help="deflate level of the zip; 0 stores the files (default 1)")
    ap.add_argument("--no-zip", action="store_true", help="write the folder only")
    args = ap.parse_args(argv)
    folder = args.out or default_folder(args.skus, args.days)
    rows, size = estimate(args.skus, args.days)
    print(f"writing {folder}: {args.skus:,} SKUs x {args.days} days to {args.end}, "
          f"about {rows / 1e6:,.1f}M rows, {size / 1e9:.1f} GB")
    t0 = time.perf_counter()
    summary = generate(args.skus, args.days, folder, end=args.end, seed=args.seed,
                       zip_path=None if args.no_zip else folder.with_suffix(".zip"),
                       zip_level=args.zip_level)
    kinds = summary["kinds"]
    assert isinstance(kinds, dict)
    for report_type, k in kinds.items():
        print(f"  {report_type:40s} {k['files']:5d} files {k['rows']:12,d} rows "
              f"{k['bytes'] / 1e6:9,.0f} MB")
    print(f"wrote {summary['files']:,} files, {summary['rows']:,} rows, "
          f"{summary['bytes'] / 1e9:.2f} GB in {time.perf_counter() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
