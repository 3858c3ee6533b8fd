"""Where ``load_file``'s time and memory go, step by step.

Runs the real ``ipi.store.load.load_file`` once on a fresh store, with timers
wrapped around its steps (sha256, UTF-8 check, landing copy, every SQL
statement, commit, close/checkpoint) and prints, per step, the seconds and the
process's peak RSS so far (VmHWM). Nothing in ipi is changed: the wrappers are
installed by monkeypatching for this process only.

    python -m bench.profile_load bench/out/planning-1m.tsv
    python -m bench.profile_load --rows 1000   # the smallest (bench/out/planning-1k.tsv)

A report that does not exist yet (``bench/out/planning-1m.tsv`` in a fresh clone)
is first written by ``bench/generate.py`` with ``--rows`` rows (default 1,000,000);
without a file, it is ``bench/out/planning-<rows>.tsv``. The fresh store goes to a
temporary folder in ``--workdir`` (default ``bench/out/``, git-ignored), deleted after.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import ipi.reports._base as base
import ipi.reports._decode as decode
import ipi.store as store_mod
import ipi.store.load as load
from bench.generate import OUT, ROOT, default_path, generate

STEPS: list[tuple[str, float, float]] = []


def _hwm_mb() -> float:
    status = Path("/proc/self/status")
    if status.exists():  # Linux
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS
    return kb / (1024 * 1024) if sys.platform == "darwin" else kb / 1024


def _record(name: str, t0: float) -> None:
    STEPS.append((name, time.perf_counter() - t0, _hwm_mb()))


def _timed(name: str, fn: Any) -> Any:
    def wrapper(*a: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            _record(name, t0)
    return wrapper


def _label(sql: str) -> str:
    s = " ".join(sql.split())
    if "read_csv(" in s and s.startswith(f"CREATE OR REPLACE TEMP TABLE {base.STAGE}_raw"):
        return "SQL read_csv -> _ipi_stage_raw (all VARCHAR)"
    if "read_csv(" in s and s.startswith("INSERT INTO"):
        return "SQL read_csv + types + checks -> insert into the table"
    if "read_csv(" in s:
        return "SQL read_csv + casts + checks -> _ipi_stage"
    if s.startswith("SELECT count(*) FILTER (WHERE _ipi_bad)"):
        return "SQL count rows failing a check"
    if "DROP COLUMN" in s:
        return "SQL drop the check column"
    if "FROM _ipi_stage_raw" in s and s.startswith("SELECT count(*) FILTER"):
        return "SQL type/key checks on _ipi_stage_raw"
    if s.startswith(f"CREATE OR REPLACE TEMP TABLE {base.STAGE} AS"):
        return "SQL typed cast -> _ipi_stage"
    if "HAVING count(*) > 1" in s:
        return "SQL duplicate-key check"
    if s.startswith("INSERT INTO fba_") or s.startswith("INSERT INTO stranded"):
        return "SQL insert into the report table"
    if s.startswith("DELETE FROM asin_day"):
        return "SQL delete the days' asin_day rows"
    if s.startswith("INSERT INTO asin_day"):
        return "SQL derive the days' asin_day rows"
    if s.startswith("DELETE FROM"):
        return "SQL delete old partitions"
    if s.startswith("UPDATE") and "SET sha256" in s:
        return "SQL mark the new rows loaded (sha256)"
    if s.startswith("SELECT marketplace, snapshot_date, count(*)"):
        return "SQL count the new rows per partition"
    if "arg_max(r.rows" in s:
        return "SQL previous days (jump and row-drop guards)"
    return "SQL " + re.sub(r"\s+", " ", s)[:60]


class _TimedCon:
    def __init__(self, con: Any) -> None:
        self._con = con

    def execute(self, sql: str, *a: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self._con.execute(sql, *a, **kw)
        finally:
            _record(_label(sql), t0)

    def executemany(self, sql: str, *a: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self._con.executemany(sql, *a, **kw)
        finally:
            _record(_label(sql), t0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def _install() -> None:
    load.sha256_of = _timed("sha256 of the file", load.sha256_of)
    load.land = _timed("landing copy (copy + fsync)", load.land)
    decode.is_utf8 = _timed("UTF-8 validity check (is_utf8)", decode.is_utf8)
    base.duckdb  # noqa: B018  (stage keeps using the same module)

    real_write = store_mod.Store.write

    @contextmanager
    def write(self: Any) -> Any:
        t0 = time.perf_counter()
        with real_write(self) as con:
            _record("open the database", t0)
            yield _TimedCon(con)
            t0 = time.perf_counter()
        _record("commit and close (checkpoint)", t0)

    store_mod.Store.write = write  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", type=Path, nargs="?",
                    help="the planning report to load (default bench/out/planning-<rows>.tsv);"
                         " generated if missing")
    ap.add_argument("--rows", type=int, default=1_000_000,
                    help="rows of the report when it is generated (default 1,000,000)")
    ap.add_argument("--workdir", type=Path, default=OUT)
    args = ap.parse_args(argv)
    path = (args.file or default_path(args.rows)).resolve()
    if not path.exists():
        t_gen = time.perf_counter()
        generate(args.rows, path)
        print(f"generated {path} ({args.rows:,} rows) in {time.perf_counter() - t_gen:.1f}s")
    _install()
    args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="profile-", dir=args.workdir))
    try:
        # Migrated by another process, as an installed ipi's store is: in this one, the
        # load then opens DuckDB as `ipi ingest` does, without SQLAlchemy.
        t_mig = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                        "from ipi.store import Store; Store(Path(sys.argv[1])).migrate()",
                        str(work / "ipi.duckdb")], check=True, cwd=ROOT)
        _record("migrations (fresh database; another process)", t_mig)
        st = store_mod.Store(work / "ipi.duckdb", data_dir=work)
        t0 = time.perf_counter()
        res = load.load_file(st, "bench", path, ingest_day=date.today(),
                             default_marketplace="US")
        total = time.perf_counter() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{res.rows:,} rows of {res.report_type}; load_file took {total:.2f}s")
    print(f"{'step':55s}{'seconds':>9s}{'share':>7s}{'peak RSS MB':>13s}")
    for name, sec, hwm in STEPS:
        if sec >= 0.005 or name.startswith(("sha", "UTF", "landing", "commit")):
            print(f"{name:55s}{sec:9.2f}{100 * sec / total:6.0f}%{hwm:13.0f}")
    shown = sum(s for n, s, _ in STEPS if not n.startswith("migrations"))
    print(f"{'(not in a step above: Python, detection, ...)':55s}{total - shown:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
