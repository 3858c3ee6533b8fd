"""An agency's clients on one deployment: each client's alerts reach its own targets and
no one else's, history says where each went, and one client's broken target stops
nobody else."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from flows.cli import main
from ipi import pipeline
from ipi.demo import Simulation, write_day
from ipi.settings import Settings
from ipi.sources.files import FileDrops
from ipi.store.accounts import Fleet
from tests.helpers import Webhook

CLIENTS = ("acme", "beta", "gamma")
DAY = date(2026, 6, 1)


def _agency(make_settings: Callable[..., tuple[Settings, Path]], hook: Webhook,
            tmp_path: Path, *, gamma_env: bool = False) -> tuple[Settings, Path]:
    """Three clients, each with its own file and its own webhook path; gamma's webhook
    comes from IPI_HOOK_GAMMA_URL when ``gamma_env`` (left unset)."""
    accounts = "".join(f'[[accounts]]\nname = "{c}"\n' for c in CLIENTS)
    targets = ""
    for c in CLIENTS:
        targets += (f'[[alerts.targets]]\nurl = "ipifile://{tmp_path}/{c}.log"\n'
                    f'accounts = ["{c}"]\n')
        targets += (f'[[alerts.targets]]\nurl_env = "IPI_HOOK_GAMMA_URL"\naccounts = ["{c}"]\n'
                    if c == "gamma" and gamma_env else
                    f'[[alerts.targets]]\nurl = "json://127.0.0.1:{hook.port}/{c}"\n'
                    f'accounts = ["{c}"]\n')
    return make_settings(accounts=accounts, extra=targets)


def _junk_day(settings: Settings) -> None:
    """Each client drops a file that is no report: each gets one ops message."""
    for account in settings.accounts:
        drop = settings.drop_dir(account)
        drop.mkdir(parents=True, exist_ok=True)
        (drop / f"notes-{account.name}.txt").write_text("hello\tworld\n")
        run = pipeline.ingest(pipeline.open_store(settings, account), account, FileDrops(drop), DAY)
        pipeline.alert(settings, account, DAY, run)


def test_each_clients_alerts_reach_its_own_targets_and_history_says_so(
        make_settings: Callable[..., tuple[Settings, Path]], webhook_server: Webhook,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Three ipifile:// files and three webhook paths, one pair per client: each file and
    path holds its client's message only, and `ipi alerts history` records each message
    as sent to exactly the two targets that got it (before, every ipifile:// target had
    one id: beta's and gamma's pages landed in acme's file, recorded as sent)."""
    settings, config = _agency(make_settings, webhook_server, tmp_path)
    _junk_day(settings)
    for c in CLIENTS:
        text = (tmp_path / f"{c}.log").read_text()
        assert f"notes-{c}.txt" in text
        assert all(f"notes-{o}.txt" not in text for o in CLIENTS if o != c)
    arrived = dict(zip(webhook_server.paths, webhook_server.received, strict=True))
    assert sorted(arrived) == [f"/{c}" for c in CLIENTS]
    assert all(f"notes-{c}.txt" in arrived[f"/{c}"]["message"] for c in CLIENTS)

    assert main(["alerts", "history", "--json", "--config", str(config)]) == 0
    sent = json.loads(capsys.readouterr().out)["messages"]
    assert len(sent) == 3
    names = {t.id: t.name for t in pipeline.Notifier.from_settings(settings).targets}
    assert len(set(names)) == 6  # six targets, six identities
    for m in sent:
        n = 2 * CLIENTS.index(m["account"]) + 1  # its file is target #n, its webhook #n+1
        assert sorted(m["deliveries"].split("; ")) == [f"JSON #{n + 1}: sent",
                                                        f"ipi local file #{n}: sent"]


