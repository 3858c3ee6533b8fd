"""Every command against the faults a new user meets: one line naming the fix, the
documented exit code, never a traceback; and `ipi ingest` leaves a folder that is not a
drop folder exactly as it was."""

from __future__ import annotations

import hashlib
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from flows.cli import main
from ipi.demo import Simulation, write_day
from ipi.settings import Settings
from ipi.store import Store
from tests.helpers import DEMO_START

ACME = '[[accounts]]\nname = "acme"\nmarketplaces = ["US"]\n'


@dataclass
class Case:
    """A fault set up in a config folder: the configuration's extra text and accounts."""

    extra: str = ""
    accounts: str = ACME
    setup: Callable[[Path], object] | None = None


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when this returns


def _unreachable() -> Case:
    port = _closed_port()
    return Case(accounts=ACME + f'source = "sp-api"\n[accounts.sp_api]\nendpoint = '
                f'"http://127.0.0.1:{port}"\ntoken_url = "http://127.0.0.1:{port}/auth/o2/token"'
                "\nretries = 1\nbackoff = 0.01\n")


def _busy(root: Path) -> subprocess.Popen[str]:
    """Another process holding the database, as a long backfill does."""
    path = root / "data" / "ipi.duckdb"
    Store(path, data_dir=path.parent).migrate()
    proc = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(120)", str(path)],
        stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


FAULTS: dict[str, Callable[[], Case]] = {
    "bad key": lambda: Case(extra="[policy]\nthreshhold = 400\n"),
    "bad key in an account": lambda: Case(accounts=ACME + "[accounts.policy]\nthreshhold = 4\n"),
    "bad marketplace": lambda: Case(accounts=ACME.replace('"US"', '"USA"')),
    "out of range": lambda: Case(extra="[policy]\nthreshold = 4500\n"),
    "unreachable endpoint": _unreachable,
    "busy database": lambda: Case(extra='[store]\nbusy_timeout = 0.5\n', setup=_busy),
    "missing drop folder": lambda: Case(accounts=ACME + 'drop_dir = "nowhere"\n'),
    "unwritable data folder": lambda: Case(
        setup=lambda root: (root / "blocked").write_text("a file where a folder should be")),
}

# (command, fault, exit code, what the message must say)
CONFIG = [("bad key", "did you mean 'threshold'"),
          ("bad key in an account", "did you mean 'threshold'"),
          ("bad marketplace", "USA"), ("out of range", "4500")]
COMMANDS = [["score"], ["check"], ["report", "--out", "{root}/out"], ["official", "list"],
            ["alerts", "history"], ["alerts", "silence", "list"], ["alerts", "check"],
            ["whatif", "--plan"], ["ingest", "{root}/in"], ["run"],
            ["backfill", "--source", "files", "{root}/in", "--start", "2026-06-01",
             "--end", "2026-06-02"]]
MATRIX = [(cmd, fault, 2, said) for cmd in COMMANDS for fault, said in CONFIG] + [
    (["check"], "unreachable endpoint", 1, "cannot reach 127.0.0.1"),
    *[(cmd, "busy database", 2, "is held by process")
      for cmd in (["score"], ["report", "--out", "{root}/out"], ["alerts", "history"],
                  ["alerts", "silence", "list"], ["ingest", "{root}/in"], ["run"],
                  ["official", "list"])],
    (["check"], "missing drop folder", 1, "does not exist: create it"),
    *[(cmd, "unwritable data folder", 2, "a file stands where a folder is needed")
      for cmd in (["score"], ["alerts", "history"], ["ingest", "{root}/in"], ["run"],
                  ["report", "--out", "{root}/out"])],
]


