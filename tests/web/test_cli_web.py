"""`ipi web`: the dashboard as a command of its own, its address said at start, and
refused in one line when it would be open to the network without a token."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from flows.cli import main
from ipi.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_ipi_web_says_its_address_serves_the_accounts_and_stops_on_ctrl_c(
        scored_demo: tuple[Settings, Path]) -> None:
    _, config = scored_demo
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPI_")}
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "web", "--port", "0",
                             "--config", str(config)], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("ipi web: the dashboard is at http://127.0.0.1:"), line
        url = line.split(" is at ")[1].split(";")[0]
        index = httpx.get(url + "/", timeout=30)
        assert index.status_code == 200 and "acme" in index.text
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(30)
    assert code == 0, proc.stderr.read() if proc.stderr else ""


@pytest.mark.parametrize("token", [None, ""])
def test_ipi_web_beyond_loopback_without_a_token_is_refused_in_one_line(
        token: str | None, scored_demo: tuple[Settings, Path],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _, config = scored_demo
    if token is not None:
        monkeypatch.setenv("IPI_WEB_TOKEN", token)  # set but empty: no token
    assert main(["web", "--host", "0.0.0.0", "--port", "0", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "IPI_WEB_TOKEN" in err and "Traceback" not in err
