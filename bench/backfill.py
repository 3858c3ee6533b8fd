"""Backfill benchmark: a large seller's 730-day archive, ingested and recomputed.

The requirements (issue "history backfill and recompute"), for 20,000 SKUs and
730 days of daily snapshots and ledger (``bench/generate_history.py``):

* recompute one day: ``score_range`` of the last day on the database holding
  730 days takes at most 1.5x the same on a database holding only the last 30
  days (the daily cost must not grow with the history);
* full recompute: ``score_range`` of all 730 days takes at most 10x one full
  scan of the stored snapshot rows (``count(*)`` and ``sum(hash(...))`` over the
  columns the factor SQL reads, in the four report tables of the same database);
* archive ingest: ipi's ``load_file`` for every file of the archive, against
  DuckDB alone reading the same files (one ``CREATE TABLE AS SELECT * FROM
  read_csv([files])`` per report type, DuckDB's defaults but the ledger's US date
  format); rows per second and the ratio (reported, no limit).

Every measurement runs in its own subprocess (imports and the opening of the
database are done before the clock starts); the recompute sides alternate,
``--repeat`` (5) times for one day and ``--repeat-full`` (3) times for the full
recompute, and the best of each side is compared. The ingest is slow (2,190
files, 40M rows) and is measured once; it leaves the 730-day database at
``bench/out/history-<skus>x<days>.duckdb`` and the 30-day one beside it
(``-last30.duckdb``), which ``--skip-ingest`` reuses.

    python -m bench.backfill                              # 20,000 x 730 (generated if missing)
    python -m bench.backfill --skus 500 --days 150        # a quick run
    python -m bench.backfill --skip-ingest                # recompute only, on the stored dbs
    python -m bench.backfill --skus 20 --days 30 --repeat 1 --repeat-full 1 \
        --max-day-ratio 100 --max-full-ratio 100          # the smallest (about 15 s)

Exits 1 if a target is missed; at the smallest sizes the timings are mostly fixed
costs and noise, hence the loose limits there. With ``--days`` 30 or fewer the
30-day database holds the same files as the full one: it is a copy of it, not a
second ingest. The history, the databases and the results (``backfill.json``) go
to ``--out-dir`` (default ``bench/out/``, git-ignored).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.generate_history import END, KINDS, generate

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"

ACCOUNT = "bench"
MARKETPLACE = "US"
SHORT_DAYS = 30  # the history of the small database
# The report tables the factors read, and the columns every scan includes.
TABLES = ("fba_inventory_planning", "fba_myi_inventory", "stranded_inventory",
          "ledger_summary")
_ALWAYS = ("account", "marketplace", "snapshot_date")


# --- children: one measurement each, printed as one JSON line on stdout ----------------


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kb / 1024 if sys.platform != "darwin" else kb / (1024 * 1024)


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _child_ingest_baseline(spec: dict[str, Any]) -> dict[str, Any]:
    import duckdb

    by_type: dict[str, list[str]] = {}
    for path, report_type, _ in spec["files"]:
        by_type.setdefault(report_type, []).append(path)
    rows: dict[str, int] = {}
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    con = duckdb.connect(spec["db"])
    for i, (report_type, paths) in enumerate(by_type.items()):
        # DuckDB's defaults, but for the ledger's US dates: sniffed on the first file
        # alone, 03/02..03/11 read as day/month and a later 03/13 fails.
        extra = ", dateformat='%m/%d/%Y'" if report_type == "GET_LEDGER_SUMMARY_VIEW_DATA" else ""
        t1 = time.perf_counter()
        con.execute(f"CREATE TABLE t{i} AS SELECT * FROM read_csv({_sql_list(paths)}, "
                    f"delim='\\t', header=true{extra})")
        row = con.execute(f"SELECT count(*) FROM t{i}").fetchone()
        rows[report_type] = int(row[0]) if row else 0
        seconds[report_type] = round(time.perf_counter() - t1, 3)
    con.close()  # the checkpoint that writes the tables out is part of the cost
    return {"seconds": time.perf_counter() - t0, "rows": sum(rows.values()),
            "files": len(spec["files"]), "rows_by_type": rows, "seconds_by_type": seconds}


def _archive_files(zip_path: Path, work: Path) -> Any:
    """(path, marketplace, charset, source) of each report in the zip, through ipi's reader.

    ``ipi.sources.archive.members`` hands over one member at a time as a temporary
    copy, so the extraction is part of ipi's time, as in a real archive backfill.
    """
    from ipi.sources.archive import Refused, members

    for m in members(zip_path, workdir=work):
        if isinstance(m, Refused):
            raise SystemExit(f"{zip_path}: {m.name} refused: {m.reason}")
        yield m.path, MARKETPLACE, None, "file"


def _child_ingest_ipi(spec: dict[str, Any]) -> dict[str, Any]:
    from ipi.store import Store
    from ipi.store.load import date_from_name, load_file

    end = date.fromisoformat(spec["end"])
    work = Path(spec["work"])
    if spec.get("zip"):
        files: Any = _archive_files(Path(spec["zip"]), work)
        total = len(spec["files"])  # the same reports as the folder
    else:
        files = ((Path(p), MARKETPLACE, None, "file") for p, _, _ in spec["files"])
        total = len(spec["files"])
    rows: dict[str, int] = {}
    marks: list[tuple[int, int, float]] = []  # (files, rows, seconds) along the way
    n = n_rows = 0
    t0 = time.perf_counter()
    store = Store(Path(spec["db"]), data_dir=work / "data")
    # As ipi.backfill.backfill_files does: one connection held over the whole run, in
    # bulk (the write-ahead log checkpointed once, at the end: counted here).
    with store.session(bulk=True):
        for path, marketplace, charset, source in files:
            result = load_file(store, ACCOUNT, path,
                               ingest_day=date_from_name(path.name) or end,
                               default_marketplace=marketplace, source=source,
                               declared_charset=charset)
            if result.skipped or result.report_type is None:
                raise SystemExit(f"unexpected load result: {result}")
            rows[result.report_type] = rows.get(result.report_type, 0) + result.rows
            n += 1
            n_rows += result.rows
            if n % 100 == 0 or n == total:
                el = time.perf_counter() - t0
                marks.append((n, n_rows, round(el, 2)))
                print(f"    ipi ingest: {n}/{total or '?'} files, {n_rows:,} rows, {el:.0f}s, "
                      f"{n_rows / el:,.0f} rows/s", file=sys.stderr, flush=True)
    store.engine.dispose()
    return {"seconds": time.perf_counter() - t0, "rows": n_rows, "files": n,
            "rows_by_type": rows, "progress": marks}


def _child_score(spec: dict[str, Any]) -> dict[str, Any]:
    from ipi.score import score_range
    from ipi.store import Store

    store = Store(Path(spec["db"]), data_dir=Path(spec["work"]))
    store.migrate()
    start, end = date.fromisoformat(spec["start"]), date.fromisoformat(spec["end"])
    with store.session():  # opening the database is not what is measured
        t0 = time.perf_counter()
        with store.write() as con:
            run = score_range(con, ACCOUNT, start, end)
        seconds = time.perf_counter() - t0
    store.engine.dispose()
    expected = (end - start).days + 1
    if run.days != expected:
        raise SystemExit(f"score_range computed {run.days} days of {start}..{end}, "
                         f"not {expected}: is the database complete?")
    return {"seconds": seconds, "days": run.days, "changed": run.changed}


def _scan_columns(con: Any) -> dict[str, list[str]]:
    """Per report table, the columns whose names the factor SQL mentions, or the SQL
    that derives ``asin_day`` from the reports on load (what the scores depend on).

    Read from the source of ``ipi.score.factors`` and ``ipi.store.asin_day``, so the scan
    follows the SQL as it changes (a name in a comment counts too, which only widens
    the scan).
    """
    import inspect
    import re

    import ipi.score.factors as factors
    import ipi.store.asin_day as asin_day

    words = set(re.findall(r"[a-z_][a-z0-9_]*",
                           inspect.getsource(factors) + inspect.getsource(asin_day)))
    out = {}
    for table in TABLES:
        names = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $table "
            "ORDER BY ordinal_position", {"table": table}).fetchall()]
        out[table] = [c for c in names if c in _ALWAYS or c in words]
    return out


def _child_scan(spec: dict[str, Any]) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect(spec["db"], read_only=True)
    columns = _scan_columns(con)
    t0 = time.perf_counter()
    rows = {}
    for table, cols in columns.items():
        row = con.execute(f"SELECT count(*), sum(hash({', '.join(cols)})) FROM {table}"
                          ).fetchone()
        rows[table] = int(row[0]) if row else 0
    seconds = time.perf_counter() - t0
    con.close()
    return {"seconds": seconds, "rows": sum(rows.values()), "rows_by_table": rows,
            "columns": columns}


_CHILDREN = {"ingest-baseline": _child_ingest_baseline, "ingest-ipi": _child_ingest_ipi,
             "score": _child_score, "scan": _child_scan}


def _child(kind: str, spec_path: Path) -> int:
    out = _CHILDREN[kind](json.loads(spec_path.read_text()))
    out["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    print(json.dumps(out))
    return 0


# --- parent ----------------------------------------------------------------------------


def _run(kind: str, spec: dict[str, Any], workroot: Path) -> dict[str, Any]:
    """Run one child with a fresh work folder; return what it printed."""
    work = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=workroot))
    try:
        spec = {**spec, "work": str(work)}
        spec_path = work / "spec.json"
        spec_path.write_text(json.dumps(spec))
        # stderr passes through: the ingest prints its progress there
        proc = subprocess.run(
            [sys.executable, "-m", "bench.backfill", "--child", kind, "--spec", str(spec_path)],
            stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )
        if proc.returncode != 0:
            raise SystemExit(f"{kind} run failed (exit {proc.returncode})")
        return dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _files(folder: Path) -> list[tuple[str, str, str]]:
    """(path, report type, day) of every report in the folder, oldest day first.

    A ledger file counts under its last day, so it loads before that day's snapshots.
    """
    from ipi.store.load import date_from_name

    out = []
    for report_type, kind in KINDS.items():
        for f in (folder / kind).glob("*.txt"):
            day = f.stem.rsplit("_", 1)[-1] if kind == "ledger" else None
            d = date.fromisoformat(day) if day else date_from_name(f.name)
            if d is None:
                raise SystemExit(f"no date in the name of {f}")
            out.append((str(f), report_type, d.isoformat()))
    ledger = "GET_LEDGER_SUMMARY_VIEW_DATA"
    order = {t: i for i, t in enumerate((ledger, *(t for t in KINDS if t != ledger)))}
    return sorted(out, key=lambda x: (x[2], order[x[1]], x[0]))


def _warm(paths: list[str]) -> None:
    """Read the files once so every side starts with them in the page cache."""
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 24):
                pass


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    best = min(runs, key=lambda r: r["seconds"])
    return {"best_seconds": round(best["seconds"], 3),
            "runs_seconds": [round(r["seconds"], 3) for r in runs],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}


def _ingest(args: argparse.Namespace, folder: Path, zip_path: Path, db: Path, db30: Path,
            workroot: Path) -> dict[str, Any]:
    files = _files(folder)
    end = args.end
    first30 = end - timedelta(days=SHORT_DAYS - 1)
    last30 = [f for f in files if date.fromisoformat(f[2]) >= first30]
    _warm([f[0] for f in files])
    for p in (db, db30, db.with_name(db.name + ".wal"), db30.with_name(db30.name + ".wal")):
        p.unlink(missing_ok=True)

    print(f"ingest: {len(files):,} files; baseline (DuckDB read_csv per report type) ...",
          flush=True)
    base = _run("ingest-baseline", {"files": files, "db": str(workroot / "baseline.duckdb")},
                workroot)
    (workroot / "baseline.duckdb").unlink(missing_ok=True)
    print(f"  baseline {base['seconds']:8.1f}s {base['rows']:13,d} rows", flush=True)
    print(f"ingest: ipi load_file per file (from {args.source}) ...", flush=True)
    spec: dict[str, Any] = {"files": files, "db": str(db), "end": end.isoformat()}
    if args.source == "zip":
        spec["zip"] = str(zip_path)
    ipi = _run("ingest-ipi", spec, workroot)
    print(f"  ipi      {ipi['seconds']:8.1f}s {ipi['rows']:13,d} rows", flush=True)
    if len(last30) == len(files):  # no more history than the short database holds
        print(f"ingest: the {SHORT_DAYS}-day database holds the same {len(files)} files: "
              "a copy", flush=True)
        shutil.copyfile(db, db30)
        short = {**ipi, "copied": True}
    else:
        print(f"ingest: the {SHORT_DAYS}-day database ({len(last30)} files) ...", flush=True)
        short = _run("ingest-ipi", {"files": last30, "db": str(db30), "end": end.isoformat()},
                     workroot)
    print(f"  ipi      {short['seconds']:8.1f}s {short['rows']:13,d} rows", flush=True)
    if ipi["rows"] != base["rows"]:
        raise SystemExit(f"row counts differ: baseline {base['rows']:,}, ipi {ipi['rows']:,}")
    for side in (base, ipi, short):
        side["rows_per_second"] = round(side["rows"] / side["seconds"])
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": args.source,
        "files": len(files),
        "bytes": sum(Path(f[0]).stat().st_size for f in files),
        "baseline": base, "ipi": ipi, "ipi_last30": short,
        "ratio": round(ipi["seconds"] / base["seconds"], 3),
        "db_mb": round(db.stat().st_size / 1e6, 1),
        "db_last30_mb": round(db30.stat().st_size / 1e6, 1),
    }
    db.with_suffix(".ingest.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skus", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--end", type=date.fromisoformat, default=END,
                    help=f"the last day of the history (default {END})")
    ap.add_argument("--from", dest="source", choices=["folder", "zip"], default="folder",
                    help="ipi ingests the archive's folder, or the zip through "
                         "ipi.sources.archive (default folder)")
    ap.add_argument("--skip-ingest", action="store_true",
                    help="reuse the databases a previous run built")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each one-day side")
    ap.add_argument("--repeat-full", type=int, default=3, help="runs of each full-recompute side")
    ap.add_argument("--max-day-ratio", type=float, default=1.5)
    ap.add_argument("--max-full-ratio", type=float, default=10.0)
    ap.add_argument("--out-dir", type=Path, default=OUT,
                    help="history, databases and results (default bench/out)")
    ap.add_argument("--json", type=Path, help="the results (default OUT_DIR/backfill.json)")
    ap.add_argument("--child", choices=sorted(_CHILDREN), help=argparse.SUPPRESS)
    ap.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        return _child(args.child, args.spec)

    if args.source == "zip" and not args.skip_ingest \
            and importlib.util.find_spec("ipi.sources.archive") is None:
        raise SystemExit("--from zip needs ipi.sources.archive, which this checkout lacks; "
                         "use --from folder")
    t_all = time.perf_counter()
    out_dir = args.out_dir.resolve()
    json_path = args.json or out_dir / "backfill.json"
    folder = out_dir / f"history-{args.skus}x{args.days}"
    zip_path = folder.with_suffix(".zip")
    db = folder.with_suffix(".duckdb")
    db30 = folder.with_name(f"{folder.name}-last{SHORT_DAYS}.duckdb")
    first = args.end - timedelta(days=args.days - 1)
    out_dir.mkdir(parents=True, exist_ok=True)  # git-ignored: a clean clone has none
    workroot = Path(tempfile.mkdtemp(prefix="backfill-work-", dir=out_dir))
    parts: dict[str, float] = {}
    try:
        if args.skip_ingest:
            if not (db.exists() and db30.exists()):
                raise SystemExit(f"{db} or {db30} is missing: run once without --skip-ingest")
            ingest_json = db.with_suffix(".ingest.json")
            ingest = json.loads(ingest_json.read_text()) if ingest_json.exists() else {}
            ingest["reused"] = True
        else:
            t0 = time.perf_counter()
            history = folder / "history.json"
            meta = json.loads(history.read_text()) if history.exists() else {}
            if meta.get("end") != args.end.isoformat() or not zipfile.is_zipfile(zip_path):
                print(f"generating {folder} ...", flush=True)
                generate(args.skus, args.days, folder, end=args.end, zip_path=zip_path)
                parts["generate"] = round(time.perf_counter() - t0, 1)
            t0 = time.perf_counter()
            ingest = _ingest(args, folder, zip_path, db, db30, workroot)
            parts["ingest"] = round(time.perf_counter() - t0, 1)

        _warm([str(db), str(db30)])
        t0 = time.perf_counter()
        print(f"recompute one day ({args.end}), {args.days}-day vs {SHORT_DAYS}-day database, "
              f"best of {args.repeat} ...", flush=True)
        day_runs: dict[str, list[dict[str, Any]]] = {"long": [], "short": []}
        for i in range(args.repeat):
            for side, path in (("long", db), ("short", db30)):
                r = _run("score", {"db": str(path), "start": args.end.isoformat(),
                                   "end": args.end.isoformat()}, workroot)
                day_runs[side].append(r)
                print(f"  run {i + 1}/{args.repeat} {side:5s} {r['seconds']:7.3f}s", flush=True)
        parts["one_day"] = round(time.perf_counter() - t0, 1)

        t0 = time.perf_counter()
        print(f"full recompute ({first}..{args.end}) vs one scan of the stored rows, "
              f"best of {args.repeat_full} ...", flush=True)
        full_runs: dict[str, list[dict[str, Any]]] = {"scan": [], "full": []}
        for i in range(args.repeat_full):
            r = _run("scan", {"db": str(db)}, workroot)
            full_runs["scan"].append(r)
            print(f"  run {i + 1}/{args.repeat_full} scan  {r['seconds']:7.2f}s", flush=True)
            r = _run("score", {"db": str(db), "start": first.isoformat(),
                               "end": args.end.isoformat()}, workroot)
            full_runs["full"].append(r)
            print(f"  run {i + 1}/{args.repeat_full} full  {r['seconds']:7.2f}s", flush=True)
        parts["full"] = round(time.perf_counter() - t0, 1)
    finally:
        shutil.rmtree(workroot, ignore_errors=True)

    long_, short_ = _best(day_runs["long"]), _best(day_runs["short"])
    scan, full = _best(full_runs["scan"]), _best(full_runs["full"])
    day_ratio = long_["best_seconds"] / short_["best_seconds"]
    full_ratio = full["best_seconds"] / scan["best_seconds"]
    scan["rows"] = full_runs["scan"][0]["rows"]
    scan["rows_by_table"] = full_runs["scan"][0]["rows_by_table"]
    scan["columns"] = full_runs["scan"][0]["columns"]
    ok_day = day_ratio <= args.max_day_ratio
    ok_full = full_ratio <= args.max_full_ratio

    print()
    print(f"{args.skus:,} SKUs x {args.days} days to {args.end}; {os.cpu_count()} CPUs")
    if ingest.get("ipi"):
        b, p = ingest["baseline"], ingest["ipi"]
        note = " (from a previous run)" if ingest.get("reused") else ""
        print(f"archive ingest{note}: {ingest['files']:,} files, {b['rows']:,} rows, "
              f"{ingest['bytes'] / 1e9:.2f} GB")
        print(f"  {'':24s}{'seconds':>10s}{'rows/s':>12s}{'peak RSS MB':>13s}")
        for name, s in (("DuckDB read_csv", b), (f"ipi load_file ({ingest['source']})", p),
                        (f"ipi, last {SHORT_DAYS} days "
                         + ("(copy)" if ingest["ipi_last30"].get("copied") else "only"),
                         ingest["ipi_last30"])):
            print(f"  {name:24s}{s['seconds']:10.1f}{s['rows_per_second']:12,d}"
                  f"{s['peak_rss_mb']:13.0f}")
        print(f"  ratio ipi/DuckDB: {ingest['ratio']:.2f} (reported, no limit)")
    print(f"{'':32s}{'best s':>9s}{'ratio':>8s}{'limit':>7s}")
    print(f"recompute one day, {args.days} days  {long_['best_seconds']:9.3f}")
    print(f"recompute one day, {SHORT_DAYS} days   {short_['best_seconds']:9.3f}"
          f"{day_ratio:8.2f}{args.max_day_ratio:7.1f}  {'ok' if ok_day else 'TOO SLOW'}")
    print(f"one scan of {scan['rows'] / 1e6:,.1f}M stored rows   {scan['best_seconds']:9.3f}")
    print(f"full recompute, {args.days} days       {full['best_seconds']:9.3f}"
          f"{full_ratio:8.2f}{args.max_full_ratio:7.1f}  {'ok' if ok_full else 'TOO SLOW'}")
    print("time per part (s): " + ", ".join(f"{k} {v}" for k, v in parts.items()))

    import duckdb

    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "skus": args.skus, "days": args.days, "first": first.isoformat(),
        "end": args.end.isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "duckdb": duckdb.__version__, "platform": platform.platform()},
        "ingest": ingest,
        "one_day": {"long": long_, "short": short_, "ratio": round(day_ratio, 3),
                    "limit": args.max_day_ratio, "ok": ok_day},
        "full": {"recompute": full, "scan": scan, "ratio": round(full_ratio, 3),
                 "limit": args.max_full_ratio, "ok": ok_full},
        "seconds_per_part": parts,
        "seconds_total": round(time.perf_counter() - t_all, 1),
        "ok": ok_day and ok_full,
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {json_path}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
