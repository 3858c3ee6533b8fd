"""A file per account (ipi.store.accounts): a store made by the previous release split in
place, a split stopped half way finishing, reads across the accounts' files, and an
account offboarded by removing its file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ipi.alerts.control import add_silence
from ipi.api import Rows
from ipi.cli import main
from ipi.errors import StoreUnavailable
from ipi.plain import plain
from ipi.settings import Settings, load_settings
from ipi.store import Store
from ipi.store import accounts as accounts_mod
from ipi.store.accounts import (
    WHOLE_RUN,
    Fleet,
    account_path,
    account_store,
    account_tables,
    ensure_split,
    prepare,
    share_house,
    split,
)

ROOT = Path(__file__).resolve().parents[2]
PREVIOUS = "ad4fefe"  # the last commit with one DuckDB file for every account
NAMES = ("acme", "beta")
START = date(2026, 6, 1)
DAYS = 20
TODAY = date(2026, 6, 20)  # the demo's last day: "today" for the silences read

CONFIG = """\
[store]
data_dir = "data"

[alerts]
urls = ["ipifile://{log}"]
retry_backoff_minutes = 0

[[accounts]]
name = "acme"
marketplaces = ["US"]

[[accounts]]
name = "beta"
marketplaces = ["US"]
"""

# Run by the previous release's code (PYTHONPATH: its ipi and flows): two accounts loaded
# from the same downloads (their raw files shared) and scored; for acme an official score,
# a silence and an ops message delivered to the file target; a whole run's ops message.
# Prints what that release's own API reads, as JSON.
BUILD = """
import json, sys
from datetime import date, timedelta
from pathlib import Path

import ipi
from ipi import pipeline
from ipi.alerts.control import add_silence
from ipi.api import Rows
from ipi.demo import simulate, write_day
from ipi.score import record_official
from ipi.score.official import Official
from ipi.settings import load_settings
from ipi.sources.files import FileDrops

assert ipi.__file__.startswith(sys.path[1]), ipi.__file__  # the previous release's own
config, start, days, today = Path(sys.argv[1]), date.fromisoformat(sys.argv[2]), \\
    int(sys.argv[3]), date.fromisoformat(sys.argv[4])
settings = load_settings(config, env={})
sim = simulate(start, days, n_skus=40, seed=5)
downloads = config.parent / "downloads"
for i in range(days):
    write_day(sim, i, downloads)
for account in settings.accounts:
    run = pipeline.ingest(pipeline.open_store(settings), account,
                          FileDrops(downloads, move_done=False), sim.day(days - 1))
    pipeline.score(settings, account, sim.day(days - 1), run.days)
acme = settings.account("acme")
with pipeline.open_store(settings).write() as con:
    record_official(con, acme, [Official("US", sim.day(days - 5), 420.0)])
    add_silence(con, "acme", None, today + timedelta(days=10), "moving warehouses", today)
pipeline.send_ops(settings, "acme:ops/test", "acme", today, "[OPS] IPI acme: a test",
                  "a message from the previous release")
pipeline.report_run_failure(settings, "run-1", "a test of a whole run's failure", day=today)
lib = Rows(settings)
print(json.dumps({name: {"scores": lib.scores(name), "official": lib.official(name),
                         "silences": lib.silences(name, ended=True, today=today),
                         "messages": lib.messages(name)} for name in ("acme", "beta")},
                 default=str))
