"""CLI start-up benchmark: the everyday commands must answer at once.

The requirement ("instant commands"): ``ipi score``, ``ipi alerts history``,
``ipi official list`` and ``ipi --help`` each finish in at most 0.5 s median,
measured as whole processes. Once per size, a small realistic store is built in
``bench/out/cli-<days>d/`` without Prefect: ``ipi.demo.simulate`` writes ``--days``
days of reports (150 SKUs), ``ipi ingest`` loads them (and scores), ``ipi official
add`` records an official score and ``ipi alerts check`` evaluates the alerts
(threshold 600, over the estimate, so there is alert history).
A marker file keeps the store for reruns; ``--fresh`` rebuilds it.

Each command then runs once to warm up and ``--runs`` times measured: wall time of
the whole process (``subprocess.run`` with output captured), exit code 0 required.
The baseline, measured the same way in the same run, is ``python -c "import ipi"``
(the interpreter's own start-up); each median is also printed as a ratio to it.
The command is the ``ipi`` console script next to the running interpreter
(``flows.cli:script``), or ``python -m flows.cli`` when there is none or it is an
older one. Every command runs in the repository root with the environment passed
through without its ``IPI_*`` variables (``IPI_CONFIG``, ``IPI_APPRISE_URLS``: the
store's own ``ipi.toml`` is all the configuration, and no alert leaves the machine).

    .venv/bin/python -m bench.cli                     # 60 days, 9 runs (40 s; 10 s on a kept store)
    .venv/bin/python -m bench.cli --days 10 --runs 3  # the smallest useful run (under 30 s)
    .venv/bin/python -m bench.cli --days 1 --runs 1   # the smallest (about 8 s)
    .venv/bin/python -m bench.cli --check --fresh

With ``--check``, exits 1 if a median is over ``--target`` (0.5 s). The stores and
the results (``cli.json``) go to ``--out-dir`` (default ``bench/out/``, git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
# No IPI_CONFIG or IPI_APPRISE_URLS from the shell: the store's ipi.toml says it all.
ENV = {k: v for k, v in os.environ.items() if not k.startswith("IPI_")}


def ipi_command() -> list[str]:
    """The console script next to the interpreter, if it is today's (``flows.cli:script``;
    one installed before that imports ``ipi.cli``), else ``python -m flows.cli``."""
    script = Path(sys.executable).parent / "ipi"
    try:
        current = "from flows.cli import script" in script.read_text(errors="replace")
    except OSError:
        current = False
    return [str(script)] if current else [sys.executable, "-m", "flows.cli"]


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return proc


def build(work: Path, days: int, fresh: bool) -> Path:
    """The store of ``days`` days in ``work``, built unless its marker says it is there."""
    config, marker = work / "ipi.toml", work / "built.json"
    if marker.exists() and not fresh:
        return config
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    config.write_text(
        '[store]\ndata_dir = "data"\n\n'
        '[policy]\nthreshold = 600  # over the estimate, so alerts fire and leave history\n\n'
        f'[alerts]\nurls = ["ipifile://{work / "alerts.log"}"]\n\n'
        '[[accounts]]\nname = "bench"\nmarketplaces = ["US"]\ndrop_dir = "drops"\n',
        encoding="utf-8",
    )
    from ipi.demo import simulate, write_day

    t0 = time.perf_counter()
    # Ending yesterday (UTC): a day every account's time zone has begun, so the official
    # score recorded for it is no future one.
    first = date.today() - timedelta(days=days)
    sim = simulate(first, days)
    for i in range(days):
        write_day(sim, i, work / "reports")
    ipi, cfg = ipi_command(), ["--config", str(config)]
    _run([*ipi, "ingest", *cfg, str(work / "reports")])
    _run([*ipi, "official", "add", *cfg, "--date", str(sim.day(days - 1)), "--score", "480"])
    _run([*ipi, "alerts", "check", *cfg])
    seconds = time.perf_counter() - t0
    marker.write_text(json.dumps({"days": days, "first": str(first), "skus": len(sim.skus),
                                  "build_seconds": round(seconds, 1)}) + "\n")
    print(f"built {work} ({days} days, {len(sim.skus)} SKUs) in {seconds:.1f}s")
    return config


def measure(cmd: list[str], runs: int) -> dict[str, Any]:
    _run(cmd)  # warm-up: page cache, lazily compiled bits
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        _run(cmd)
        times.append(time.perf_counter() - t0)
    return {"median": round(statistics.median(times), 4), "min": round(min(times), 4),
            "max": round(max(times), 4), "runs_seconds": [round(t, 4) for t in times]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=60, help="report days in the store")
    ap.add_argument("--runs", type=int, default=9, help="measured runs per command")
    ap.add_argument("--target", type=float, default=0.5, help="seconds, median, per command")
    ap.add_argument("--fresh", action="store_true", help="rebuild the store")
    ap.add_argument("--check", action="store_true", help="exit 1 if a median is over target")
    ap.add_argument("--out-dir", type=Path, default=OUT,
                    help="the stores (cli-<days>d/) and results (default bench/out)")
    ap.add_argument("--json", type=Path, help="the results (default OUT_DIR/cli.json)")
    args = ap.parse_args(argv)
    if args.days < 1 or args.runs < 1:
        ap.error("--days and --runs must be at least 1")

    out_dir = args.out_dir.resolve()
    json_path = args.json or out_dir / "cli.json"
    work = out_dir / f"cli-{args.days}d"
    config = build(work, args.days, args.fresh)
    ipi, cfg = ipi_command(), ["--config", str(config)]
    commands = {
        "ipi score": [*ipi, "score", *cfg],
        "ipi alerts history": [*ipi, "alerts", "history", *cfg],
        "ipi official list": [*ipi, "official", "list", *cfg],
        "ipi --help": [*ipi, "--help"],
    }
    base = measure([sys.executable, "-c", "import ipi"], args.runs)
    results = {name: measure(cmd, args.runs) for name, cmd in commands.items()}
    for r in results.values():
        r["ratio"] = round(r["median"] / base["median"], 2)
        r["ok"] = r["median"] <= args.target

    print(f"\n{' '.join(ipi)}; {args.days} days; median of {args.runs} runs; "
          f"{os.cpu_count()} CPUs")
    print(f"{'command':22s}{'median s':>9s}{'min s':>8s}{'max s':>8s}{'target':>8s}"
          f"{'x import':>10s}  ok")
    rows = [("python -c 'import ipi'", base), *results.items()]
    for name, r in rows:
        ratio = f"{r['ratio']:10.1f}" if "ratio" in r else f"{'1.0':>10s}"
        verdict = ("ok" if r["ok"] else "OVER") if "ok" in r else ""
        print(f"{name:22s}{r['median']:9.3f}{r['min']:8.3f}{r['max']:8.3f}"
              f"{args.target if 'ok' in r else '':>8}{ratio}  {verdict}".rstrip())

    ok = all(r["ok"] for r in results.values())
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": ipi, "days": args.days, "runs": args.runs, "target_seconds": args.target,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "baseline_import_ipi": base, "commands": results, "ok": ok,
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {json_path}")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
