"""`ipi serve`: deployments from the configuration, and a real run on a one-minute
schedule under the Prefect server ipi starts, supervises and stops itself."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.serve import LocalServer, deployments, healthy, port_free
from ipi import pipeline
from ipi.demo import simulate, write_day
from ipi.errors import IpiError
from ipi.settings import Settings
from ipi.sources.files import PROCESSED
from tests.helpers import Webhook, free_port

ROOT = Path(__file__).resolve().parents[2]


def test_accounts_sharing_a_schedule_and_time_zone_are_one_deployment(
        make_settings: Callable[..., tuple[Settings, Path]]) -> None:
    """Each account runs in its own time zone (its own, [run]'s, else its first
    marketplace's); accounts that share one run as one flow run."""
    settings, config = make_settings(extra='[run]\nschedule = "0 6 * * *"\n', accounts="""
[[accounts]]
name = "us1"
[[accounts]]
name = "us2"
marketplaces = ["CA"]
[[accounts]]
name = "jp"
marketplaces = ["JP"]
[[accounts]]
name = "ny"
timezone = "America/New_York"
schedule = "15 5 * * 1-5"
""")
    served = {d.name: d for d in deployments(settings)}
    assert set(served) == {"daily-0-6-x-x-x-america-los-angeles", "daily-0-6-x-x-x-asia-tokyo",
                           "daily-15-5-x-x-1-5-america-new-york", "backfill"}
    la = served["daily-0-6-x-x-x-america-los-angeles"]
    assert la.parameters == {"config": str(config), "accounts": ["us1", "us2"]}
    cron = la.schedules[0].schedule
    assert (cron.cron, cron.timezone) == ("0 6 * * *", "America/Los_Angeles")  # type: ignore[union-attr]
    assert served["daily-0-6-x-x-x-asia-tokyo"].parameters["accounts"] == ["jp"]
    assert not served["backfill"].schedules
    assert all(d.entrypoint and ":" not in d.entrypoint for d in served.values())  # modules


def test_a_taken_port_is_named_with_the_setting_that_moves_it(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(IpiError, match=rf"port {port} .* set \[run\] server_port"):
            LocalServer(tmp_path / "prefect", port).start()
    assert not (tmp_path / "prefect").exists()  # nothing started, nothing written


def _start_serve(config: Path, cwd: Path,
                 **extra: str) -> tuple[subprocess.Popen[bytes], Path]:
    """``ipi serve --config CONFIG`` in a process; its output goes to the returned file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "IPI_"))}
    # The runner looks for due runs every second instead of ten.
    env.update(PREFECT_RUNNER_POLL_FREQUENCY="1", PYTHONPATH=str(ROOT), **extra)
    out = cwd / "serve.out"
    with open(out, "wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve", "--config",
                                 str(config)], stdout=sink, stderr=subprocess.STDOUT,
                                env=env, cwd=cwd)
    return proc, out


def _processes_on(port: int) -> list[int]:
    """Live processes started with ``--port PORT``: what a leaked server would be."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            stat = (proc / "stat").read_text()
        except (OSError, ValueError):
            continue
        if b"--port" in cmd and str(port).encode() in cmd and ") Z " not in stat:
            found.append(int(proc.name))
    return found


def _post(url: str, body: dict[str, Any]) -> Any:
    """A write to ipi's Prefect server, with the CSRF token it requires (as Prefect's own
    client fetches one)."""
    api = url[:url.index("/api/") + len("/api")]
    client = str(uuid.uuid4())
    token = _get(f"{api}/csrf-token?client={client}")["token"]
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Prefect-Csrf-Token": token,
                                              "Prefect-Csrf-Client": client})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.load(r)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def _served(port: int) -> int:
    """How many deployments the server on ``port`` has (0 while it does not answer)."""
    try:
        return int(_post(f"http://127.0.0.1:{port}/api/deployments/count", {}))
    except OSError:
        return 0


def _server_log(out: Path) -> str:
    """The end of the local Prefect server's log, beside ipi serve's output."""
    return "".join(f"\n{log} ends with:\n" + log.read_text(errors="replace")[-3000:]
                   for log in out.parent.rglob("server.log"))


def _run_completes(api: str, out: Path) -> None:
    """Ask the server for a run of the daily deployment; the runner must complete it."""
    [deployment] = [d for d in _post(f"{api}/deployments/filter", {})
                    if d["name"].startswith("daily-")]
    created: list[Any] = []

    def create() -> bool:
        try:
            created.append(_post(f"{api}/deployments/{deployment['id']}/create_flow_run", {}))
        except urllib.error.HTTPError as exc:  # a server just back: 503 until it is ready
            assert exc.code == 503, exc
        except urllib.error.URLError:  # on a loaded machine it may be restarted again
            pass
        return bool(created)

    _wait(create, 60, "the server took no flow run", out)
    run = created[0]

    def completed() -> bool:  # on a loaded machine the server may be restarted again
        try:
            return bool(_get(f"{api}/flow_runs/{run['id']}")["state_type"] == "COMPLETED")
        except urllib.error.URLError:
            return False

    _wait(completed, 90, "the runner did not run the flow", out)


def _wait(predicate: Callable[[], bool], timeout: float, what: str, out: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} after {timeout:.0f}s; ipi serve said:\n"
                                 + out.read_text(errors="replace")[-4000:] + _server_log(out))
        time.sleep(0.5)