"""


def read(lib: Rows, name: str) -> dict[str, Any]:
    """What the API reads of an account, as the previous release's BUILD printed it."""
    got = {"scores": lib.scores(name), "official": lib.official(name),
           "silences": lib.silences(name, ended=True, today=TODAY),
           "messages": lib.messages(name)}
    out: dict[str, Any] = json.loads(json.dumps(plain(got), default=str))  # as JSON carried it
    return out


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A folder with ipi.toml and a data folder as the previous release left it (one file
    for both accounts), and what that release read from it: built once, copy it."""
    tmp = tmp_path_factory.mktemp("previous")
    code = tmp / "code"
    code.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", PREVIOUS, "ipi", "flows"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
    home = tmp / "home"
    home.mkdir()
    (home / "ipi.toml").write_text(CONFIG.format(log=tmp / "alerts.log"), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", BUILD, str(home / "ipi.toml"), str(START), str(DAYS), str(TODAY)],
        capture_output=True, text=True, cwd=tmp, timeout=600,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("IPI_")},
             "PYTHONPATH": str(code)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert not (home / "data" / "accounts").exists()  # the previous layout: one file
    return home, json.loads(done.stdout.splitlines()[-1])


@pytest.fixture
def old_store(previous_release: tuple[Path, dict[str, Any]],
              tmp_path: Path) -> tuple[Settings, dict[str, Any]]:
    """A copy of the previous release's folder: (its settings, what that release read)."""
    home, before = previous_release
    shutil.copytree(home, tmp_path / "home")
    return load_settings(tmp_path / "home" / "ipi.toml", env={}), before


def table_accounts(path: Path) -> dict[str, set[str]]:
    """Each table with an account column in the file, and the accounts its rows name."""
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: {a for (a,) in con.execute(f"SELECT DISTINCT account FROM {t}").fetchall()}
                for t in account_tables(con)}


