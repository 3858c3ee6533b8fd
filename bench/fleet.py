"""A fleet of sellers in one daily run, against the slowest of them alone.

``--accounts`` seller accounts (default 100), each ``source = "sp-api"`` with its
own refresh token in its own environment variable, 1 to 3 marketplaces of one
region (NA: US, CA, MX; EU: UK, DE, FR, IT, ES) and 300 to ``--max-skus`` SKUs
(log-uniform; the first account has ``--max-skus`` SKUs in 3 marketplaces, the
largest), seeded by ``--seed``. The fake SP-API of ``ipi.testing``
(``FakeSpApi``) serves them, with Amazon's published rate limits
enforced per seller (refresh token), app (client id) and operation, as Amazon's
usage plans are: a request over a bucket answers 429. Report bodies come from
``ipi.testing.Catalog`` (one simulated seller of the largest size, sliced per
account, built before any clock starts).

Each run is ``ipi run --config <file> --date <day>`` (the real ``flows.daily.daily``
flow, fanned out by Prefect, with a temporary Prefect server) in a subprocess, on a
fresh data folder whose account files are made before the clock starts (a daily run's
state; ``--first-run``: not, the run makes them), with the runs' shared Prefect database
made before the first clock (as a deployed machine's is), against a fresh fake (Amazon's buckets
and report lists start empty): first the ``--singles`` largest accounts (by SKUs x
marketplaces) each alone, then the whole fleet as one run. Measured per run: wall time of the
process, peak RSS of its whole process tree (the Prefect server included, sampled
every 0.1 s), requests per SP-API operation and 429s from the fake's counters
(``self-caused``: a bucket of that seller and app was empty, which ipi's pacing
exists to prevent; target 0), and the DuckDB writer-turn waits (the time account
threads of the run waited for ``ipi.store``'s per-file writer turn, and held it:
the child process times those locks, one per file; nothing in ipi changes). Afterwards
every account and marketplace must have a score for the day.

    .venv/bin/python -m bench.fleet                                  # 100 accounts, a few minutes
    .venv/bin/python -m bench.fleet --accounts 30 --max-skus 5000    # a quicker run
    .venv/bin/python -m bench.fleet --profile                        # + cProfile of the fleet run
    # the smallest, about a minute:
    .venv/bin/python -m bench.fleet --accounts 3 --max-skus 300 --singles 1 --max-ratio 100

Target: all scored, fleet wall time <= ``--max-ratio`` (3.0) x the slowest single
account's, peak memory <= ``--max-rss-mb`` (2048), no self-caused 429. Exit 1 when
one is missed. Results go to ``--out-dir``/fleet.json (default ``bench/out/``,
git-ignored); the runs' folders there are removed unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: the measured child process loads no fake
    from ipi.testing import FakeSpApi

ROOT = Path(__file__).resolve().parents[1]

REGIONS = {"NA": ["US", "CA", "MX"], "EU": ["UK", "DE", "FR", "IT", "ES"]}
CLIENT_ID, CLIENT_SECRET = "amzn1.application-oa2-client.fleet", "fleet-client-secret"
OPERATIONS = ("token", "getReports", "createReport", "getReport", "getReportDocument",
              "download")
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Seller:
    name: str
    marketplaces: list[str]
    skus: int

    @property
    def token_env(self) -> str:
        return f"IPI_{self.name.upper()}_REFRESH_TOKEN"

    @property
    def refresh_token(self) -> str:
        return f"Atzr|IwEB-fleet-{self.name}"

    @property
    def size(self) -> int:
        return self.skus * len(self.marketplaces)


def sellers(n: int, max_skus: int, min_skus: int, seed: int) -> list[Seller]:
    """The fleet: seeded, the first seller the largest (max_skus in 3 marketplaces)."""
    rng = random.Random(seed)
    out = [Seller("s000", ["US", "CA", "MX"], max_skus)]
    lo, hi = math.log(min_skus), math.log(max_skus)
    for i in range(1, n):
        region = rng.choice(["NA", "NA", "EU"])
        k = rng.choice([1, 1, 2, 2, 3])
        mps = rng.sample(REGIONS[region], k) if region == "EU" else REGIONS["NA"][:k]
        out.append(Seller(f"s{i:03d}", mps, round(math.exp(rng.uniform(lo, hi)))))
    return out


def config_text(accounts: list[Seller], fake: FakeSpApi, data_dir: Path,
                parallel: int | None, processes: int | None = None) -> str:
    from ipi.testing import account_toml

    text = "[run]\n"
    if parallel is not None:
        text += f"parallel_accounts = {parallel}\n"
    if processes is not None:
        text += f"processes = {processes}\n"
    text += "\n"
    text += f'[store]\ndata_dir = "{data_dir}"\n\n'
    text += f'[alerts]\nurls = ["ipifile://{data_dir / "alerts.log"}"]\n\n'
    for s in accounts:
        text += account_toml(fake, s.name, s.marketplaces, refresh_token_env=s.token_env) + "\n"
    return text


# ------------------------------------------------------------------ the parent's side


def tree_rss(root: int, server_cpu: dict[int, float] | None = None) -> int:
    """Bytes resident in ``root`` and every process under it, now; ``server_cpu``: each
    Prefect server (uvicorn) process under it, its CPU seconds so far."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                total += int(f.read().split()[1]) * PAGE
            if server_cpu is not None:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    server = b"uvicorn" in f.read()
                if server:
                    with open(f"/proc/{pid}/stat", "rb") as f:
                        stat = f.read()
                    fields = stat[stat.rindex(b")") + 2:].split()
                    server_cpu[pid] = (int(fields[11]) + int(fields[12])) / TICK
        except OSError:
            continue
    return total


