"""Ingest benchmark: ipi's load path against DuckDB alone reading the same file.

The requirement (issue 18): ingesting a 1,000,000-row planning report, as Amazon
sends it (gzip), takes no more than 1.3x the time DuckDB alone takes to read the
same file into a table of a database file, whole processes, interpreter start-up
and imports included; ipi's peak memory is no more than 1.2x DuckDB's. One run
measures both sides on the same machine, alternating:

* baseline: ``python -c`` that imports duckdb, connects to a fresh database file,
  ``CREATE TABLE t AS SELECT * FROM read_csv(file, delim='\\t', header=true)``
  (DuckDB's defaults: type detection, parallel reading) and closes it (which
  checkpoints the table to disk);
* ipi: ``python -c`` that imports ``ipi.store`` and ``ipi.store.load``, opens the
  store and loads the file as ``ipi ingest`` does (``load_file`` then the row-drop
  guard): sha256, detection, the typed read with its checks, the delete and insert
  of the day's partition, the derived ``asin_day`` rows, the landing copy (with
  fsync), the commit and the close. The store is an existing, empty one: it is
  created and migrated before the process starts, as an installed ipi's is.

Each process's wall time is measured from its start to its exit, and its peak RSS
is its own (``os.wait4``'s ``ru_maxrss``). The two sides alternate (ipi first in
every other pair), ``--repeat`` times each; the figures are the medians, the ratios
ipi's median over the baseline's, and the median of the paired time ratios (each
ipi run over the baseline run beside it) is printed as a check.

    python -m bench.ingest                 # 1,000,000 rows, gzip, median of 5
    python -m bench.ingest --rows 100000   # a quick run
    python -m bench.ingest --plain         # the uncompressed .tsv instead
    python -m bench.ingest --rows 1000 --repeat 1 --max-ratio 100 --max-rss-ratio 100  # smallest

Exits 1 if the time ratio exceeds ``--max-ratio`` (1.3) or the peak-memory ratio
``--max-rss-ratio`` (1.2); a small file is all fixed costs (start-up, imports), so
the ratios mean something only from about 100,000 rows. The report
(``planning-<rows>.tsv`` from ``bench/generate.py``, and its ``.gz``), the work
folders and the results (``ingest.json``) go to ``--out-dir`` (default
``bench/out/``, git-ignored, created if missing).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.generate import default_path, generate

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"

# The two measured processes. argv: the report, the work folder.
BASELINE = """
import sys
import duckdb
path, work = sys.argv[1], sys.argv[2]
# No progress bar (ipi turns it off too): drawing it is not reading the file.
con = duckdb.connect(work + "/baseline.duckdb")
con.execute("SET enable_progress_bar = false")
lit = path.replace("'", "''")
con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{lit}', delim='\\t', header=true)")
print(con.execute("SELECT count(*) FROM t").fetchone()[0])
con.close()
"""

IPI = """
import sys
from datetime import date
from pathlib import Path
from ipi.store import Store
from ipi.store.load import load_file, mark_unreliable, row_drop
path, work = Path(sys.argv[1]), Path(sys.argv[2])
store = Store(work / "ipi.duckdb", data_dir=work)
result = load_file(store, "bench", path, ingest_day=date(2026, 3, 2), default_marketplace="US")
with store.read() as con:
    drop = row_drop(con, "bench", result, 0.5)
if drop:
    with store.write() as con:
        mark_unreliable(con, "bench", result, drop)
