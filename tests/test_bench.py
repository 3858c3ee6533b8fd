"""Every script in bench/ runs from the repository root as its docstring says
(``python -m bench.<name>``, no PYTHONPATH set for it), at its smallest size, and prints
its result: a clean clone needs nothing else (no data from an earlier run, no IPI_*
variable). Outputs go to the test's temporary folder (``--out-dir``, ``--out``,
``--workdir``), never into the repository.

The smallest sizes measure nothing (fixed costs dominate), so the scripts whose limits
are ratios get loose ones here: this checks that they run, not the figures.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# script: (arguments, {tmp} = the test's folder), fragments its output must hold,
# a file it must have written there.
CASES: dict[str, tuple[list[str], list[str], str | None]] = {
    "generate": (["--rows", "1000", "--out", "{tmp}/planning-1k.tsv"],
                 ["planning-1k.tsv: 1,000 rows"], "planning-1k.tsv"),
    "generate_history": (["--skus", "20", "--days", "30", "--out", "{tmp}/history"],
                         ["GET_LEDGER_SUMMARY_VIEW_DATA", "wrote 91 files"],
                         "history/history.json"),
    "profile_load": (["{tmp}/planning-1k.tsv", "--rows", "1000", "--workdir", "{tmp}"],
                     ["1,000 rows of GET_FBA_INVENTORY_PLANNING_DATA; load_file took",
                      "landing copy (copy + fsync)"], "planning-1k.tsv"),
    "ingest": (["--rows", "1000", "--repeat", "1", "--max-ratio", "100", "--max-rss-ratio", "100",
                "--out-dir", "{tmp}"],
               ["file: planning-1k.tsv.gz, 1,000 rows", "ratio ipi/baseline:"], "ingest.json"),
    "concurrency": (["--T", "1", "--poll-interval", "2", "--max-ratio", "10",
                     "--out-dir", "{tmp}"],
                    ['"reports": 9', "0 self-caused 429: ok"], "concurrency.json"),
    "cli": (["--days", "1", "--runs", "1", "--out-dir", "{tmp}"],
            ["ipi alerts history", "ipi official list", "x import"], "cli.json"),
    "backfill": (["--skus", "20", "--days", "30", "--repeat", "1", "--repeat-full", "1",
                  "--max-day-ratio", "100", "--max-full-ratio", "100", "--out-dir", "{tmp}"],
                 ["archive ingest: 91 files", "full recompute, 30 days"], "backfill.json"),
    "alert_budget": (["--only", "steady", "--phase", "2", "--out-dir", "{tmp}",
                      "--json", "{tmp}/alert_budget.json"],
                     ["## steady incident:", "all targets met"], "alert_budget.json"),
    "fleet": (["--accounts", "2", "--max-skus", "300", "--singles", "1", "--max-ratio", "100",
               "--out-dir", "{tmp}"],
              ["all scored: ok", "0 self-caused 429: ok", "slowest single account:"],
              "fleet.json"),
}


def test_every_script_has_a_case() -> None:
    scripts = [p.stem for p in (ROOT / "bench").glob("*.py") if p.stem != "__init__"]
    assert sorted(scripts) == sorted(CASES)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_bench_script_runs_at_its_smallest_size(name: str, tmp_path: Path) -> None:
    args, fragments, written = CASES[name]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPI_")}
    cmd = [sys.executable, "-m", f"bench.{name}", *(a.format(tmp=tmp_path) for a in args)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=240)
    tail = f"\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}{tail}"
    for fragment in fragments:
        assert fragment in proc.stdout, f"{fragment!r} not in the output{tail}"
    if written:
        assert (tmp_path / written).is_file(), f"{written} not written in {tmp_path}{tail}"
