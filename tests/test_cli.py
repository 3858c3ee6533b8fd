"""The `ipi` command: output, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from flows.cli import main
from ipi.cli import SCORE_FIELDS
from ipi.demo import Simulation, write_day
from ipi.settings import Settings
from tests.helpers import FAR_APART, FAR_APART_ACCOUNTS, Webhook


@pytest.fixture
def config(make_settings: Callable[..., tuple[Settings, Path]]) -> Path:
    return make_settings()[1]


def test_given_report_files_when_ingest_then_loaded_and_scored(
        config: Path, demo_sim: Simulation, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`ipi ingest` loads a folder of downloads, says what each file was, and rescores."""
    for i in range(3):
        write_day(demo_sim, i, tmp_path / "downloads")
    assert main(["ingest", str(tmp_path / "downloads"), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.count("loaded  ") == 9 and "GET_STRANDED_INVENTORY_UI_DATA" in out
    assert "date from content" in out and "date from file name" in out
    assert "rescored 3 day(s) of acme" in out
    assert main(["ingest", str(tmp_path / "downloads"), "--config", str(config)]) == 0
    assert capsys.readouterr().out.count("already loaded") == 9


def test_given_bad_file_when_ingest_then_exit_1_naming_it_and_rest_loaded(
        config: Path, demo_sim: Simulation, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A bad file fails the command (exit 1) with its name and reason, and stays where it
    is; the others load."""
    folder = tmp_path / "downloads"
    write_day(demo_sim, 0, folder)
    (folder / "empty.txt").write_bytes(b"")
    assert main(["ingest", str(folder), "--config", str(config)]) == 1
    captured = capsys.readouterr()
    assert captured.out.count("loaded  ") == 3
    assert "empty.txt: the file is empty" in captured.err
    assert (folder / "empty.txt").exists() and not (folder / "failed").exists()


def test_score_json_has_the_documented_fields(
        config: Path, demo_sim: Simulation, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`ipi score --json` gives one object per account, marketplace and day, with the fields
    docs/guide/commands.md lists; --history picks how many days."""
    for i in range(3):
        write_day(demo_sim, i, tmp_path / "d")
    main(["ingest", str(tmp_path / "d"), "--config", str(config)])
    capsys.readouterr()
    assert main(["score", "--json", "--history", "2", "--config", str(config)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["date"] for r in rows] == [str(demo_sim.day(1)), str(demo_sim.day(2))]
    assert all(tuple(r) == SCORE_FIELDS for r in rows)
    # Written as scripts read them: these keys, in this order, whatever the library's types
    assert SCORE_FIELDS == ("account", "marketplace", "date", "score", "score_low",
                            "score_high", "score_recent", "excess_pct", "sell_through",
                            "stranded_pct", "in_stock_rate", "status")
    assert all(r["account"] == "acme" and r["marketplace"] == "US" for r in rows)
    assert main(["score", "--config", str(config)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["account", "mkt", "date", "score"] and len(table) == 2


def test_without_configuration_the_error_says_what_to_do(
        capsys: pytest.CaptureFixture[str]) -> None:
    """No --config and no IPI_CONFIG: exit 2 and one line naming both and the example."""
    assert main(["score"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--config" in err and "IPI_CONFIG" in err
    assert "config/ipi.example.toml" in err


@pytest.mark.parametrize("toml, message", [
    ('[[accounts]]\nname = "a b"\n', '[[accounts]] #1: name = "a b": use letters'),
    ('[store]\ndata_dir = "d"\ncolour = 1\n', "[store]: unknown key 'colour'"),
    ('[policy]\nthreshold = "low"\n', '[policy]: threshold = "low" is not a number'),
    ("[[accounts]\n", "not valid TOML"),
])
def test_bad_configuration_is_one_clear_line(tmp_path: Path, toml: str, message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Configuration mistakes name the key and the file."""
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    assert main(["score", "--config", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_secret_alert_urls_never_reach_output_or_database(
        make_settings: Callable[..., tuple[Settings, Path]], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], tmp_path: Path, webhook_server: Webhook) -> None:
    """A password in IPI_APPRISE_URLS is used (the alert reaches the webhook through it)
    but never printed, logged (even with -v), listed or stored."""
    from tests.alerts.helpers import D, put_score

    settings, config = make_settings()
    secret = "SECRET-TOKEN-1234"
    monkeypatch.setenv("IPI_APPRISE_URLS",
                       f"json://ipi:{secret}@127.0.0.1:{webhook_server.port}/hook")
    put_score(settings, D, 431)
    base = ["--config", str(config)]
    assert main(["-v", "alerts", "check", "--date", str(D), *base]) == 0
    assert [m["title"][:10] for m in webhook_server.received] == ["[CRITICAL]"]
    assert main(["alerts", "history", *base]) == 0
    assert main(["config", "show", *base]) == 0
    assert main(["-v", "alerts", "test", *base]) == 0
    captured = capsys.readouterr()
    assert "JSON #1" in captured.out and secret not in captured.out + captured.err
    for f in (tmp_path / "data").rglob("*"):
        if f.is_file():
            assert secret.encode() not in f.read_bytes(), f


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_api")
def test_demo_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ipi demo` loads the archive, runs the daily flow per day, prints the history and
    delivers the firing and resolved alerts to its local sink."""
    folder = tmp_path / "demo"
    assert main(["demo", "--dir", str(folder), "--days", "100", "--flow-days", "30"]) == 0
    out = capsys.readouterr().out
    assert "Score history (weekly):" in out
    assert out.count("below threshold: firing") == 1
    assert out.count("below threshold: resolved") == 1
    assert out.count("below threshold: repeat") >= 1  # weekly while it stays under
    assert "excess jump: firing" in out  # the bad purchase, before the score fell
    log = (folder / "alerts.log").read_text()
    assert "] [CRITICAL] IPI demo-seller: US" in log and "] [RESOLVED] IPI demo-seller" in log
    assert "still under the threshold" in log
    assert "Fix first:" in log
    # It ends with what to run next, the dashboard first, and where the manual is.
    assert f"ipi web --config {folder / 'ipi-demo.toml'}" in out.split("Next:")[1]
    assert "The manual is in docs/" in out
    assert main(["demo", "--dir", str(folder), "--days", "100", "--flow-days", "1"]) == 0
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert main(["demo", "--dir", str(tmp_path / "mine")]) == 2
    assert (tmp_path / "mine" / "notes.txt").exists()


def test_given_database_held_by_a_run_when_score_then_it_says_who_holds_it(
        make_settings: Callable[..., tuple[Settings, Path]],
        capsys: pytest.CaptureFixture[str]) -> None:
    """DuckDB lets one process in: a reader of the account waits busy_timeout, then names
    the holder, with --account or without when it is the only account."""
    settings, config = make_settings(extra="")
    text = config.read_text().replace('data_dir = "data"', 'data_dir = "data"\nbusy_timeout = 1')
    config.write_text(text)
    from ipi.pipeline import open_store
    from ipi.store.accounts import account_path

    open_store(settings, "acme").migrate()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(30)", str(account_path(settings, "acme"))],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert main(["score", "--config", str(config), "--account", "acme"]) == 2
        err = capsys.readouterr().err
        assert f"held by process {holder.pid}" in err and "Retry when it has finished" in err
        assert main(["score", "--config", str(config)]) == 2
        err = capsys.readouterr().err
        assert f"held by process {holder.pid}" in err and "Retry when it has finished" in err
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.usefixtures("prefect_api")
def test_run_exits_1_naming_the_failed_file(
        config: Path, demo_sim: Simulation, capsys: pytest.CaptureFixture[str]) -> None:
    """`ipi run` runs the daily flow; a failed drop makes it exit 1 with the file and reason,
    after the good files loaded and the day was scored."""
    drop = config.parent / "data" / "drops" / "acme"
    write_day(demo_sim, 0, drop)
    (drop / "notes.txt").write_text("just some notes\n")
    assert main(["run", "--config", str(config), "--date", str(demo_sim.day(0))]) == 1
    assert "acme/notes.txt" in capsys.readouterr().err
    assert main(["score", "--config", str(config), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["date"] == str(demo_sim.day(0)) and row["score"] is not None


def test_ingest_dates_a_file_that_names_no_day_with_the_accounts_today_in_its_time_zone(
        make_settings: Callable[..., tuple[Settings, Path]], demo_sim: Simulation,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """UTC+14 and UTC-11 are 25 hours apart, so their dates always differ: a stranded
    report with no date in its name or content is dated as `ipi run` would date it, the
    account's today, whatever the machine's date."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    _, config = make_settings(accounts=FAR_APART_ACCOUNTS)
    write_day(demo_sim, 5, tmp_path / "day")
    [dated] = (tmp_path / "day").glob("stranded-*")
    undated = tmp_path / "undated" / "stranded.tsv"
    undated.parent.mkdir()
    undated.write_bytes(dated.read_bytes())
    for account, tz in FAR_APART.items():
        assert main(["ingest", "--account", account, str(undated), "--config",
                     str(config)]) == 0
        out = capsys.readouterr().out
        today = datetime.now(ZoneInfo(tz)).date()
        assert f"US {today}; date from" in out, out


def test_check_names_drop_files_that_will_not_load_and_unset_target_variables(
        make_settings: Callable[..., tuple[Settings, Path]],
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`ipi check` says what `ipi run` would refuse (an empty file, a spreadsheet export)
    and which alert target's variable is unset, each by name, and exits 1."""
    monkeypatch.delenv("IPI_SLACK_ACME", raising=False)
    settings, config = make_settings(
        extra='[[alerts.targets]]\nurl_env = "IPI_SLACK_ACME"\naccounts = ["acme"]\n')
    drop = settings.drop_dir(settings.accounts[0])
    drop.mkdir(parents=True)
    (drop / "planning.xlsx").write_bytes(b"PK\x03\x04 not a report")
    (drop / "stranded.tsv").write_bytes(b"")
    (drop / "myi.txt").write_text("sku\tasin\n")
    assert main(["check", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "(3 file(s) waiting)" in out
    assert "FAIL  drop files: 2 of 3 will not load: " in out
    assert "planning.xlsx: a spreadsheet, not the report" in out
    assert "stranded.tsv: empty: download the report again" in out
    assert "FAIL  alert target #1: IPI_SLACK_ACME is not set" in out
