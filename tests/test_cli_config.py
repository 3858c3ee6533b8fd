"""The configuration at the door: bad files refused by every command in one line,
`ipi config show` (sources, no secrets) and `ipi init`."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from flows.cli import main
from ipi.settings import load_settings
from ipi.starter import template

ROOT = Path(__file__).resolve().parents[1]
ACME = '[[accounts]]\nname = "acme"\nmarketplaces = ["US"]\n'
STORE = '[store]\ndata_dir = "data"\n'

BAD = [  # (the file, fragments of the one line that refuses it)
    ("[policy]\nthreshhold = 400\n" + ACME,
     ["[policy]: unknown key 'threshhold' (did you mean 'threshold'?)"]),
    (ACME + "[accounts.policy]\nthreshhold = 400\n",
     ["[accounts.policy] of account \"acme\": unknown key 'threshhold' (did you mean "
      "'threshold'?)"]),
    ('[[accounts]]\nname = "acme"\nmarketplace = ["US"]\n',
     ["[[accounts]] \"acme\": unknown key 'marketplace' (did you mean 'marketplaces'?)"]),
    ("[alerts]\ntop_sku = 3\n" + ACME,
     ["[alerts]: unknown key 'top_sku' (did you mean 'top_skus'?)"]),
    ('[[alerts.targets]]\nurl_env = "IPI_OPS_URL"\ntag = ["ops"]\n' + ACME,
     ["[[alerts.targets]] #1: unknown key 'tag' (did you mean 'tags'?)"]),
    ("busy_timout = 5\n" + ACME,  # appended to [store]
     ["[store]: unknown key 'busy_timout' (did you mean 'busy_timeout'?)"]),
    ("[backfill]\nwindow_day = 10\n" + ACME,
     ["[backfill]: unknown key 'window_day' (did you mean 'window_days'?)"]),
    ("[run]\nparalel_accounts = 2\n" + ACME,
     ["[run]: unknown key 'paralel_accounts' (did you mean 'parallel_accounts'?)"]),
    ('[run]\ncolour = "red"\n' + ACME,
     ["[run]: unknown key 'colour' (valid keys: parallel_accounts, processes, schedule, "
      "timezone, server_port)"]),
    ('[[accounts]]\nname = "acme"\nmarketplaces = ["USA"]\n',
     ['[[accounts]] "acme": marketplaces = ["USA"]', "'USA' is not a marketplace ipi knows",
      "(did you mean 'US'?)", "use one of US, CA, MX, BR, UK, DE"]),
    ("[policy]\nthreshold = 4500\n" + ACME,
     ["[policy]: threshold = 4500 is out of range: use a number from 0 to 1000"]),
    ("[policy]\nfor_days = -1\n" + ACME,
     ["[policy]: for_days = -1 is out of range: use a whole number of at least 1"]),
    (ACME + "[accounts.policy]\nrepeat_days = -3\n",
     ['[accounts.policy] of account "acme": repeat_days = -3 is out of range: use a whole '
      "number of at least 1"]),
    ("[policy]\nthreshold = 450\nrecovery_threshold = 400\n" + ACME,
     ["[policy]: recovery_threshold = 400 is under threshold = 450",
      "set it at or over the threshold"]),
    ('[policy]\nthreshold = "high"\n' + ACME,
     ['[policy]: threshold = "high" is not a number: use a number from 0 to 1000']),
    ("[policy]\nfor_days = 1.5\n" + ACME,
     ["[policy]: for_days = 1.5 is not a whole number: use a whole number of at least 1"]),
    (ACME + "threshold = 4500\n",
     ['[[accounts]] "acme": threshold = 4500 is out of range: use a number from 0 to 1000']),
    (ACME + 'source = "sp-api"\n[accounts.sp_api]\nretries = -1\n',
     ['[accounts.sp_api] of account "acme": retries = -1 is out of range: use a whole number '
      "from 0 to 20"]),
]


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    """A report waiting in acme's drop folder: a run that started would move it."""
    folder = tmp_path / "data" / "drops" / "acme"
    folder.mkdir(parents=True)
    (folder / "report.txt").write_text("sku\tasin\nA\tB\n")
    return folder / "report.txt"