@dataclass
class RunResult:
    label: str
    accounts: int
    wall_s: float
    peak_rss_mb: float
    rc: int
    calls: dict[str, int]
    self_caused_429: int
    all_429: int
    scored: int  # (account, marketplace) pairs with a score row for the day
    expected: int
    with_score: int  # of those, with a numeric estimate
    child: dict[str, Any]
    cpu_s: float = 0.0  # the whole process tree's CPU time (user + system)
    server_cpu_s: float = 0.0  # of it, the Prefect server's (as last sampled)

    @property
    def cpu_per_seller(self) -> float:
        return self.cpu_s / max(self.accounts, 1)


def run_one(label: str, accounts: list[Seller], catalog: Any, day: date, work: Path,
            args: argparse.Namespace, *, profile: Path | None = None) -> RunResult:
    from sp_api.auth import access_token_client

    from ipi.testing import FakeSpApi

    access_token_client.cache.clear()
    run_dir = work / label
    shutil.rmtree(run_dir, ignore_errors=True)
    data = run_dir / "data"
    data.mkdir(parents=True)
    with FakeSpApi() as fake:
        fake.enforce_rate_limits = True
        fake.generation_seconds = args.generation_seconds
        for s in accounts:
            fake.set_seller_documents(s.refresh_token, catalog.documents(s.name.upper(), s.skus))
        config = run_dir / "ipi.toml"
        config.write_text(config_text(accounts, fake, data, args.parallel, args.processes))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("IPI_", "PREFECT_"))}
        env.update({"PYTHONPATH": str(ROOT), "IPI_LWA_CLIENT_ID": CLIENT_ID,
                    "IPI_LWA_CLIENT_SECRET": CLIENT_SECRET,
                    "PREFECT_HOME": str(work / "prefect-home"),
                    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90"})
        env.update({s.token_env: s.refresh_token for s in accounts})
        if not args.first_run:
            made_before(config, env)
        stats = run_dir / "child.json"
        cmd = [sys.executable, "-m", "bench.fleet", "--child",
               "--config", str(config), "--date", str(day), "--stats", str(stats)]
        if profile is not None:
            cmd += ["--profile-to", str(profile)]
        peak, server_cpu = 0, {}
        # The tree's CPU: a process's reaped children add to it, so once the run has
        # exited (its share processes and Prefect server reaped), its children's time
        # here is the whole tree's.
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(run_dir / "stdout.txt", "wb") as out, open(run_dir / "stderr.txt", "wb") as err:
            start = time.monotonic()
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err)
            while proc.poll() is None:
                peak = max(peak, tree_rss(proc.pid, server_cpu))
                time.sleep(0.1)
            wall = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        calls = Counter(r.operation for r in fake.requests)
        all_429 = sum(r.status == 429 for r in fake.requests)
        self_caused = fake.self_throttled
    child = json.loads(stats.read_text()) if stats.is_file() else {}
    expected = sum(len(s.marketplaces) for s in accounts)
    scored = with_score = 0
    if (data / "accounts").is_dir():  # a file per account: read across them all
        from ipi.settings import load_settings
        from ipi.store.accounts import Fleet

        [got] = Fleet(load_settings(config, env={})).query(
            "SELECT count(*) AS n, count(score) AS scored FROM daily_score WHERE date = $day",
            {"day": day})
        scored, with_score = got["n"], got["scored"]
    if proc.returncode != 0 or scored < expected:
        tail = (run_dir / "stderr.txt").read_text(errors="replace")[-3000:]
        print(f"--- {label}: exit {proc.returncode}, stderr tail:\n{tail}", file=sys.stderr)
    return RunResult(label, len(accounts), round(wall, 2), round(peak / 2**20, 1),
                     proc.returncode, {op: calls.get(op, 0) for op in OPERATIONS},
                     self_caused, all_429, scored, expected, with_score, child, round(cpu, 2),
                     round(sum(server_cpu.values()), 2))


def warm_prefect(work: Path) -> None:
    """Create the runs' Prefect database before any clock starts. Every run's temporary
    server shares it; made by the first measured run instead, that one run paid ~10 CPU-s
    of migrations a deployed machine paid once, long ago: a slower single, a flattered
    ratio."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(work / "prefect-home")
    subprocess.run([sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
                   env=env, check=True, capture_output=True, timeout=600)


def made_before(config: Path, env: dict[str, str]) -> None:
    """A daily run's state: the installation's file and every account's file made (and
    migrated, with the default model) before the clock starts, as after a first run."""
    from ipi.settings import load_settings
    from ipi.store.accounts import account_store, prepare

    settings = load_settings(config, env=env)
    prepare(settings)
    for a in settings.accounts:
        account_store(settings, a.name).migrate()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--accounts", type=int, default=100)
    p.add_argument("--max-skus", type=int, default=20_000)
    p.add_argument("--min-skus", type=int, default=300)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--singles", type=int, default=3,
                   help="the largest accounts run alone (default 3)")
    p.add_argument("--parallel", type=int, default=None,
                   help="[run] parallel_accounts in the fleet's configuration "
                        "(default: none set, ipi's default)")
    p.add_argument("--processes", type=int, default=None,
                   help="[run] processes in the configurations (default: none set, ipi's "
                        "default: one per parallel_accounts accounts, at most one per core)")
    p.add_argument("--first-run", action="store_true",
                   help="start from empty data folders: each run makes every account's "
                        "file (default: made before the clock starts, as on a daily run)")
    p.add_argument("--generation-seconds", type=float, default=0.0,
                   help="seconds the fake takes to generate a report (default 0: ipi's "
                        "own costs, not Amazon's, decide the run)")
    p.add_argument("--profile", action="store_true",
                   help="cProfile the fleet run's process (every thread) into "
                        "<out-dir>/fleet.prof and print the top functions")
    p.add_argument("--max-ratio", type=float, default=3.0)
    p.add_argument("--max-rss-mb", type=float, default=2048.0)
    p.add_argument("--out-dir", type=Path, default=ROOT / "bench" / "out",
                   help="where fleet.json and the runs' folders go (default bench/out)")
    p.add_argument("--keep", action="store_true", help="keep the runs' folders")
    # The measured process (internal).
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--config", help=argparse.SUPPRESS)
    p.add_argument("--date", help=argparse.SUPPRESS)
    p.add_argument("--stats", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args)
    if args.accounts < 1 or args.max_skus < args.min_skus:
        p.error("--accounts must be at least 1 and --max-skus at least --min-skus")

    from ipi.testing import MARKETPLACE_IDS, REPORT_TYPES, Catalog

    day = datetime.now(UTC).date() - timedelta(days=1)
    fleet = sellers(args.accounts, args.max_skus, args.min_skus, args.seed)
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    work = out / f"fleet-{args.accounts}x{args.max_skus}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    t0 = time.monotonic()
    catalog = Catalog(day, args.max_skus)
    raw = gz = 0
    for s in fleet:  # every document built and compressed before any clock starts
        for mp in s.marketplaces:
            for rt in REPORT_TYPES:
                doc = catalog.documents(s.name.upper(), s.skus)(rt, MARKETPLACE_IDS[mp])
                assert doc is not None
                raw, gz = raw + len(doc.content), gz + len(doc.served())
    rows = sum(sum(catalog.rows(s.skus).values()) * len(s.marketplaces) for s in fleet)
    print(f"{len(fleet)} accounts, {sum(len(s.marketplaces) for s in fleet)} marketplaces, "
          f"{sum(s.skus for s in fleet):,} SKUs; {rows:,} report rows, {raw / 2**20:.0f} MB "
          f"({gz / 2**20:.0f} MB gzip) served; generated in {time.monotonic() - t0:.1f} s; "
          f"day {day}", flush=True)

    try:
        warm_prefect(work)
        singles = sorted(fleet, key=lambda s: -s.size)[:max(1, args.singles)]
        results: list[RunResult] = []
        for s in singles:
            r = run_one(f"single-{s.name}", [s], catalog, day, work, args)
            results.append(r)
            print(f"alone {s.name} ({s.skus:,} SKUs x {len(s.marketplaces)}): {r.wall_s:.1f} s, "
                  f"peak {r.peak_rss_mb:.0f} MB, exit {r.rc}", flush=True)
        prof = out / "fleet.prof" if args.profile else None
        fleet_run = run_one("fleet", fleet, catalog, day, work, args, profile=prof)
        results.append(fleet_run)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    slowest = max(results[:-1], key=lambda r: r.wall_s)
    ratio = fleet_run.wall_s / slowest.wall_s
    report(results, fleet_run, slowest, ratio)
    ok_scored = all(r.scored == r.expected and r.rc == 0 for r in results)
    ok_ratio = ratio <= args.max_ratio
    ok_rss = fleet_run.peak_rss_mb <= args.max_rss_mb
    ok_429 = all(r.self_caused_429 == 0 for r in results)
    result = {
        "day": str(day), "accounts": [asdict(s) for s in fleet],
        "runs": [asdict(r) for r in results], "slowest_single": slowest.label,
        "ratio": round(ratio, 3), "max_ratio": args.max_ratio, "max_rss_mb": args.max_rss_mb,
        "parallel": args.parallel, "processes": args.processes, "first_run": args.first_run,
        "generation_seconds": args.generation_seconds,
        "report_rows": rows, "ok": ok_scored and ok_ratio and ok_rss and ok_429,
    }
    (out / "fleet.json").write_text(json.dumps(result, indent=2))
    print(f"\nall scored: {'ok' if ok_scored else 'FAILED'}; ratio {ratio:.2f} (limit "
          f"{args.max_ratio}): {'ok' if ok_ratio else 'FAILED'}; peak "
          f"{fleet_run.peak_rss_mb:.0f} MB (limit {args.max_rss_mb:.0f}): "
          f"{'ok' if ok_rss else 'FAILED'}; {fleet_run.self_caused_429} self-caused 429: "
          f"{'ok' if ok_429 else 'FAILED'}")
    if prof is not None:
        import pstats

        print(f"\n--- cProfile of the fleet run, every thread's CPU time ({prof}), by own time:")
        pstats.Stats(str(prof)).sort_stats("tottime").print_stats(25)
        print("--- by cumulative time:")
        pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(40)
    return 0 if result["ok"] else 1


def report(results: list[RunResult], fleet_run: RunResult, slowest: RunResult,
           ratio: float) -> None:
    print("\n| run | accounts | wall s | x slowest single | CPU s | of it Prefect server | "
          "CPU s / seller | "
          "peak RSS MB | scored | "
          + " | ".join(OPERATIONS) + " | 429 self-caused / all | writer waits s (max) "
          "| writer held s |")
    print("|---" * (13 + len(OPERATIONS)) + "|")
    for r in results:
        w = r.child.get("writer", {})
        print(f"| {r.label} | {r.accounts} | {r.wall_s:.1f} | {r.wall_s / slowest.wall_s:.2f} | "
              f"{r.cpu_s:.1f} | {r.server_cpu_s:.1f} | {r.cpu_per_seller:.2f} | "
              f"{r.peak_rss_mb:.0f} | {r.scored}/{r.expected} | "
              + " | ".join(str(r.calls[op]) for op in OPERATIONS)
              + f" | {r.self_caused_429} / {r.all_429} | {w.get('wait_s', 0):.2f} "
              f"({w.get('max_wait_s', 0):.2f}) | {w.get('hold_s', 0):.2f} |")
    print(f"\nslowest single account: {slowest.label} ({slowest.wall_s:.1f} s); fleet "
          f"{fleet_run.wall_s:.1f} s: ratio {ratio:.2f}")
    w = fleet_run.child.get("writer", {})
    print(f"fleet writer turn: {w.get('turns', 0)} turns, waited {w.get('wait_s', 0):.2f} s in "
          f"all (max {w.get('max_wait_s', 0):.2f} s, {w.get('waits_over_10ms', 0)} over 10 ms), "
          f"held {w.get('hold_s', 0):.2f} s (max {w.get('max_hold_s', 0):.2f} s)")
    for r in results:
        print(f"{r.label}: writer turn by caller (turns, waited s, held s): " + "; ".join(
            f"{k} {v['turns']}, {v['wait_s']:.2f}, {v['hold_s']:.2f}" for k, v in
            list(r.child.get("writer", {}).get("by_caller", {}).items())[:8]))
    tasks = fleet_run.child.get("tasks", {})
    if tasks:
        print("fleet Prefect task runs (count, total s, mean s, max s): " + "; ".join(
            f"{k} {v['count']}, {v['total_s']:.1f}, {v['mean_s']:.2f}, {v['max_s']:.2f}"
            for k, v in sorted(tasks.items())))
    for k in ("flow_s", "process_cpu_s", "rc"):
        if k in fleet_run.child:
            print(f"fleet {k}: {fleet_run.child[k]}")


# ------------------------------------------------------------------ the measured process


class TurnTimes:
    """How long threads waited for the writer turns and held them, summed over the files
    (a file per account: a turn each)."""

    def __init__(self) -> None:
        self._stats_lock = threading.Lock()
        self._turns: dict[Path, TimedTurn] = {}
        self.turns = self.waits_over_10ms = 0
        self.wait_s = self.max_wait_s = self.hold_s = self.max_hold_s = 0.0
        self.by_caller: dict[str, list[float]] = {}  # caller: [turns, wait s, held s]

    def writer(self, path: Path) -> TimedTurn:
        """In place of ``ipi.store._writer``: the file's turn, timed."""
        with self._stats_lock:
            return self._turns.setdefault(path.resolve(), TimedTurn(self))

    def stats(self) -> dict[str, Any]:
        return {"files": len(self._turns),
                "turns": self.turns, "wait_s": round(self.wait_s, 3),
                "max_wait_s": round(self.max_wait_s, 3), "hold_s": round(self.hold_s, 3),
                "max_hold_s": round(self.max_hold_s, 3), "waits_over_10ms": self.waits_over_10ms,
                "by_caller": {k: {"turns": int(n), "wait_s": round(w, 3), "hold_s": round(h, 3)}
                              for k, (n, w, h) in sorted(self.by_caller.items(),
                                                         key=lambda kv: -kv[1][2])}}


