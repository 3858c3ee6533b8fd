"""Accounts split over two machines, as deploy/README.md ("Several machines") gives it:
one Prefect server, deploy/prefect.machines.yaml, two process workers on their own pools,
each with its own configuration and data folder. Each run loads and scores its own
accounts only, into its own DuckDB file, and both publish to the one server, where every
account's estimate is found."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from flows.serve import LocalServer
from ipi import pipeline
from ipi.demo import simulate, write_day
from ipi.settings import load_settings
from tests.deploy.helpers import prefect_cli
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
MACHINES = {"east": "acme", "west": "bolt"}


def _machine(root: Path, account: str, day: date) -> Path:
    """A machine's folder: its configuration, its data folder, its account's drops."""
    root.mkdir()
    config = root / "ipi.toml"
    config.write_text(f'[store]\ndata_dir = "data"\n[web]\nport = 0\n'
                      f'[[accounts]]\nname = "{account}"\n', encoding="utf-8")
    settings = load_settings(config, env={})
    sim = simulate(day - timedelta(days=9), 10, n_skus=40, seed=len(account))
    for i in range(10):
        write_day(sim, i, settings.drop_dir(settings.accounts[0]))
    return config


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    server = LocalServer(tmp_path / "server", free_port())
    try:
        yield server.start()
    finally:
        server.stop()


def test_two_workers_two_data_folders_one_place_to_see_them(
        server: str, tmp_path: Path) -> None:
    day = date.today()
    configs = {m: _machine(tmp_path / m, a, day) for m, a in MACHINES.items()}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "IPI_"))}
    env.update(PREFECT_API_URL=server, PREFECT_HOME=str(tmp_path / "client"),
               PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    workers = []
    try:
        for machine in MACHINES:
            prefect_cli(env, "work-pool", "create", f"ipi-{machine}", "--type", "process")
        prefect_cli(env, "--no-prompt", "deploy", "--all", "--prefect-file",
                 "deploy/prefect.machines.yaml")
        for machine, config in configs.items():
            log = open(tmp_path / f"{machine}.log", "wb")  # noqa: SIM115 (kept while it runs)
            workers.append((subprocess.Popen(
                [sys.executable, "-m", "prefect", "worker", "start", "--pool",
                 f"ipi-{machine}"],
                env={**env, "IPI_CONFIG": str(config), "PREFECT_WORKER_QUERY_SECONDS": "1"},
                cwd=config.parent, stdout=log, stderr=subprocess.STDOUT), log))
        runs = [subprocess.Popen(
            [sys.executable, "-m", "prefect", "deployment", "run", f"ipi-daily/daily-{m}",
             "--param", f"day={day}", "--watch", "--watch-timeout", "300"],
            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True) for m in MACHINES]  # both at once, as their schedules would
        said = [r.communicate(timeout=360)[0] for r in runs]
        logs = "".join((tmp_path / f"{m}.log").read_text(errors="replace")[-3000:]
                       for m in MACHINES)
        assert all(r.returncode == 0 for r in runs), "\n".join(said) + logs
        assert all("Completed" in s for s in said), "\n".join(said) + logs
        # One place: every account's estimate, whichever machine scored it.
        found = {}
        for account in MACHINES.values():
            shown = json.loads(prefect_cli(env, "artifact", "inspect", f"ipi-scores-{account}",
                                        "--limit", "1", "--output", "json").stdout)
            found[account] = json.loads(shown[0]["data"])
    finally:
        for proc, log in workers:
            proc.send_signal(signal.SIGTERM)
            try:  # its shutdown is Prefect's, not under test
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()

    for machine, account in MACHINES.items():
        settings = load_settings(configs[machine], env={})
        # its own accounts, in its own data folder: their files only
        assert [p.name for p in settings.accounts_dir.glob("*.duckdb")] == [f"{account}.duckdb"]
        stored = pipeline.open_store(settings, account).query(
            "SELECT DISTINCT account FROM daily_score")
        assert stored == [{"account": account}]
        [row] = pipeline.open_store(settings, account).query(
            "SELECT score FROM daily_score WHERE date = $day", {"day": day})
        [published] = found[account]
        assert (published["account"], published["score"]) == (account, row["score"])
