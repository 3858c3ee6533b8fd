"""The daily flow against the fake SP-API: two accounts, three marketplaces, no secret leaks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from flows.cli import main
from flows.daily import daily
from ipi import pipeline
from ipi.demo import Simulation
from ipi.errors import ConfigError, IngestFailed
from ipi.settings import Settings
from ipi.store.accounts import Fleet, account_path
from ipi.testing import MARKETPLACE_IDS, FakeSpApi, serve_day
from tests.helpers import Webhook
from tests.sources.helpers import CLIENT_SECRET, REFRESH_TOKEN, partitions_seen_by_another_process

Make = Callable[..., tuple[Settings, Path]]


@pytest.mark.usefixtures("prefect_api")
def test_given_two_accounts_on_the_sp_api_when_daily_flow_runs_then_all_load_and_score(
        sp_settings: Make, fake_sp_api: FakeSpApi, demo_sim: Simulation, tmp_path: Path,
        webhook_server: Webhook, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    """acme (US, CA) and zeta (UK) fetch 9 reports through the real flow; the flow never
    branches on the source; no credential appears in any log, output or stored byte."""
    caplog.set_level(logging.DEBUG)
    settings, config = sp_settings({"acme": ["US", "CA"], "zeta": ["UK"]},
                                   urls=[webhook_server.url])
    serve_day(fake_sp_api, demo_sim, 10, tmp_path, ["US", "CA", "UK"])
    summary = daily(config=str(config), day=demo_sim.day(10))
    assert summary["acme"]["loaded"] == 6 and summary["zeta"]["loaded"] == 3
    rows = Fleet(settings).query("SELECT account, marketplace FROM daily_score ORDER BY ALL")
    assert [(r["account"], r["marketplace"]) for r in rows] == [
        ("acme", "CA"), ("acme", "US"), ("zeta", "UK")]
    tokens = {r.form().get("refresh_token") for r in fake_sp_api.calls("token")}
    assert tokens == {f"{REFRESH_TOKEN}-acme", f"{REFRESH_TOKEN}-zeta"}
    uk = [r.json() for r in fake_sp_api.calls("createReport") if r.status == 202
          and r.json()["marketplaceIds"] == [MARKETPLACE_IDS["UK"]]]
    assert len(uk) == 3

    secrets = [REFRESH_TOKEN, CLIENT_SECRET, *fake_sp_api.issued_tokens]
    out = capsys.readouterr()
    text = out.out + out.err + caplog.text + "".join(str(m) for m in webhook_server.received)
    for secret in secrets:
        assert secret not in text
    for f in settings.data_dir.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert not any(s.encode() in data for s in secrets), f


def test_check_reports_access_per_marketplace_and_report(
        sp_settings: Make, fake_sp_api: FakeSpApi, capsys: pytest.CaptureFixture[str]) -> None:
    """`ipi check` gets a token and lists each report type in each marketplace: exit 0."""
    _, config = sp_settings({"acme": ["US", "CA"]})
    assert main(["check", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "ok    LWA token" in out and out.count("ok    ") == 7
    assert len(fake_sp_api.calls("getReports")) == 6 and fake_sp_api.calls("createReport") == []


def test_check_says_what_is_missing(
        sp_settings: Make, fake_sp_api: FakeSpApi, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A refused token, a missing role, an unset variable: each is a FAIL line saying what
    to fix, and the exit code is 1."""
    _, config = sp_settings({"acme": ["US"], "zeta": ["UK"], "nova": ["DE"]})
    monkeypatch.delenv("IPI_NOVA_REFRESH_TOKEN")
    fake_sp_api.fail("getReports", 1, 403, with_errors_body=True)
    assert main(["check", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  US GET_FBA_INVENTORY_PLANNING_DATA" in out and "roles" in out
    assert "FAIL  credentials: account nova: set the environment variable " \
           "IPI_NOVA_REFRESH_TOKEN" in out
    fake_sp_api.token_error = "invalid_grant"
    from sp_api.auth import access_token_client
    access_token_client.cache.clear()
    assert main(["check", "--config", str(config), "--account", "zeta"]) == 1
    assert "FAIL  LWA token: account zeta: Amazon refused the LWA credentials" in \
        capsys.readouterr().out


@pytest.mark.usefixtures("prefect_api")
def test_given_credentials_in_prefect_secret_blocks_then_the_flow_uses_them(
        sp_settings: Make, fake_sp_api: FakeSpApi, demo_sim: Simulation, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Named Prefect Secret blocks replace the environment variables, in the flow and in
    `ipi check`; outside Prefect the library says the block needs a flow."""
    from prefect.blocks.system import Secret

    Secret(value="Atzr|FROM-A-PREFECT-BLOCK").save("acme-refresh-token", overwrite=True)
    settings, config = sp_settings(extra_sp='refresh_token_block = "acme-refresh-token"')
    monkeypatch.delenv("IPI_ACME_REFRESH_TOKEN")
    serve_day(fake_sp_api, demo_sim, 10, tmp_path, ["US"])
    summary = daily(config=str(config), day=demo_sim.day(10))
    assert summary["acme"]["loaded"] == 3
    assert {r.form()["refresh_token"] for r in fake_sp_api.calls("token")} == {
        "Atzr|FROM-A-PREFECT-BLOCK"}
    assert main(["check", "--config", str(config)]) == 0
    assert "refresh token from acme-refresh-token" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="Prefect Secret block 'acme-refresh-token'"):
        pipeline.source_for(settings, settings.accounts[0])


@pytest.mark.usefixtures("prefect_api")
def test_given_one_account_refused_then_the_other_still_runs_and_the_flow_fails_naming_it(
        sp_settings: Make, fake_sp_api: FakeSpApi, demo_sim: Simulation, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, webhook_server: Webhook) -> None:
    """A configuration error in one account fails the run, after the others loaded; ops is
    told which account failed and why."""
    settings, config = sp_settings({"acme": ["US"], "zeta": ["UK"]}, urls=[webhook_server.url])
    monkeypatch.delenv("IPI_ACME_REFRESH_TOKEN")
    serve_day(fake_sp_api, demo_sim, 10, tmp_path, ["US", "UK"])
    with pytest.raises(IngestFailed, match="IPI_ACME_REFRESH_TOKEN"):
        daily(config=str(config), day=demo_sim.day(10))
    rows = Fleet(settings).query("SELECT account FROM daily_score")
    assert rows == [{"account": "zeta"}]
    ops = [m for m in webhook_server.received if m["title"].startswith("[OPS] IPI acme: the run")]
    assert len(ops) == 1 and "IPI_ACME_REFRESH_TOKEN" in ops[0]["message"]


def test_while_the_run_waits_for_amazon_another_process_can_read_the_database(
        sp_settings: Callable[..., tuple[Settings, Path]], fake_sp_api: FakeSpApi,
        demo_sim: Simulation, tmp_path: Path) -> None:
    """DuckDB lets one process open the file at a time: the ingest holds no connection
    while the reports are generated, so `ipi score` (here, a bare read) gets in."""
    import threading
    import time

    settings, _ = sp_settings()
    serve_day(fake_sp_api, demo_sim, 0, tmp_path / "served", ["US"])
    fake_sp_api.generation_seconds = 4
    pipeline.open_store(settings, settings.accounts[0]).migrate()
    done: list[pipeline.IngestRun] = []
    run = threading.Thread(target=lambda: done.append(pipeline.ingest_account(
        settings, settings.account("acme"), demo_sim.day(0))))
    run.start()
    try:
        time.sleep(1.5)  # the reports are requested and being generated
        assert not done
        assert partitions_seen_by_another_process(account_path(settings, "acme")) == "0"
    finally:
        run.join(timeout=120)
    assert len(done[0].loaded) == 3
