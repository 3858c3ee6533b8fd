"""`ipi run` with nothing new to load starts no Prefect API (15-20 s of its own), and still
does what the day needs: the day scored, the alerts evaluated and delivered."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from ipi.demo import Simulation, write_day
from ipi.settings import Settings
from tests.helpers import Webhook

ROOT = Path(__file__).resolve().parents[2]
RUN = ("import sys; from flows.cli import main; rc = main(sys.argv[1:]); "
       "print('prefect loaded:', 'prefect' in sys.modules); sys.exit(rc)")


def _ipi_run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home)}  # no PREFECT_API_URL, no IPI_*
    return subprocess.run([sys.executable, "-c", RUN, "run", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_nothing_new_runs_the_day_without_prefect_and_pages_a_stale_account(
        make_settings: Callable[..., tuple[Settings, Path]], scored_demo_data: Path,
        demo_sim: Simulation, webhook_server: Webhook) -> None:
    """The drop folder is empty and the newest estimate is weeks old: the dead man's
    switch pages ops, from a run that never imported Prefect."""
    settings, config = make_settings(urls=[webhook_server.url])
    shutil.copytree(scored_demo_data, settings.data_dir)
    late = demo_sim.day(99 + 20)
    done = _ipi_run(config.parent, "--config", str(config), "--date", str(late))
    assert done.returncode == 0, done.stderr
    assert "prefect loaded: False" in done.stdout
    assert f"acme {late}: 0 report(s) loaded" in done.stdout
    assert "Prefect not started" in done.stdout
    [ops] = webhook_server.received
    assert ops["title"].startswith("[OPS] IPI acme: no fresh estimate since "
                                   f"{demo_sim.day(99)}")


@pytest.mark.usefixtures("prefect_api")
def test_a_file_in_the_drop_folder_runs_the_daily_flow(
        make_settings: Callable[..., tuple[Settings, Path]], demo_sim: Simulation,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Something to load: the daily flow runs, under Prefect, as before."""
    from flows.cli import main

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    settings, config = make_settings()
    write_day(demo_sim, 0, settings.drop_dir(settings.accounts[0]))
    assert main(["run", "--config", str(config), "--date", str(demo_sim.day(0))]) == 0
    out = capsys.readouterr().out
    assert f"acme {demo_sim.day(0)}: 3 report(s) loaded" in out
    assert "Prefect not started" not in out  # loading is the daily flow's, never the shortcut's


def test_a_day_in_the_future_is_refused_before_anything_runs(
        make_settings: Callable[..., tuple[Settings, Path]],
        capsys: pytest.CaptureFixture[str]) -> None:
    """`ipi run --date` of a day that has not begun for an account: one line, exit 2."""
    from flows.cli import main

    settings, config = make_settings()
    later = settings.today(settings.accounts[0]) + timedelta(days=2)
    assert main(["run", "--config", str(config), "--date", str(later)]) == 2
    err = capsys.readouterr().err
    assert f"--date {later} is in the future for account acme" in err
    assert len(err.strip().splitlines()) == 1 and not settings.database_path.exists()
    assert not settings.accounts_dir.exists()