@pytest.mark.e2e
def test_ipi_serve_runs_the_day_on_a_one_minute_schedule_and_stops_cleanly(
        make_settings: Callable[..., tuple[Settings, Path]], webhook_server: Webhook,
        tmp_path: Path) -> None:
    """No PREFECT_API_URL: ipi starts a Prefect server on 127.0.0.1, whose scheduler
    starts the daily run within the minute; the run loads the drops, scores the day and
    pages. SIGTERM then stops the runner and the server, exit code 0, nothing left."""
    port, web = free_port(), free_port()
    settings, config = make_settings(
        urls=[webhook_server.url],
        extra=f'[run]\nschedule = "* * * * *"\nserver_port = {port}\n[web]\nport = {web}\n')
    # The demo seller's story, ending today: a scheduled run is for the account's today,
    # in its marketplace's time zone, which is not the machine's for hours of every day.
    today = settings.today(settings.accounts[0])
    sim = simulate(today - timedelta(days=79), 100, n_skus=40, seed=11)
    drop = settings.drop_dir(settings.accounts[0])
    for i in range(80):  # the estimate is under 450 on the last of these days
        write_day(sim, i, drop)
    proc, out = _start_serve(config, tmp_path)
    try:
        _wait(lambda: len(list((drop / PROCESSED).glob("*"))) == 240, 150,
              "the scheduled run did not load the drops", out)
        _wait(lambda: bool(webhook_server.received), 30, "no alert arrived", out)
        _wait(lambda: "Finished in state Completed()" in out.read_text(errors="replace"),
              30, "the run did not complete", out)
        assert _processes_on(port), "the local Prefect server is not running"
        # The dashboard, beside. It answers 503 "updating" while a writer holds the store:
        # on a busy machine the next minute's run may be writing; it answers when done.
        pages: list[httpx.Response] = []

        def answered() -> bool:
            pages.append(httpx.get(f"http://127.0.0.1:{web}/accounts/acme", timeout=30))
            return not (pages[-1].status_code == 503 and "retry-after" in pages[-1].headers)

        _wait(answered, 60, "the dashboard kept answering 'updating'", out)
        assert pages[-1].status_code == 200 and "acme" in pages[-1].text
        # `ipi run` beside it runs on its server (no temporary API of its own): the run
        # is there, without a deployment.
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        done = subprocess.run([sys.executable, "-m", "flows.cli", "run", "--config",
                               str(config), "-v"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"running on ipi serve's Prefect server, http://127.0.0.1:{port}/api" \
            in done.stderr
        by_hand = _post(f"http://127.0.0.1:{port}/api/flow_runs/filter",
                        {"flow_runs": {"deployment_id": {"is_null_": True}}})
        assert [r["state_type"] for r in by_hand] == ["COMPLETED"]
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    said = out.read_text(errors="replace")
    assert code == 0, said[-3000:]
    assert f"Prefect server on http://127.0.0.1:{port}/api" in said
    assert f"the dashboard is at http://127.0.0.1:{web}" in said
    assert said.rstrip().endswith("ipi serve: stopped")
    assert webhook_server.received[0]["title"].startswith("[CRITICAL]")
    # Today's run scored every dropped day; the alert rules looked at the latest.
    assert pipeline.open_store(settings, settings.accounts[0]).query(
        "SELECT count(*) AS n FROM daily_score")[0]["n"] == 80
    assert _processes_on(port) == []
    assert port_free(port)
    assert (settings.data_dir / "prefect" / "server.log").stat().st_size > 0


@pytest.mark.e2e
def test_ipi_serve_restarts_a_dead_server_and_a_killed_ipi_takes_it_along(
        make_settings: Callable[..., tuple[Settings, Path]], tmp_path: Path) -> None:
    """The server dies: ipi starts it again. ipi is killed with no chance to stop
    anything: the OS stops the server with it."""
    port = free_port()
    _, config = make_settings(extra=f"[run]\nserver_port = {port}\n")
    proc, out = _start_serve(config, tmp_path)
    try:
        _wait(lambda: _served(port) == 2, 150, "the deployments were not served", out)
        [first] = _processes_on(port)
        os.kill(first, signal.SIGKILL)
        _wait(lambda: "starting it again" in out.read_text(errors="replace"), 30,
              "ipi did not notice the server died", out)
        _wait(lambda: healthy(f"http://127.0.0.1:{port}/api"), 150,
              "the server did not come back", out)
        assert _processes_on(port) not in ([], [first])
        # The runner carried on: a run asked of the restarted server completes.
        _run_completes(f"http://127.0.0.1:{port}/api", out)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    _wait(lambda: not _processes_on(port), 30, "the server outlived ipi", out)


@pytest.mark.e2e
def test_ipi_serve_outlasts_an_api_gone_longer_than_prefects_runner_waits(
        make_settings: Callable[..., tuple[Settings, Path]], tmp_path: Path) -> None:
    """Prefect's runner gives up after three failed polls in a row; a server that takes
    longer to come back (a restart on a busy machine, an upgrade) must not end the
    schedules: ipi serves again once the API answers."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    _, config = make_settings()
    server = LocalServer(tmp_path / "prefect", port)
    server.start()
    # One retry inside each poll (five by default): the runner gives up within seconds.
    proc, out = _start_serve(config, tmp_path, PREFECT_API_URL=api,
                             PREFECT_CLIENT_MAX_RETRIES="1")
    try:
        _wait(lambda: _served(port) == 2, 150, "the deployments were not served", out)
        server.stop()
        _wait(lambda: "serving again when it answers" in out.read_text(errors="replace"), 120,
              "ipi serve did not notice the runner gave up", out)
        assert proc.poll() is None, "ipi serve ended with its runner"
        server = LocalServer(tmp_path / "prefect", port)
        server.start()
        _wait(lambda: _served(port) == 2, 150, "the deployments were not served again", out)
        _run_completes(api, out)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        server.stop()
    assert f"lost the Prefect API at {api}" in out.read_text(errors="replace")