def test_given_a_previous_release_store_when_first_read_then_each_account_gets_its_own_file(
        old_store: tuple[Settings, dict[str, Any]]) -> None:
    """The previous release's single file, read through today's API: split in place into
    a file per account, each holding that account's rows only, read the same as the old
    code read them; the installation's file keeps no account's row (a whole run's ops
    message aside); silences go on numbering after the copied ones; a second look moves
    nothing."""
    settings, before = old_store
    assert before["acme"]["official"] and before["acme"]["silences"]  # the old code made them
    assert before["acme"]["messages"] and before["beta"]["scores"]

    lib = Rows(settings)
    assert read(lib, "acme") == before["acme"]
    assert read(lib, "beta") == before["beta"]

    assert sorted(p.name for p in settings.accounts_dir.glob("*.duckdb")) == [
        "acme.duckdb", "beta.duckdb"]
    for name in NAMES:
        held = table_accounts(account_path(settings, name))
        assert held["daily_score"] == {name} and held["ingested_file"] == {name}
        assert all(found <= {name} for found in held.values()), held
    assert table_accounts(account_path(settings, "acme"))["alert_silence"] == {"acme"}
    with duckdb.connect(str(account_path(settings, "acme")), read_only=True) as con:
        # the rows reached through acme's: its message's delivery, the raw files it loaded
        assert con.execute("SELECT count(*) FROM alert_delivery").fetchone() == (1,)
        (raw,) = con.execute("SELECT count(*) FROM raw_file").fetchone() or (0,)
        assert raw > 0
    house = table_accounts(settings.database_path)
    assert house["alert_outbox"] == {WHOLE_RUN}
    assert all(not found for t, found in house.items() if t != "alert_outbox"), house
    with duckdb.connect(str(settings.database_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw_file").fetchone() == (0,)

    [copied] = before["acme"]["silences"]
    with account_store(settings, "acme").write() as con:
        new_id = add_silence(con, "acme", None, date(2026, 7, 1), "another", TODAY)
    assert new_id > copied["id"]

    files = {p.name: p.read_bytes() for p in settings.accounts_dir.iterdir()}
    assert ensure_split(settings) == []
    assert read(Rows(settings), "beta") == before["beta"]
    assert {p.name: p.read_bytes() for p in settings.accounts_dir.iterdir()} == files


def test_messages_of_no_account_named_list_the_whole_runs_own_beside_the_accounts(
        old_store: tuple[Settings, dict[str, Any]]) -> None:
    """A run that failed as a whole paged ops from the installation's file; the list of
    every message shows it with the accounts' (named, only theirs)."""
    settings, _ = old_store
    lib = Rows(settings)
    every = lib.messages()
    assert {m.account for m in every} == {"acme", WHOLE_RUN}
    assert [m.date for m in every] == sorted((m.date for m in every), reverse=True)
    assert {m.account for m in lib.messages("acme")} == {"acme"}
    assert len(lib.messages(limit=1)) == 1


def test_given_a_split_stopped_before_the_rename_when_opened_then_it_finishes(
        old_store: tuple[Settings, dict[str, Any]]) -> None:
    """The account files complete under accounts.split/ and the rows gone from the
    installation's file, the folder not yet renamed: the next open renames it and every
    row is there."""
    settings, before = old_store
    assert split(settings) == list(NAMES)
    partial = settings.accounts_dir.with_name("accounts.split")
    settings.accounts_dir.rename(partial)  # as if stopped just before its last step

    assert read(Rows(settings), "acme") == before["acme"]
    assert read(Rows(settings), "beta") == before["beta"]
    assert not partial.exists()
    assert sorted(p.name for p in settings.accounts_dir.glob("*.duckdb")) == [
        "acme.duckdb", "beta.duckdb"]


def test_given_a_split_stopped_before_the_rows_left_when_opened_then_it_starts_again(
        old_store: tuple[Settings, dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """The split fails after acme's file was written, before beta's and before the rows
    left the installation's file (the disk full: DuckDB's error, said as ipi's): that
    transaction rolls back, the half-made folder stays; the next open starts again and
    ends with every row once, in its account's file."""
    settings, before = old_store
    copy_out = accounts_mod._copy_out

    def stops_at_beta(con: duckdb.DuckDBPyConnection, path: Path, name: str,
                      tables: Any) -> None:
        if name == "beta":
            raise duckdb.IOException("could not write: No space left on device")
        copy_out(con, path, name, tables)

    monkeypatch.setattr(accounts_mod, "_copy_out", stops_at_beta)
    with pytest.raises(StoreUnavailable, match=r"No space left.*nothing is lost"):
        Rows(settings).scores("acme")
    partial = settings.accounts_dir.with_name("accounts.split")
    assert [p.name for p in partial.glob("*.duckdb")] == ["acme.duckdb"]
    assert not settings.accounts_dir.exists()
    assert table_accounts(settings.database_path)["daily_score"] == set(NAMES)  # all there

    monkeypatch.setattr(accounts_mod, "_copy_out", copy_out)
    assert read(Rows(settings), "acme") == before["acme"]
    assert read(Rows(settings), "beta") == before["beta"]
    assert not partial.exists()
    for name in NAMES:
        assert all(found <= {name} for found in
                   table_accounts(account_path(settings, name)).values())


def test_given_a_file_in_the_splits_way_when_a_command_runs_then_one_line_and_nothing_lost(
        old_store: tuple[Settings, dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    """A file in the way of the new folder: the command says so in one line naming the
    path and the fix, exit 2; the old file keeps every row; cleared, the next command
    splits."""
    settings, before = old_store
    assert settings.config_path is not None
    blocker = settings.accounts_dir.with_name("accounts.split")
    blocker.write_text("not a folder")

    assert main(["score", "--config", str(settings.config_path)]) == 2  # nothing done
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert str(blocker) in err and "a file stands where a folder is needed" in err, err
    assert table_accounts(settings.database_path)["daily_score"] == set(NAMES)
    assert not settings.accounts_dir.exists()

    blocker.unlink()
    assert read(Rows(settings), "acme") == before["acme"]


@pytest.fixture
def held() -> Iterator[Any]:
    """``held(path)``: another process holds ``path`` open for writing until the test ends
    (it says so on stdout, and lets go when its stdin closes)."""
    procs: list[subprocess.Popen[str]] = []

    def hold(path: Path) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
             "print('held', flush=True); sys.stdin.readline()", str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        return proc

    try:
        yield hold
    finally:
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=30)


def test_fleet_reads_across_accounts_and_names_the_one_being_written(
        old_store: tuple[Settings, dict[str, Any]], held: Any) -> None:
    """Every account's file read as one database; while another process writes acme's
    file, acme is named updating and beta's rows still read, through Fleet and Rows."""
    settings, before = old_store
    everyone = json.loads(json.dumps(plain(Rows(settings).scores()), default=str))
    assert everyone == sorted(before["acme"]["scores"] + before["beta"]["scores"],
                              key=lambda r: (r["account"], r["marketplace"], r["date"]))
    fleet = Fleet(settings)
    assert fleet.query("SELECT account, count(*) AS n FROM daily_score GROUP BY ALL "
                       "ORDER BY ALL") == [{"account": n, "n": DAYS} for n in NAMES]
    assert fleet.updating == []
    # The default model each file carries a copy of reads once across them.
    with Store.for_settings(settings).write() as con:
        con.execute("INSERT INTO reference_row (key, source, kind, imported_at) "
                    "VALUES ('k', 'a screenshot', 'counted', now())")
    for name in NAMES:
        share_house(settings, account_store(settings, name))
    assert fleet.query("SELECT key FROM reference_row") == [{"key": "k"}]

    held(account_path(settings, "acme"))
    assert fleet.query("SELECT DISTINCT account FROM daily_score") == [{"account": "beta"}]
    assert fleet.updating == ["acme"]
    lib = Rows(settings)
    assert json.loads(json.dumps(plain(lib.scores()), default=str)) == before["beta"]["scores"]
    assert lib.updating == ["acme"]


def test_given_an_account_offboarded_when_its_file_is_removed_then_its_rows_are_gone(
        old_store: tuple[Settings, dict[str, Any]]) -> None:
    """Removing beta's file takes every row of beta with it (no other file names beta);
    acme reads as before, alone and across the accounts."""
    settings, before = old_store
    Rows(settings).scores("acme")  # split
    account_path(settings, "beta").unlink()
    assert not list(settings.accounts_dir.glob("beta.*"))  # no write-ahead log left behind

    lib = Rows(settings)
    assert read(lib, "acme") == before["acme"]
    assert json.loads(json.dumps(plain(lib.scores()), default=str)) == before["acme"]["scores"]
    for path in [*settings.accounts_dir.glob("*.duckdb"), settings.database_path]:
        assert all("beta" not in found for found in table_accounts(path).values()), path


def test_given_a_previous_release_store_when_two_accounts_run_at_once_then_it_is_split_once(
        old_store: tuple[Settings, dict[str, Any]]) -> None:
    """The first run after the upgrade: its accounts, threads of one process, open their
    stores at the same moment; one of them splits the file, the other waits for it, and
    each reads its rows as before."""
    settings, before = old_store
    start = threading.Barrier(len(NAMES), timeout=30)

    def first_read(name: str) -> dict[str, Any]:
        start.wait()
        return read(Rows(settings), name)

    with ThreadPoolExecutor(len(NAMES)) as pool:
        got = dict(zip(NAMES, pool.map(first_read, NAMES), strict=True))
    assert got == {name: before[name] for name in NAMES}
    assert not settings.accounts_dir.with_name("accounts.split").exists()


def test_given_an_installation_file_when_new_accounts_open_at_once_then_each_gets_its_file(
        tmp_path: Path) -> None:
    """A run's accounts, threads of one process, each open a store of their own for the
    first time at the same moment: each file is made with the installation's default
    model copied in, none fails on the installation's file being in use by another (a few
    rounds: the moment they meet is short)."""
    names = [f"seller{i}" for i in range(8)]
    for attempt in range(3):
        home = tmp_path / f"home{attempt}"
        home.mkdir()
        (home / "ipi.toml").write_text('[store]\ndata_dir = "data"\n' + "".join(
            f'[[accounts]]\nname = "{n}"\n' for n in names), encoding="utf-8")
        settings = load_settings(home / "ipi.toml", env={})
        prepare(settings)  # as `ipi run` does: the installation's file, made and migrated
        start = threading.Barrier(len(names), timeout=30)

        def first_open(name: str, settings: Settings = settings,
                       start: threading.Barrier = start) -> list[dict[str, Any]]:
            start.wait()
            return account_store(settings, name).query("SELECT count(*) AS n FROM score_prior")

        with ThreadPoolExecutor(len(names)) as pool:
            assert list(pool.map(first_open, names)) == [[{"n": 0}]] * len(names)
        assert sorted(p.stem for p in settings.accounts_dir.glob("*.duckdb")) == names
