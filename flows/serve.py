"""``ipi serve``: the daily flow on each account's schedule, on one machine, unattended.

Prefect's ``serve`` needs an API whose scheduler runs: the temporary in-process
server registers schedules but never starts a run. So when ``PREFECT_API_URL``
is not set, ipi starts ``prefect server start`` on 127.0.0.1 itself, keeps its
database and log under ``<data_dir>/prefect``, starts it again if it dies, and
stops it on the way out: SIGTERM and Ctrl-C leave no process behind, and a
``kill -9`` of ipi takes the server with it (Linux).

Accounts that share a schedule and time zone are one deployment, so their day is
one flow run that works on them in parallel; ``ipi-backfill`` is served without a
schedule, to be started from the UI or ``prefect deployment run``.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from typing import cast

import httpx
from prefect import serve as prefect_serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.types.entrypoint import EntrypointType

from flows.backfill import backfill
from flows.daily import daily
from flows.probe import healthy, port_free
from ipi.errors import ConfigError, IpiError, ServerUnavailable
from ipi.settings import Settings
from ipi.store import private

log = logging.getLogger("ipi.serve")

STARTUP_TIMEOUT = 120.0  # seconds; a first start migrates the database (~15 s on 2 cores)
API_GONE = 600.0  # seconds the runner waits for a lost API before ipi serve gives up


def deployments(settings: Settings) -> list[RunnerDeployment]:
    """One ``ipi-daily`` deployment per (schedule, time zone), named after both, plus
    ``ipi-backfill/backfill``. Flow runs import the flows by module: no working folder."""
    if not settings.accounts:
        raise ConfigError(f"no [[accounts]] in {settings.config_path}: nothing to serve")
    config = str(settings.config_path) if settings.config_path else None
    groups: dict[tuple[str, str], list[str]] = {}
    for account in settings.accounts:
        groups.setdefault(settings.schedule_of(account), []).append(account.name)
    out = []
    for (cron, tz), names in groups.items():
        try:
            schedule = Cron(cron, timezone=tz)
        except ValueError as exc:
            raise ConfigError(f"account(s) {', '.join(names)}: schedule {cron!r}: {exc}; "
                              "fix schedule in [run] or [[accounts]]") from None
        out.append(cast(RunnerDeployment, daily.to_deployment(  # called sync: not a coroutine
            deployment_name(cron, tz), schedule=schedule,
            parameters={"config": config, "accounts": names},
            description=f"The day of {', '.join(names)}: {cron} ({tz})",
            entrypoint_type=EntrypointType.MODULE_PATH)))
    out.append(cast(RunnerDeployment, backfill.to_deployment(
        "backfill", parameters={"config": config},
        description="Rebuild history; give start, end and, for archives, source and paths",
        entrypoint_type=EntrypointType.MODULE_PATH)))
    return out


def deployment_name(cron: str, tz: str) -> str:
    """'30 7 * * *', 'Europe/Berlin' -> 'daily-30-7-x-x-x-europe-berlin': stable across
    restarts, so a changed config updates its deployment instead of adding one."""
    cron = cron.replace("*", "x")
    return "daily-" + re.sub(r"[^a-z0-9]+", "-", f"{cron} {tz}".lower()).strip("-")


def serve(settings: Settings) -> None:
    """Serve until SIGTERM or Ctrl-C, on ``PREFECT_API_URL`` or on a local server."""
    served = deployments(settings)  # a bad schedule fails before anything starts
    if os.environ.get("PREFECT_API_URL"):
        log.info("serving on the Prefect API at %s", os.environ["PREFECT_API_URL"])
        _run(served, os.environ["PREFECT_API_URL"])
        return
    server = LocalServer(settings.data_dir / "prefect", settings.server_port)
    # A SIGTERM while the server starts still stops it; Prefect's runner then takes the
    # signal over, stops the runs and returns here.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        api = server.start()
        # The flow runs are child processes: they read the API from the environment.
        os.environ["PREFECT_API_URL"] = api
        with temporary_settings({PREFECT_API_URL: api}):
            log.info("Prefect server on %s (UI: %s, log: %s)", api,
                     api.removesuffix("/api"), server.log_path)
            _run(served, api, f"; its log: {server.log_path}")
    finally:
        server.stop()
    log.info("stopped")


def _run(served: list[RunnerDeployment], api: str, hint: str = "") -> None:
    """Run Prefect's runner; when it gives up on a lost API, serve again once it answers.

    The runner stops after three failed polls in a row (~30 s), shorter than a restart
    of the local server on a busy machine takes: without this, a dead server would stop
    the schedules for good even though ipi starts the server again.
    """
    while True:
        try:
            prefect_serve(*served, print_starting_message=False)
            return
        except Exception as exc:
            if not _lost_api(exc):
                raise
            log.warning("lost the Prefect API at %s (%s); serving again when it answers%s",
                        api, _reason(exc), hint)
        deadline = time.monotonic() + API_GONE
        while not healthy(api):
            if time.monotonic() > deadline:
                raise ServerUnavailable(
                    f"lost the Prefect API at {api} for {API_GONE / 60:.0f} minutes{hint}; "
                    "start ipi serve again (systemd does, with Restart=on-failure)")
            time.sleep(2.0)


def _lost_api(exc: BaseException) -> bool:
    """The runner's own words for "the API went away", however deep in its task groups."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_lost_api(inner) for inner in exc.exceptions)
    return isinstance(exc, httpx.HTTPError) or (
        isinstance(exc, RuntimeError) and "error threshold" in str(exc))


