"""The path to a Prefect server with workers, as deploy/README.md gives it: a real
``prefect server start`` on 127.0.0.1, ``prefect deploy`` of deploy/prefect.yaml, a
process worker started outside the project folder, a run on file drops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from flows.serve import LocalServer
from ipi import pipeline
from ipi.demo import simulate, write_day
from ipi.settings import Settings
from ipi.sources.files import PROCESSED
from tests.deploy.helpers import prefect_cli
from tests.helpers import Webhook, free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def test_deploy_from_prefect_yaml_and_a_process_worker_run_the_day(
        make_settings: Callable[..., tuple[Settings, Path]], webhook_server: Webhook,
        tmp_path: Path) -> None:
    """The daily deployment from deploy/prefect.yaml, run by a worker that knows only
    IPI_CONFIG: it loads the drops, scores the day, pages once and takes the account's
    global concurrency limit on the server."""
    settings, config = make_settings(urls=[webhook_server.url])
    day = date.today()
    sim = simulate(day - timedelta(days=79), 100, n_skus=40, seed=11)
    drop = settings.drop_dir(settings.accounts[0])
    for i in range(80):  # the estimate is under 450 on the last of these days
        write_day(sim, i, drop)

    server = LocalServer(tmp_path / "server", free_port())
    api = server.start()
    worker = None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "IPI_"))}
    env.update(PREFECT_API_URL=api, PREFECT_HOME=str(tmp_path / "client"),
               PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    try:
        prefect_cli(env, "work-pool", "create", "ipi", "--type", "process")
        prefect_cli(env, "--no-prompt", "deploy", "--all", "--prefect-file",
                 "deploy/prefect.yaml")
        shown = json.loads(prefect_cli(env, "deployment", "inspect", "ipi-daily/daily",
                                    "--output", "json").stdout)
        assert shown["entrypoint"] == "flows.daily.daily" and shown["pull_steps"] == []
        assert shown["schedules"][0]["schedule"]["timezone"] == "America/Los_Angeles"

        worker_dir = tmp_path / "worker"  # not the project: the flows come from the package
        worker_dir.mkdir()
        worker_log = tmp_path / "worker.log"
        with open(worker_log, "wb") as sink:
            worker = subprocess.Popen(
                [sys.executable, "-m", "prefect", "worker", "start", "--pool", "ipi"],
                env={**env, "IPI_CONFIG": str(config), "PREFECT_WORKER_QUERY_SECONDS": "1"},
                cwd=worker_dir, stdout=sink, stderr=subprocess.STDOUT)
        run = subprocess.run(
            [sys.executable, "-m", "prefect", "deployment", "run", "ipi-daily/daily",
             "--param", f"day={day}", "--watch", "--watch-timeout", "240"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0 and "Completed" in run.stdout, (
            run.stdout + run.stderr + worker_log.read_text(errors="replace")[-4000:])
        limit = json.loads(prefect_cli(env, "global-concurrency-limit", "inspect",
                                    "ipi-account-acme", "--output", "json").stdout)
        assert limit["limit"] == 1 and limit["active_slots"] == 0  # taken, then given back
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            try:  # its shutdown is Prefect's, not under test: a loaded machine may be slow
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        server.stop()

    assert len(list((drop / PROCESSED).iterdir())) == 240
    row = pipeline.open_store(settings, settings.accounts[0]).query(
        "SELECT score FROM daily_score WHERE date = $day", {"day": day})[0]
    assert row["score"] < 450
    assert [m["title"].split("]")[0] + "]" for m in webhook_server.received] == ["[CRITICAL]"]


def test_ipis_prefect_server_answers_no_other_origin_and_no_write_without_its_token(
        tmp_path: Path) -> None:
    """The server `ipi serve` starts: a page elsewhere gets no CORS grant and cannot
    write (create or delete runs) without the CSRF token Prefect's own client fetches."""
    import httpx

    server = LocalServer(tmp_path / "server", free_port())
    api = server.start()
    try:
        preflight = httpx.options(f"{api}/flows/filter", headers={
            "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
        assert preflight.headers.get("access-control-allow-origin") != "*"
        assert "evil.example" not in preflight.headers.get("access-control-allow-origin", "")
        write = httpx.post(f"{api}/flows/", json={"name": "planted"},
                           headers={"Origin": "http://evil.example"})
        assert write.status_code == 403 and "CSRF" in write.text
        own = server.url.removesuffix("/api")
        ok = httpx.options(f"{api}/flows/filter", headers={
            "Origin": own, "Access-Control-Request-Method": "POST"})
        assert ok.headers.get("access-control-allow-origin") == own
    finally:
        server.stop()