assert not result.skipped and result.report_type == "GET_FBA_INVENTORY_PLANNING_DATA", result
print(result.rows)
"""


def _peak_mb(ru_maxrss: int) -> float:
    return ru_maxrss / 1024 if sys.platform != "darwin" else ru_maxrss / (1024 * 1024)


def _prepare_store(work: Path) -> None:
    """An existing, migrated, empty store, as an installed ipi has (not measured)."""
    subprocess.run(
        [sys.executable, "-c",
         "import sys; from pathlib import Path; from ipi.store import Store; "
         "Store(Path(sys.argv[1]) / 'ipi.duckdb', data_dir=Path(sys.argv[1])).migrate()",
         str(work)],
        check=True, cwd=ROOT, env=_env())


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPI_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _measure(kind: str, path: Path, workroot: Path) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=workroot))
    try:
        if kind == "ipi":
            _prepare_store(work)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-c", BASELINE if kind == "baseline" else IPI,
                 str(path), str(work)],
                stdout=out, stderr=err, cwd=ROOT, env=_env())
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            if proc.returncode != 0:
                sys.stderr.write(err.read().decode(errors="replace"))
                raise SystemExit(f"{kind} run failed (exit {proc.returncode})")
            rows = int(out.read().decode().split()[-1])
        # What the database (and, for ipi, the landing zone) holds afterwards.
        disk = sum(f.stat().st_size for f in work.rglob("*") if f.is_file()) / 1e6
        return {"seconds": seconds, "rows": rows, "peak_rss_mb": _peak_mb(usage.ru_maxrss),
                "cpu_seconds": usage.ru_utime + usage.ru_stime, "disk_mb": disk}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _warm(path: Path) -> None:
    """Read the file once so both sides start with it in the page cache."""
    with path.open("rb") as f:
        while f.read(1 << 24):
            pass


def _gzip(src: Path, dst: Path) -> None:
    tmp = dst.with_name(dst.name + ".tmp")
    with src.open("rb") as fin, gzip.open(tmp, "wb", compresslevel=6) as fout:
        shutil.copyfileobj(fin, fout, 1 << 22)
    os.replace(tmp, dst)


def _summary(runs: list[dict[str, float]]) -> dict[str, object]:
    seconds = statistics.median(r["seconds"] for r in runs)
    rows = int(runs[0]["rows"])
    return {
        "median_seconds": round(seconds, 3),
        # CPU time (user + system, all threads): steadier than wall time on a busy machine.
        "median_cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in runs), 3),
        "best_seconds": round(min(r["seconds"] for r in runs), 3),
        "rows": rows,
        "rows_per_second": round(rows / seconds),
        "median_peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in runs), 1),
        "max_peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs), 1),
        "disk_mb": round(runs[0]["disk_mb"], 1),
        "runs_seconds": [round(r["seconds"], 3) for r in runs],
        "runs_peak_rss_mb": [round(r["peak_rss_mb"], 1) for r in runs],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--file", type=Path,
                    help="the report to load (default OUT_DIR/planning-<rows>.tsv.gz, "
                         "generated if missing)")
    ap.add_argument("--plain", action="store_true",
                    help="load the uncompressed planning-<rows>.tsv rather than its .gz")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each side (median kept)")
    ap.add_argument("--max-ratio", type=float, default=1.3,
                    help="limit of ipi's median time over the baseline's (1.3)")
    ap.add_argument("--max-rss-ratio", type=float, default=1.2,
                    help="limit of ipi's median peak RSS over the baseline's (1.2)")
    ap.add_argument("--out-dir", type=Path, default=OUT,
                    help="generated report, work folders and results (default bench/out)")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="where the fresh databases go (default: a folder in OUT_DIR)")
    ap.add_argument("--json", type=Path, help="the results (default OUT_DIR/ingest.json)")
    args = ap.parse_args(argv)

    out_dir = args.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = args.json or out_dir / "ingest.json"
    if args.file:
        path = args.file.resolve()
    else:
        plain = default_path(args.rows, out_dir).resolve()
        path = plain if args.plain else plain.with_name(plain.name + ".gz")
        if not path.exists():
            t0 = time.perf_counter()
            if not plain.exists():
                generate(args.rows, plain)
            if path != plain:
                _gzip(plain, path)
            print(f"generated {path} ({args.rows:,} rows) in {time.perf_counter() - t0:.1f}s")
    size_mb = path.stat().st_size / 1e6
    _warm(path)

    workroot = (args.workdir or out_dir).resolve()
    workroot.mkdir(parents=True, exist_ok=True)
    workroot = Path(tempfile.mkdtemp(prefix="ingest-work-", dir=workroot))
    runs: dict[str, list[dict[str, float]]] = {"baseline": [], "ipi": []}
    try:
        for i in range(args.repeat):
            # ipi second, then first: a machine getting busier or quieter during the
            # run weighs on both sides alike.
            for kind in ("baseline", "ipi") if i % 2 == 0 else ("ipi", "baseline"):
                r = _measure(kind, path, workroot)
                runs[kind].append(r)
                print(f"  run {i + 1}/{args.repeat} {kind:8s} {r['seconds']:7.2f}s "
                      f"(CPU {r['cpu_seconds']:6.2f}s) peak RSS {r['peak_rss_mb']:7.0f} MB",
                      flush=True)
    finally:
        shutil.rmtree(workroot, ignore_errors=True)

    base, ipi = _summary(runs["baseline"]), _summary(runs["ipi"])
    if ipi["rows"] != base["rows"]:
        print(f"row counts differ: baseline {base['rows']}, ipi {ipi['rows']}", file=sys.stderr)
        return 2
    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[kind])

    ratio = median("ipi", "seconds") / median("baseline", "seconds")
    rss_ratio = median("ipi", "peak_rss_mb") / median("baseline", "peak_rss_mb")
    paired = [i["seconds"] / b["seconds"]
              for b, i in zip(runs["baseline"], runs["ipi"], strict=True)]
    paired_median = statistics.median(paired)
    cpu_ratio = median("ipi", "cpu_seconds") / median("baseline", "cpu_seconds")
    ok_time = ratio <= args.max_ratio
    ok_mem = rss_ratio <= args.max_rss_ratio

    print()
    print(f"file: {path.name}, {base['rows']:,} rows, {size_mb:.0f} MB; "
          f"median of {args.repeat} whole processes; {os.cpu_count()} CPUs")
    print(f"{'':10s}{'seconds':>9s}{'CPU s':>9s}{'rows/s':>12s}{'peak RSS MB':>13s}")
    for name, s in (("baseline", base), ("ipi", ipi)):
        print(f"{name:10s}{s['median_seconds']:9.2f}{s['median_cpu_seconds']:9.2f}"
              f"{s['rows_per_second']:12,d}{s['median_peak_rss_mb']:13.0f}")
    print(f"ratio ipi/baseline: {ratio:.2f} time (limit {args.max_ratio:.2f}; "
          f"{paired_median:.2f} median of paired runs) "
          f"{'ok' if ok_time else 'TOO SLOW'}; {rss_ratio:.2f} peak memory "
          f"(limit {args.max_rss_ratio:.2f}) {'ok' if ok_mem else 'TOO MUCH'}; "
          f"{cpu_ratio:.2f} CPU time (reported)")

    import duckdb

    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "file": path.name, "file_mb": round(size_mb, 1), "rows": base["rows"],
        "repeat": args.repeat, "whole_processes": True,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "duckdb": duckdb.__version__, "platform": platform.platform(),
                    "load_average": [round(x, 2) for x in os.getloadavg()]},
        "baseline": base, "ipi": ipi,
        "ratio": round(ratio, 3),
        "rss_ratio": round(rss_ratio, 3),
        "cpu_ratio": round(cpu_ratio, 3),
        "paired_ratios": [round(r, 3) for r in paired],  # in run order
        "paired_ratio_median": round(paired_median, 3),
        "limits": {"max_ratio": args.max_ratio, "max_rss_ratio": args.max_rss_ratio},
        "ok": ok_time and ok_mem,
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {json_path}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