def test_one_clients_unset_variable_fails_only_its_own_messages(
        make_settings: Callable[..., tuple[Settings, Path]], webhook_server: Webhook,
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """gamma's webhook variable is unset: acme and beta load and page as usual; gamma's
    message reaches its file, waits for its webhook, and one [OPS] message says which
    target and why, to gamma's other target (never another client's); `ipi run` exits 1
    (partly done) naming gamma; `ipi check` names the variable; once it is set, the
    waiting message goes out."""
    monkeypatch.delenv("IPI_HOOK_GAMMA_URL", raising=False)
    settings, config = _agency(make_settings, webhook_server, tmp_path, gamma_env=True)
    _junk_day(settings)
    # each client's own message; nothing about gamma reaches another client
    assert sorted(webhook_server.paths) == ["/acme", "/beta"]
    gamma_file = (tmp_path / "gamma.log").read_text()
    assert "notes-gamma.txt" in gamma_file
    assert gamma_file.count("[OPS] IPI gamma: alert target #6 cannot be used") == 1
    assert "IPI_HOOK_GAMMA_URL is not set" in gamma_file
    for c in ("acme", "beta"):  # a client never hears of another's
        assert "gamma" not in (tmp_path / f"{c}.log").read_text()

    assert main(["run", "--config", str(config), "--date", str(DAY)]) == 1
    out = capsys.readouterr()
    line = next(x for x in out.out.splitlines() if x.startswith("gamma"))
    assert "not delivered: target #6: IPI_HOOK_GAMMA_URL is not set" in line
    assert "partly done: alerts of gamma not delivered" in out.err
    assert not any("not delivered" in x for x in out.out.splitlines()
                   if x.startswith(("acme", "beta")))

    assert main(["check", "--config", str(config)]) == 1
    assert "IPI_HOOK_GAMMA_URL is not set" in capsys.readouterr().out

    monkeypatch.setenv("IPI_HOOK_GAMMA_URL", f"json://127.0.0.1:{webhook_server.port}/gamma")
    assert main(["run", "--config", str(config), "--date", str(DAY)]) == 0
    assert "/gamma" in webhook_server.paths


ROOT = Path(__file__).resolve().parents[2]
LOW_DAY = 79  # the demo seller is far under 450 here


@pytest.mark.usefixtures("prefect_api")
def test_the_agency_example_scores_all_twenty_and_pages_nineteen(
        tmp_path: Path, demo_sim: Simulation, monkeypatch: pytest.MonkeyPatch) -> None:
    """config/agency.example.toml as shipped (its clients read from drop folders here: no
    Amazon in a test), every client under the threshold, one client's Slack variable
    unset: the daily flow scores all 20, pages 19 in their own channels, keeps the
    twentieth's page waiting, and tells the ops channel which variable is missing."""
    from flows.daily import daily
    from ipi.settings import load_settings

    text = (ROOT / "config" / "agency.example.toml").read_text()
    config = tmp_path / "ipi.toml"
    config.write_text(text.replace('source = "sp-api"', 'source = "files"'))
    settings = load_settings(config, env={})
    names = [a.name for a in settings.accounts]
    assert len(names) == 20 and len(settings.alerts.targets) == 21
    missing = "kite-toys"
    for a in settings.accounts:
        write_day(demo_sim, LOW_DAY, settings.drop_dir(a))
        if a.name != missing:
            monkeypatch.setenv(a.env_name("SLACK_URL"), f"ipifile://{tmp_path}/{a.name}.log")
    monkeypatch.delenv(settings.account(missing).env_name("SLACK_URL"), raising=False)
    monkeypatch.setenv("IPI_OPS_SLACK_URL", f"ipifile://{tmp_path}/ops.log")

    daily(config=str(config), day=demo_sim.day(LOW_DAY))

    scored = Fleet(settings).query(
        "SELECT DISTINCT account FROM daily_score WHERE score IS NOT NULL")
    assert sorted(r["account"] for r in scored) == sorted(names)
    paged = [n for n in names if (tmp_path / f"{n}.log").exists()
             and "[CRITICAL]" in (tmp_path / f"{n}.log").read_text()]
    assert sorted(paged) == sorted(set(names) - {missing})
    for n in paged:  # each channel holds its own client's page only
        assert all(f"IPI {o}:" not in (tmp_path / f"{n}.log").read_text()
                   for o in names if o != n)
    ops = (tmp_path / "ops.log").read_text()
    assert ops.count("cannot be used") >= 1 and "IPI_KITE_TOYS_SLACK_URL is not set" in ops
    waiting = pipeline.open_store(settings, missing).query(
        "SELECT count(*) AS n FROM alert_delivery d JOIN alert_outbox m USING (key) "
        "WHERE m.account = $account AND d.status = 'pending'", {"account": missing})
    assert waiting == [{"n": 1}]