class TimedTurn:
    """A drop-in for ``ipi.store``'s per-file writer lock (an RLock) that times how long
    threads wait for it and hold it (outermost acquisitions only), into ``times``."""

    def __init__(self, times: TurnTimes) -> None:
        self._lock = threading.RLock()
        self._local = threading.local()
        self.times = times

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        t0 = time.perf_counter()
        got = self._lock.acquire(blocking, timeout)
        if got:
            depth = getattr(self._local, "depth", 0)
            if depth == 0:
                now = time.perf_counter()
                self._local.since = now
                self._local.caller = _caller()
                t = self.times
                with t._stats_lock:
                    entry = t.by_caller.setdefault(self._local.caller, [0, 0.0, 0.0])
                    entry[0] += 1
                    entry[1] += now - t0
                    t.turns += 1
                    t.wait_s += now - t0
                    t.max_wait_s = max(t.max_wait_s, now - t0)
                    t.waits_over_10ms += now - t0 > 0.01
            self._local.depth = depth + 1
        return got

    def release(self) -> None:
        self._local.depth -= 1
        if self._local.depth == 0:
            held = time.perf_counter() - self._local.since
            t = self.times
            with t._stats_lock:
                t.by_caller[self._local.caller][2] += held
                t.hold_s += held
                t.max_hold_s = max(t.max_hold_s, held)
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _caller() -> str:
    """The first function outside ipi.store (and contextlib) that asked for the turn."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if "contextlib" not in name and not name.endswith(("store/__init__.py", "fleet.py")):
            return f"{Path(name).parent.name}/{Path(name).name}:{frame.f_code.co_name}"
        frame = frame.f_back  # type: ignore[assignment]
    return "?"


class ThreadProfiles:
    """cProfile in every thread (Prefect runs tasks in a thread pool), merged at the end;
    its clock is each thread's CPU time."""

    def __init__(self) -> None:
        import cProfile

        self._new = cProfile.Profile
        self.profiles: list[Any] = []
        self._guard = threading.Lock()

    def _start_in_thread(self, *_: object) -> None:
        # CPU time of the thread, not wall time: what a thread waited for (the writer turn,
        # the GIL, Amazon, a Prefect call) would otherwise swamp what it spent.
        profile = self._new(time.thread_time)
        with self._guard:
            self.profiles.append(profile)
        profile.enable()  # replaces this hook for the thread

    def start(self) -> None:
        threading.setprofile(self._start_in_thread)
        self._start_in_thread()

    def dump(self, path: Path) -> None:
        import pstats

        threading.setprofile(None)  # type: ignore[arg-type]
        stats: pstats.Stats | None = None
        for profile in self.profiles:
            profile.create_stats()
            if not profile.stats:
                continue
            if stats is None:
                stats = pstats.Stats(profile)
            else:
                stats.add(profile)
        if stats is not None:
            stats.dump_stats(str(path))


