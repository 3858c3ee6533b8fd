"""Alerts through real apprise delivery: SMTP and a webhook on loopback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from ipi import pipeline
from ipi.alerts import Notifier, deliver_pending
from ipi.errors import ConfigError
from ipi.settings import Settings
from ipi.store import Store, utcnow
from tests.conftest import Mailbox, Webhook

D = date(2026, 5, 10)


def put_score(settings: Settings, day: date, score: float | None, mp: str = "US") -> None:
    """A stored daily estimate, as the scoring step writes it."""
    store = pipeline.open_store(settings)
    status = "no data" if score is None else "ok"
    low = None if score is None else score - 60
    high = None if score is None else score + 60
    with store.begin() as conn:
        conn.exec_driver_sql(
            "INSERT OR REPLACE INTO daily_score (account, marketplace, date, excess_pct, "
            "sell_through, stranded_pct, in_stock_rate, score, score_low, score_high, status, "
            "model, computed_at) VALUES ('acme', ?, ?, 31.5, 1.2, 4.0, 0.9, ?, ?, ?, ?, 'test', ?)",
            (mp, day, score, low, high, status, utcnow()))


def outbox(settings: Settings) -> list[dict]:
    return pipeline.open_store(settings).query(
        "SELECT key, status, attempts, kind FROM alert_outbox ORDER BY created_at, key")


@pytest.fixture
def both(make_settings: Callable[..., tuple[Settings, Path]], smtp_server: Mailbox,
         webhook_server: Webhook) -> Settings:
    settings, _ = make_settings(urls=[smtp_server.url, webhook_server.url])
    return settings


def test_given_score_under_threshold_then_one_alert_by_email_and_webhook(
        both: Settings, smtp_server: Mailbox, webhook_server: Webhook) -> None:
    """An estimate under 450 pages once, by mail and webhook, with score, band and factors."""
    put_score(both, D, 431)
    run = pipeline.alert(both, both.accounts[0], D)
    assert [d.status for d in run.deliveries] == ["sent"]
    assert len(smtp_server.messages) == 1 and len(webhook_server.received) == 1
    body = webhook_server.received[0]["message"]
    assert "431" in body and "371-491" in body and "450" in body
    assert "excess 31.5%" in body and "sell-through 1.20" in body and "in-stock 90%" in body
    assert "IPI acme" in webhook_server.received[0]["title"]
    assert "431" in smtp_server.texts()[0]


def test_given_alert_sent_when_same_day_reruns_then_nothing_new_is_sent(
        both: Settings, webhook_server: Webhook) -> None:
    """Rerunning the day (or the next day, still under) does not page again."""
    put_score(both, D, 431)
    pipeline.alert(both, both.accounts[0], D)
    pipeline.alert(both, both.accounts[0], D)
    put_score(both, D + timedelta(days=1), 420)
    pipeline.alert(both, both.accounts[0], D + timedelta(days=1))
    assert len(webhook_server.received) == 1


def test_given_firing_when_score_back_over_then_resolved_once(
        both: Settings, webhook_server: Webhook) -> None:
    """Back over the threshold sends one resolved message; then silence."""
    put_score(both, D, 431)
    pipeline.alert(both, both.accounts[0], D)
    for k in (1, 2):
        put_score(both, D + timedelta(days=k), 480)
        pipeline.alert(both, both.accounts[0], D + timedelta(days=k))
    titles = [m["title"] for m in webhook_server.received]
    assert len(titles) == 2 and "back over" in titles[1]
    assert "[RESOLVED]" in webhook_server.received[1]["message"]


def test_given_score_over_threshold_then_nothing_is_sent(
        both: Settings, webhook_server: Webhook) -> None:
    """A healthy estimate pages nobody."""
    put_score(both, D, 600)
    run = pipeline.alert(both, both.accounts[0], D)
    assert run.transitions == [] and webhook_server.received == []


def test_given_no_data_then_firing_alert_does_not_resolve(
        both: Settings, webhook_server: Webhook) -> None:
    """A day without an estimate is no data, never OK: it resolves nothing."""
    put_score(both, D, 431)
    pipeline.alert(both, both.accounts[0], D)
    put_score(both, D + timedelta(days=1), None)
    pipeline.alert(both, both.accounts[0], D + timedelta(days=1))
    assert len(webhook_server.received) == 1
    state = pipeline.open_store(both).query("SELECT state FROM alert_state")
    assert state == [{"state": "firing"}]


def test_given_past_day_rerun_then_it_never_pages(
        both: Settings, webhook_server: Webhook) -> None:
    """Only the latest day pages: re-evaluating an older day changes no state."""
    put_score(both, D, 600)
    put_score(both, D - timedelta(days=3), 300)
    run = pipeline.alert(both, both.accounts[0], D - timedelta(days=3))
    assert run.evaluated is False and webhook_server.received == []
    assert pipeline.open_store(both).query("SELECT * FROM alert_state") == []


def test_given_webhook_down_then_alert_stays_queued_and_is_sent_once_later(
        make_settings: Callable[..., tuple[Settings, Path]], webhook_server: Webhook) -> None:
    """A failed delivery is kept and retried by the next run, then marked sent: never lost,
    never doubled."""
    settings, _ = make_settings(urls=[webhook_server.url])
    webhook_server.fail_next = 1
    put_score(settings, D, 431)
    run = pipeline.alert(settings, settings.accounts[0], D)
    assert [d.status for d in run.deliveries] == ["failed"]
    assert [(r["status"], r["attempts"]) for r in outbox(settings)] == [("pending", 1)]
    assert webhook_server.received == []
    run = pipeline.alert(settings, settings.accounts[0], D)  # the next run
    assert [d.status for d in run.deliveries] == ["sent"]
    assert [(r["status"], r["attempts"]) for r in outbox(settings)] == [("sent", 2)]
    pipeline.alert(settings, settings.accounts[0], D)
    assert len(webhook_server.received) == 1


def test_given_no_targets_then_alert_is_recorded_and_not_retried(
        make_settings: Callable[..., tuple[Settings, Path]]) -> None:
    """Without alert targets the message is kept as 'no-targets', not queued for later."""
    settings, _ = make_settings(urls=[])
    put_score(settings, D, 431)
    run = pipeline.alert(settings, settings.accounts[0], D)
    assert [d.status for d in run.deliveries] == ["no-targets"]
    assert [r["status"] for r in outbox(settings)] == ["no-targets"]


def test_given_two_marketplaces_under_then_one_message_for_the_account(
        both: Settings, webhook_server: Webhook) -> None:
    """Grouping: one message per account per run, naming each marketplace."""
    put_score(both, D, 431, "US")
    put_score(both, D, 402, "UK")
    pipeline.alert(both, both.accounts[0], D)
    assert len(webhook_server.received) == 1
    msg = webhook_server.received[0]["message"]
    assert "acme UK" in msg and "acme US" in msg and "(UK 402)" in webhook_server.received[0][
        "title"]


def test_unusable_url_is_a_configuration_error_that_hides_the_url() -> None:
    """A URL apprise cannot use fails at start-up without echoing it (it may hold a token)."""
    with pytest.raises(ConfigError) as err:
        Notifier(["nosuchscheme://sekrit-token@host"])
    assert "sekrit" not in str(err.value) and "#1" in str(err.value)


def test_file_target_appends_messages(tmp_path: Path, fresh_db: Store) -> None:
    """The ipifile:// target used by the demo appends each message to a local file."""
    log = tmp_path / "out" / "alerts.log"
    Notifier([f"ipifile://{log}"]).send("Title one", "Body one")
    Notifier([f"ipifile://{log}"]).send("Title two", "Body two", failure=False)
    text = log.read_text()
    assert "Title one" in text and "Body two" in text and text.index("one") < text.index("two")
    assert deliver_pending(fresh_db, Notifier([])) == []