@pytest.mark.parametrize("command", [["score"], ["check"], ["run"], ["config", "show"]])
@pytest.mark.parametrize("text, fragments", BAD, ids=[f[0][:40] for _, f in BAD])
def test_given_bad_configuration_when_any_command_then_exit_2_with_one_line_naming_the_fix(
        tmp_path: Path, drop: Path, capsys: pytest.CaptureFixture[str], command: list[str],
        text: str, fragments: list[str]) -> None:
    """Every command refuses a bad file before any work (`run` starts no flow and moves no
    drop): exit 2, one line naming the file, the section, the key and the fix."""
    config = tmp_path / "ipi.toml"
    config.write_text(STORE + text, encoding="utf-8")
    started = time.monotonic()
    assert main([*command, "--config", str(config)]) == 2
    assert time.monotonic() - started < 5
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ipi: error: {config}: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert drop.exists() and not (drop.parent / "processed").exists()


def test_documented_examples_of_configuration_errors_are_what_ipi_says(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The error lines the set-up guide shows are the ones ipi prints (but for the file's
    path)."""
    shown = re.findall(r"^ipi: error: /srv/ipi/ipi.toml: (.*)$",
                       (ROOT / "docs" / "guide" / "setup.md").read_text(), re.M)
    files = [ACME + "[accounts.policy]\nthreshhold = 400\n",
             "[policy]\nthreshold = 4500\n" + ACME,
             '[[accounts]]\nname = "acme"\nmarketplaces = ["USA"]\n']
    assert len(shown) == len(files)
    config = tmp_path / "ipi.toml"
    for text, line in zip(files, shown, strict=True):
        config.write_text(text, encoding="utf-8")
        assert main(["check", "--config", str(config)]) == 2
        said = capsys.readouterr().err.strip().removeprefix(f"ipi: error: {config}: ")
        assert said.startswith(line.removesuffix("..."))


SECRET = "xoxb-SECRET-TOKEN-1234"
SHOWN = (STORE + "[policy]\nthreshold = 420\n"
         '[alerts]\nurls = ["json://ops:hunter2-PASSWORD@localhost:8080/hook"]\n'
         '[[alerts.targets]]\nurl_env = "IPI_SLACK_OPS"\ntags = ["ops"]\n'
         + ACME + "[accounts.policy]\nfor_days = 2\n"
         '[[accounts]]\nname = "acme-eu"\nmarketplaces = ["UK", "DE"]\nsource = "sp-api"\n'
         "threshold = 400\n"
         '[accounts.sp_api]\nrefresh_token_block = "acme-eu-token"\n')


@pytest.fixture
def shown_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file with values from everywhere, and secrets in the environment."""
    monkeypatch.setenv("IPI_APPRISE_URLS", f"slack://{SECRET}/B0/C0 json://x:{SECRET}@host")
    monkeypatch.setenv("IPI_SLACK_OPS", f"slack://{SECRET}/B1/C1")
    monkeypatch.setenv("IPI_LWA_CLIENT_ID", f"id-{SECRET}")
    monkeypatch.setenv("IPI_ACME_EU_REFRESH_TOKEN", f"Atzr|{SECRET}")
    config = tmp_path / "ipi.toml"
    config.write_text(SHOWN, encoding="utf-8")
    return config


def test_given_settings_from_everywhere_when_config_show_then_each_says_where_it_came_from(
        shown_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The text lists every section with a `# from ...` comment per value: file (with its
    section), default, environment, account override; per account the merged policy."""
    assert main(["config", "show", "--config", str(shown_config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# ipi configuration: {shown_config}")
    lines = [re.sub(r"\s+#", " #", line) for line in out.splitlines()]
    for expected in [
        "[store]", "[run]", "[policy]", "[alerts]", "[[alerts.targets]]", "[backfill]",
        "[capacity]", "[[accounts]]", "[accounts.policy]", "[accounts.sp_api]",
        "warn_share = 0.9 # from default",
        "carry_days = { planning = 3, myi = 3, stranded = 3 } # from default",
        "threshold = 420.0 # from file [policy]",
        "recovery_threshold = 440.0 # from default; threshold + 20",
        "busy_timeout = 60.0 # from default",
        'IPI_APPRISE_URLS = "***" # from environment; 2 URL(s), not shown',
        'url_env = "IPI_SLACK_OPS" # from file [[alerts.targets]]; IPI_SLACK_OPS is set',
        "for_days = 2 # from account override [accounts.policy]",
        "threshold = 400.0 # from account override [[accounts]] threshold",
        'timezone = "Europe/London" # from default; UK\'s time zone',
        'refresh_token_env = "IPI_ACME_EU_REFRESH_TOKEN" # from default; '
        "IPI_ACME_EU_REFRESH_TOKEN is set",
        'client_secret_env = "IPI_LWA_CLIENT_SECRET" # from default; '
        "IPI_LWA_CLIENT_SECRET is not set",
        'refresh_token_block = "acme-eu-token" # from file [accounts.sp_api]; a Prefect '
        "Secret block, read by the flows",
    ]:
        assert expected in lines, expected
    assert SECRET not in out and "hunter2" not in out
    assert "json://ops:****@localhost:8080/hook" in out


def test_given_secrets_in_the_environment_when_config_show_json_then_none_is_printed(
        shown_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--json` gives the same tree as objects {value, from, section, note, set}; tokens from
    the environment and passwords in file URLs never appear."""
    assert main(["config", "show", "--json", "--config", str(shown_config)]) == 0
    out = capsys.readouterr().out
    assert SECRET not in out and "hunter2" not in out
    tree = json.loads(out)
    assert tree["config"] == str(shown_config)
    assert tree["policy"]["threshold"] == {"value": 420.0, "from": "file",
                                           "section": "[policy]"}
    assert tree["store"]["run_lock_wait"] == {"value": 60.0, "from": "default"}
    assert tree["alerts"]["IPI_APPRISE_URLS"]["value"] == "***"
    assert tree["alerts"]["targets"][0]["url_env"]["set"] is True
    acme, eu = tree["accounts"]
    assert acme["policy"]["for_days"]["from"] == "account override"
    assert acme["policy"]["threshold"] == {"value": 420.0, "from": "file",
                                           "section": "[policy]"}
    assert "sp_api" not in acme  # a files account has no SP-API to show
    assert eu["sp_api"]["client_id_env"] == {
        "value": "IPI_LWA_CLIENT_ID", "from": "default", "note": "IPI_LWA_CLIENT_ID is set",
        "set": True}


def test_given_an_empty_folder_when_init_then_config_and_drop_folder_written_and_steps_shown(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ipi init DIR` writes the commented configuration, which loads, creates the drop
    folder, and prints the next steps."""
    folder = tmp_path / "new"
    assert main(["init", str(folder)]) == 0
    config = folder / "ipi.toml"
    assert config.read_text(encoding="utf-8") == template()
    settings = load_settings(config, env={})
    drop = settings.drop_dir(settings.accounts[0])
    assert drop == folder / "data" / "drops" / "acme" and drop.is_dir()
    out = capsys.readouterr().out
    assert f"wrote {config}" in out and str(drop) in out
    for step in ("marketplaces", "Seller Central", f"ipi check --config {config}",
                 f"ipi run --config {config}", "IPI_APPRISE_URLS",
                 f"ipi alerts test --config {config}"):
        assert step in out, step


def test_given_no_folder_when_init_then_it_writes_here(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Without DIR, `ipi init` writes in the current folder."""
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    assert (tmp_path / "ipi.toml").is_file() and (tmp_path / "data" / "drops" / "acme").is_dir()


def test_given_an_existing_config_when_init_then_exit_2_and_it_is_untouched(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ipi init` never overwrites: one line, exit 2, the file as it was."""
    config = tmp_path / "ipi.toml"
    config.write_text("# mine\n")
    assert main(["init", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == (f"ipi: error: {config} already exists: edit it, or pass another folder "
                   "(ipi init DIR); nothing was written\n")
    assert config.read_text() == "# mine\n"


def test_the_template_init_writes_is_the_example_configuration() -> None:
    """The packaged template and config/ipi.example.toml are the same file."""
    assert template() == (ROOT / "config" / "ipi.example.toml").read_text(encoding="utf-8")