def child(args: argparse.Namespace) -> int:
    """``ipi run`` with the writer turn timed (and every thread profiled)."""
    import gc

    import ipi.store

    gc.set_threshold(50_000, 20, 20)  # as the `ipi` console script (flows.cli.script)

    # Every file's turn timed (a file per account): the stores made from here on take theirs
    # from this in place of ipi.store's own.
    turn = TurnTimes()
    ipi.store._writer = turn.writer  # type: ignore[assignment]
    profiles = ThreadProfiles() if args.profile_to else None
    start, cpu0 = time.monotonic(), time.process_time()
    if profiles is not None:
        profiles.start()
    from flows.cli import main as ipi_main

    try:
        rc = ipi_main(["run", "--config", args.config, "--date", args.date])
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:  # the parent reports the exit code and stderr
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        rc = 1
    flow_s, cpu = time.monotonic() - start, time.process_time() - cpu0
    if profiles is not None:
        profiles.dump(args.profile_to)
    out: dict[str, Any] = {"rc": rc, "flow_s": round(flow_s, 2), "process_cpu_s": round(cpu, 2),
                           "writer": turn.stats()}
    try:
        out["tasks"] = task_times()
    except Exception as exc:  # timings are a bonus
        out["tasks_error"] = f"{type(exc).__name__}: {exc}"
    args.stats.write_text(json.dumps(out, indent=2))
    return rc


def task_times() -> dict[str, dict[str, float]]:
    """The last flow run's task runs from the Prefect API: count and durations by task."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=1)[0]
        runs: list[Any] = []
        while True:
            batch = client.read_task_runs(flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[flow_run.id])), limit=200, offset=len(runs))
            runs += batch
            if len(batch) < 200:
                break
    by: dict[str, list[float]] = {}
    for r in runs:
        if r.start_time and r.end_time:
            by.setdefault(r.name.rsplit("-", 1)[0], []).append(
                (r.end_time - r.start_time).total_seconds())
    return {k: {"count": len(v), "total_s": round(sum(v), 2),
                "mean_s": round(sum(v) / len(v), 3), "max_s": round(max(v), 2)}
            for k, v in by.items()}


if __name__ == "__main__":
    sys.exit(main())