def _reason(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


class LocalServer:
    """``prefect server start`` on 127.0.0.1:``port``, with ``home`` as its PREFECT_HOME."""

    def __init__(self, home: Path, port: int) -> None:
        self.home, self.port = home, port
        self.url = f"http://127.0.0.1:{port}/api"
        self.log_path = home / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()

    def start(self) -> str:
        """Start the server and wait until it answers; return its API URL."""
        if healthy(self.url):
            raise ConfigError(
                f"a Prefect server already answers on 127.0.0.1:{self.port}: to use it, "
                f"set PREFECT_API_URL={self.url}; for a server of ipi's own, pick another "
                "[run] server_port")
        if not port_free(self.port):
            raise ConfigError(f"port {self.port} on 127.0.0.1 is taken by another program: "
                              "set [run] server_port to a free port")
        self.home.mkdir(parents=True, exist_ok=True)
        private(self.home, 0o700)  # its database holds every run's artifacts: SKUs, scores
        self._spawn()
        self._wait_healthy()
        threading.Thread(target=self._supervise, name="prefect-server-watch",
                         daemon=True).start()
        return self.url

    def _spawn(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
        env.update(PREFECT_HOME=str(self.home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
                   DO_NOT_TRACK="1",
                   # Its own UI's origin only, and writes with a CSRF token: a web page the
                   # seller opens elsewhere can neither read the artifacts nor start runs.
                   PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS=self.url.removesuffix("/api"),
                   PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED="true")
        with open(self.log_path, "ab") as out:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                 "--port", str(self.port), "--no-background"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                # Its own session: a terminal's Ctrl-C reaches ipi, which stops the runs
                # first and the server last.
                start_new_session=True, preexec_fn=_die_with_parent)

    def _wait_healthy(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not healthy(self.url):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ServerUnavailable(f"the local Prefect server did not start on 127.0.0.1:"
                                        f"{self.port}; its log, {self.log_path}, ends with:\n"
                                        + _tail(self.log_path))
            time.sleep(0.5)

    def _supervise(self) -> None:
        """Start the server again when it exits on its own; the runner reconnects."""
        delay = 1.0
        while not self._stopping.is_set():
            assert self._proc is not None
            code = self._proc.wait()
            if self._stopping.is_set():
                return
            log.warning("the local Prefect server exited (code %s); starting it again in "
                        "%.0fs (log: %s)", code, delay, self.log_path)
            if self._stopping.wait(delay):
                return
            started = time.monotonic()
            self._spawn()
            try:
                self._wait_healthy()
            except IpiError as exc:
                log.error("%s", exc)
            # A server that stays up resets the back-off; one that keeps dying slows it.
            delay = 1.0 if time.monotonic() - started > 600 else min(delay * 2, 60.0)

    def stop(self) -> None:
        """SIGTERM to the server's process group, SIGKILL after 20 s."""
        self._stopping.set()
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# Resolved here, not in the forked child, where loading a library could deadlock.
_PRCTL = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM it when ipi dies, even by SIGKILL (Linux)."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _exit_on_signal(signum: int, frame: types.FrameType | None) -> None:
    raise SystemExit(128 + signum)
