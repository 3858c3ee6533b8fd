"""A flow run that fails for a reason ipi did not report itself sends one ops alert."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from prefect import flow

from flows.daily import daily
from flows.hooks import ops_alert
from ipi.settings import Settings
from ipi.store import Store
from ipi.store.accounts import account_path
from tests.helpers import Webhook

pytestmark = pytest.mark.usefixtures("prefect_api")


@flow(name="ipi-broken", on_failure=[ops_alert])
def broken(config: str) -> None:
    raise RuntimeError("a bug in the run")


def ops_messages(webhook: Webhook) -> list[str]:
    return [m["message"] for m in webhook.received if m["message"].startswith("[OPS]")]


def test_a_failed_run_sends_one_ops_alert_with_its_name_and_link(
        make_settings: Callable[..., tuple[Settings, Path]], webhook_server: Webhook) -> None:
    from prefect.settings import PREFECT_UI_URL, temporary_settings

    settings, config = make_settings(urls=[webhook_server.url])
    with temporary_settings({PREFECT_UI_URL: "http://127.0.0.1:4200"}):
        state = broken(config=str(config), return_state=True)
    assert state.is_failed()
    [message] = ops_messages(webhook_server)
    run_id = state.state_details.flow_run_id
    assert "ipi-broken/" in message and "a bug in the run" in message
    assert f"http://127.0.0.1:4200/runs/flow-run/{run_id}" in message
    # kept in the outbox like every alert, once: no account's, in the installation's file
    sent = Store.for_settings(settings).query("SELECT account, kind, status FROM alert_outbox")
    assert sent == [{"account": "*", "kind": "ops", "status": "sent"}]


def test_given_a_broken_store_the_alert_goes_straight_to_the_targets(
        make_settings: Callable[..., tuple[Settings, Path]], webhook_server: Webhook) -> None:
    """The account's database file is damaged: the account's run fails, and the alert saying so
    cannot wait in that database's outbox. One alert: the flow's own hook, seeing the
    failure was reported, sends nothing more."""
    settings, config = make_settings(urls=[webhook_server.url])
    broken = account_path(settings, "acme")
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_bytes(b"not a duckdb file" * 100)
    state = daily(config=str(config), return_state=True)
    assert state.is_failed()
    [message] = ops_messages(webhook_server)
    assert "[OPS] acme: the run for" in message and "not a valid DuckDB database" in message


def test_an_ops_target_for_one_account_gets_whole_run_failures_too(
        make_settings: Callable[..., tuple[Settings, Path]], webhook_server: Webhook,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPI_OPS_ACME", webhook_server.url)
    _, config = make_settings(extra='[[alerts.targets]]\nurl_env = "IPI_OPS_ACME"\n'
                                    'tags = ["ops"]\naccounts = ["acme"]\n')
    broken(config=str(config), return_state=True)
    assert len(ops_messages(webhook_server)) == 1