@pytest.fixture
def prepared(tmp_path: Path, demo_sim: Simulation,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Path]]:
    """A config folder with one fault set up (and SP-API credentials in the environment);
    returns its root. Processes it started are stopped afterwards."""
    for key in ("IPI_LWA_CLIENT_ID", "IPI_LWA_CLIENT_SECRET", "IPI_ACME_REFRESH_TOKEN"):
        monkeypatch.setenv(key, "not-a-real-secret")
    started: list[subprocess.Popen[str]] = []

    def make(fault: str) -> Path:
        case = FAULTS[fault]()
        data = '"blocked/data"' if fault == "unwritable data folder" else '"data"'
        (tmp_path / "ipi.toml").write_text(
            f"[store]\ndata_dir = {data}\n"
            + case.extra.replace("[store]\n", "") + "\n" + case.accounts, encoding="utf-8")
        write_day(demo_sim, 0, tmp_path / "in")
        if case.setup is not None:
            got = case.setup(tmp_path)
            if isinstance(got, subprocess.Popen):
                started.append(got)
        return tmp_path

    yield make
    for proc in started:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("command, fault, code, said", MATRIX,
                         ids=[f"{' '.join(c[0][:2])}-{c[1]}" for c in MATRIX])
def test_every_command_meets_each_fault_with_one_line_and_its_exit_code(
        prepared: Callable[[str], Path], capsys: pytest.CaptureFixture[str],
        command: list[str], fault: str, code: int, said: str) -> None:
    """The fault gives the documented exit code and a message naming the fix; a
    configuration or environment fault (2) is exactly one line; no traceback, ever."""
    root = prepared(fault)
    argv = [a.format(root=root) for a in command] + ["--config", str(root / "ipi.toml")]
    assert main(argv) == code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert said in out + err
    if code == 2:
        [line] = err.strip().splitlines()
        assert line.startswith("ipi: error: ") and said in line
        if fault.startswith(("bad", "out")):
            assert str(root / "ipi.toml") in line  # the file to fix


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            if p.is_file() else "dir" for p in sorted(root.rglob("*"))}


def test_given_a_folder_of_the_users_when_ingested_then_it_is_untouched_byte_for_byte(
        make_settings: Callable[..., tuple[Settings, Path]], demo_sim: Simulation,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ipi ingest` on a folder with good reports, a broken file and a sub-folder loads
    what it can and reports the rest, moving, renaming and writing nothing there."""
    _, config = make_settings()
    mine = tmp_path / "my downloads"
    write_day(demo_sim, 3, mine / "june")
    (mine / "broken.txt").write_text("sku\tfnsku\nonly\tjunk\n")
    before = _tree(mine)
    assert main(["ingest", str(mine), "--config", str(config)]) == 1
    out, err = capsys.readouterr()
    assert out.count("loaded  ") == 3 and "day(s) of acme" in out
    assert "1 file(s) could not be loaded (left where they are" in err
    assert "broken.txt: " in err and "Traceback" not in err
    assert _tree(mine) == before and not (mine / "failed").exists()


def test_ipi_run_says_what_it_did_per_account(
        make_settings: Callable[..., tuple[Settings, Path]], demo_sim: Simulation,
        prefect_api: None, capsys: pytest.CaptureFixture[str]) -> None:
    """One line per account: reports loaded, the estimate with its band and status, the
    alerts; a warning when no alert target is configured; no Prefect log lines."""
    two = ACME + '[[accounts]]\nname = "zeta"\nmarketplaces = ["US"]\n'
    settings, config = make_settings(accounts=two)
    day = DEMO_START
    for name in ("acme", "zeta"):
        write_day(demo_sim, 0, settings.drop_dir(settings.account(name)))
    assert main(["run", "--config", str(config), "--date", str(day)]) == 0
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"acme {day}: 3 report(s) loaded; US ")
    assert re.search(r"; US \d+ \(band \d+-\d+, [a-z ]+\); 0 alert\(s\) sent$", lines[0])
    assert lines[1].startswith(f"zeta {day}: 3 report(s) loaded; US ")
    assert "ipi: warning: no alert target is configured" in err
    assert "prefect" not in err.lower() and "Traceback" not in err
