"""Alerts through real apprise delivery: SMTP and webhooks on loopback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from ipi import pipeline
from ipi.alerts.deliver import Notifier
from ipi.alerts.outbox import deliver_pending
from ipi.errors import ConfigError
from ipi.settings import Settings
from ipi.store import Store
from tests.alerts.helpers import D, days, heads, put_score
from tests.helpers import Mailbox, Webhook


@pytest.fixture
def hook_settings(make_settings: Callable[..., tuple[Settings, Path]],
                  webhook_server: Webhook) -> Callable[..., Settings]:
    def make(policy: str = "") -> Settings:
        return make_settings(urls=[webhook_server.url], extra=f"[policy]\n{policy}\n")[0]
    return make


@pytest.fixture
def both(make_settings: Callable[..., tuple[Settings, Path]], smtp_server: Mailbox,
         webhook_server: Webhook) -> Settings:
    settings, _ = make_settings(urls=[smtp_server.url, webhook_server.url])
    return settings


def test_given_score_under_threshold_then_one_alert_by_email_and_webhook(
        both: Settings, smtp_server: Mailbox, webhook_server: Webhook) -> None:
    """An estimate under 450 pages once per target, with score, band and factors."""
    put_score(both, D, 431)
    run = pipeline.alert(both, both.accounts[0], D)
    assert sorted(d.status for d in run.deliveries) == ["sent", "sent"]
    assert len(smtp_server.messages) == 1 and len(webhook_server.received) == 1
    body = webhook_server.received[0]["message"]
    assert "431" in body and "371-491" in body and "450" in body and "estimate" in body
    assert "The next Amazon check 2026-06-30 (51 days)." in body
    assert "excess 31.5%" in body and "sell-through 1.20" in body and "in-stock 90%" in body
    assert "IPI acme" in webhook_server.received[0]["title"]
    assert "431" in smtp_server.texts()[0]


def test_given_alert_sent_when_same_day_reruns_then_nothing_new_is_sent(
        hook_settings: Callable[..., Settings], webhook_server: Webhook) -> None:
    """Rerunning the day pages nobody again."""
    settings = hook_settings()
    put_score(settings, D, 431)
    for _ in range(3):
        pipeline.alert(settings, settings.accounts[0], D)
    assert len(webhook_server.received) == 1


def test_unchanged_firing_alert_repeats_after_the_repeat_interval(
        hook_settings: Callable[..., Settings], webhook_server: Webhook) -> None:
    """Still under: repeated every repeat_days days, not every run."""
    settings = hook_settings("repeat_days = 3")
    days(settings, [431, 430, 429, 428, 427, 426, 425])
    assert heads(webhook_server) == ["[CRITICAL] firing", "[CRITICAL] repeat", "[CRITICAL] repeat"]
    assert "since 2026-05-10" in webhook_server.received[1]["message"]


def test_wobble_around_the_threshold_does_not_flap(
        hook_settings: Callable[..., Settings], webhook_server: Webhook) -> None:
    """Fires under 450, resolves only at 470 or more: 449/455/448/465 is one alert."""
    settings = hook_settings("repeat_days = 30")
    days(settings, [460, 449, 455, 448, 465, 471, 452])
    assert heads(webhook_server) == ["[CRITICAL] firing", "[RESOLVED] resolved"]


def test_pending_fires_only_after_for_days(
        hook_settings: Callable[..., Settings], webhook_server: Webhook) -> None:
    """With for_days = 3, two days under then one over pages nobody; three in a row fire."""
    settings = hook_settings("for_days = 3\nrepeat_days = 30")
    days(settings, [440, 440, 480, 440, 440])
    assert webhook_server.received == []
    days(settings, [440], D + timedelta(days=5))
    assert heads(webhook_server) == ["[CRITICAL] firing"]
    history = pipeline.open_store(settings, "acme").query(
        "SELECT from_state, to_state FROM alert_event ORDER BY date")
    assert [(h["from_state"], h["to_state"]) for h in history] == [
        ("normal", "pending"), ("pending", "normal"), ("normal", "pending"),
        ("pending", "firing")]


def test_given_no_data_or_unreliable_then_firing_alert_does_not_resolve(
        hook_settings: Callable[..., Settings], webhook_server: Webhook) -> None:
    """A day without an estimate is no data, never OK: it resolves nothing."""
    settings = hook_settings("repeat_days = 30")
    days(settings, [431, None])
    put_score(settings, D + timedelta(days=2), 600, status="unreliable")
    pipeline.alert(settings, settings.accounts[0], D + timedelta(days=2))
    assert heads(webhook_server) == ["[CRITICAL] firing", "[OPS]"]
    state = pipeline.open_store(settings, "acme").query(
        "SELECT state FROM alert_state WHERE rule = 'below_threshold'")
    assert state == [{"state": "firing"}]


def test_given_past_day_rerun_then_it_never_pages(
        hook_settings: Callable[..., Settings], webhook_server: Webhook) -> None:
    """Only the latest day pages: re-evaluating an older day (a backfill) changes nothing."""
    settings = hook_settings()
    put_score(settings, D, 600)
    put_score(settings, D - timedelta(days=3), 300)
    run = pipeline.alert(settings, settings.accounts[0], D - timedelta(days=3))
    assert run.evaluated is False and webhook_server.received == []
    assert pipeline.open_store(settings, "acme").query("SELECT * FROM alert_state") == []


def test_given_smtp_down_then_the_mail_is_sent_once_on_the_next_run(
        make_settings: Callable[..., tuple[Settings, Path]], smtp_server: Mailbox) -> None:
    """SMTP down: the delivery stays queued; next run it is delivered once, never twice."""
    settings, _ = make_settings(urls=[smtp_server.url])
    smtp_server.down()
    put_score(settings, D, 431)
    run = pipeline.alert(settings, settings.accounts[0], D)
    assert [d.status for d in run.deliveries] == ["failed"]
    smtp_server.up()
    run = pipeline.alert(settings, settings.accounts[0], D)
    assert [d.status for d in run.deliveries] == ["sent"]
    pipeline.alert(settings, settings.accounts[0], D)
    assert len(smtp_server.messages) == 1
    [row] = pipeline.open_store(settings, "acme").query(
        "SELECT status, attempts FROM alert_delivery")
    assert row == {"status": "sent", "attempts": 2}


def test_given_two_channels_one_failing_then_the_other_gets_it_and_only_the_failing_retries(
        make_settings: Callable[..., tuple[Settings, Path]], webhook_server: Webhook,
        second_webhook: Webhook) -> None:
    """One webhook answers 500: the other still gets the alert, once; the failing one gets
    it on the next run."""
    settings, _ = make_settings(urls=[webhook_server.url, second_webhook.url])
    second_webhook.fail_next = 1
    put_score(settings, D, 431)
    run = pipeline.alert(settings, settings.accounts[0], D)
    assert sorted(d.status for d in run.deliveries) == ["failed", "sent"]
    run = pipeline.alert(settings, settings.accounts[0], D)
    assert [d.status for d in run.deliveries] == ["sent"]
    assert len(webhook_server.received) == 1 and len(second_webhook.received) == 1


def test_given_a_target_down_on_two_runs_then_ops_hears_once_through_the_other(
        make_settings: Callable[..., tuple[Settings, Path]], webhook_server: Webhook,
        second_webhook: Webhook) -> None:
    """A one-off failure pages nobody about it (the retry delivers); a target that fails on
    two runs in a row: one [OPS] message a day, through the target that works, naming
    the one that does not; the alert itself waits for it."""
    settings, _ = make_settings(urls=[webhook_server.url, second_webhook.url])
    second_webhook.fail_next = 10
    put_score(settings, D, 431)
    pipeline.alert(settings, settings.accounts[0], D)
    assert [m["title"] for m in webhook_server.received] == [
        "[CRITICAL] IPI acme: US 431 under the threshold 450"]
    for _ in range(2):  # the second and third runs of the day: told once
        pipeline.alert(settings, settings.accounts[0], D)
    ops = [m for m in webhook_server.received if m["title"].startswith("[OPS]")]
    assert len(ops) == 1 and "JSON #2 cannot be used: " in ops[0]["message"]
    assert second_webhook.received == []


def test_routing_by_kind_and_account(
        make_settings: Callable[..., tuple[Settings, Path]], webhook_server: Webhook,
        second_webhook: Webhook) -> None:
    """Inventory alerts to one target, ops alerts to another, per account."""
    accounts = ('[[accounts]]\nname = "acme"\n[[accounts]]\nname = "zeta"\n'
                f'[[alerts.targets]]\nurl = "{webhook_server.url}"\ntags = ["inventory"]\n'
                f'accounts = ["acme"]\n[[alerts.targets]]\nurl = "{second_webhook.url}"\n'
                'tags = ["ops"]\n')
    settings, _ = make_settings(accounts=accounts)
    put_score(settings, D, 431)
    pipeline.alert(settings, settings.accounts[0], D)
    put_score(settings, D + timedelta(days=1), 431, status="unreliable")
    pipeline.alert(settings, settings.accounts[0], D + timedelta(days=1))
    assert heads(webhook_server) == ["[CRITICAL] firing"] and heads(second_webhook) == ["[OPS]"]


def test_silence_mutes_without_losing_the_state(
        hook_settings: Callable[..., Settings], webhook_server: Webhook) -> None:
    """Silenced: nothing is sent but the alert fires; after the silence the still-firing
    alert is paged as new (the on-call never heard of it), and nothing from the silence
    is sent late."""
    from ipi.alerts.control import add_silence

    settings = hook_settings()
    store = pipeline.open_store(settings, "acme")
    with store.write() as con:
        add_silence(con, "acme", None, D + timedelta(days=1), "maintenance", today=D)
    days(settings, [431, 430])
    assert webhook_server.received == []
    assert store.query("SELECT state FROM alert_state WHERE rule = 'below_threshold'") == [
        {"state": "firing"}]
    days(settings, [429], D + timedelta(days=2))
    assert heads(webhook_server) == ["[CRITICAL] firing"]


def test_given_no_targets_then_alert_is_recorded_and_not_retried(
        make_settings: Callable[..., tuple[Settings, Path]]) -> None:
    """Without a target for it the message is kept as 'no-targets', never sent later."""
    settings, _ = make_settings(urls=[])
    put_score(settings, D, 431)
    run = pipeline.alert(settings, settings.accounts[0], D)
    assert run.deliveries == []
    outbox = pipeline.open_store(settings, "acme").query("SELECT status FROM alert_outbox")
    assert outbox == [{"status": "no-targets"}]


def test_given_two_marketplaces_under_then_one_message_for_the_account(
        both: Settings, webhook_server: Webhook) -> None:
    """Grouping: one message per account per run, naming each marketplace."""
    put_score(both, D, 431, "US")
    put_score(both, D, 402, "UK")
    pipeline.alert(both, both.accounts[0], D)
    assert len(webhook_server.received) == 1
    msg = webhook_server.received[0]["message"]
    assert "acme UK" in msg and "acme US" in msg
    assert webhook_server.received[0]["title"] == (
        "[CRITICAL] IPI acme: UK 402 under the threshold 450; US 431 under the threshold 450")


def test_unusable_url_is_a_configuration_error_that_hides_the_url() -> None:
    """A URL apprise cannot use fails at start-up without echoing it (it may hold a token)."""
    with pytest.raises(ConfigError) as err:
        Notifier(["nosuchscheme://sekrit-token@host"])
    assert "sekrit" not in str(err.value) and "#1" in str(err.value)


def test_file_target_appends_messages(tmp_path: Path, fresh_db: Store) -> None:
    """The ipifile:// target used by the demo appends each message to a local file."""
    log = tmp_path / "out" / "alerts.log"
    notifier = Notifier([f"ipifile://{log}"])
    [target] = notifier.targets
    notifier.send(target, "Title one", "Body one")
    notifier.send(target, "Title two", "Body two", severity="resolved")
    text = log.read_text()
    assert "Title one" in text and "Body two" in text and text.index("one") < text.index("two")
    assert deliver_pending(fresh_db, notifier) == []




def test_email_is_html_with_the_score_chart_attached(
        make_settings: Callable[..., tuple[Settings, Path]], smtp_server: Mailbox) -> None:
    """Email gets an HTML body with the same content and a PNG chart of the history."""
    import email

    settings, _ = make_settings(urls=[smtp_server.url])
    days(settings, [480, 470, 431])
    [envelope] = smtp_server.messages
    msg = email.message_from_bytes(envelope.content)
    parts = {p.get_content_type(): p for p in msg.walk()}
    html = parts["text/html"].get_payload(decode=True).decode()
    assert "<h3>[CRITICAL] acme US: IPI estimate 431" in html and "estimate" in html
    png = parts["image/png"].get_payload(decode=True)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_only_a_message_for_an_email_target_carries_a_chart(
        make_settings: Callable[..., tuple[Settings, Path]], smtp_server: Mailbox,
        webhook_server: Webhook) -> None:
    """The chart is drawn for email alone: a message for a webhook is kept without one."""
    hooked, _ = make_settings(urls=[webhook_server.url])
    days(hooked, [480, 431])
    mailed, _ = make_settings(urls=[webhook_server.url, smtp_server.url])  # the same store
    days(mailed, [480, 431], start=D + timedelta(days=5))
    charts = [(r["date"], r["chart"] is not None) for r in pipeline.open_store(
        mailed, "acme").query("SELECT date, chart FROM alert_outbox WHERE kind = 'firing' "
                              "ORDER BY date")]
    assert charts == [(D + timedelta(days=1), False), (D + timedelta(days=6), True)]
    assert heads(webhook_server)[:2] == ["[CRITICAL] firing", "[RESOLVED] resolved"]
    assert len(webhook_server.received) == 3 and smtp_server.messages  # all delivered


def test_repeat_says_the_change_since_the_last_message(
        hook_settings: Callable[..., Settings], webhook_server: Webhook) -> None:
    """A repeated alert says how far the estimate moved since the alert was last sent,
    in its title and its text."""
    settings = hook_settings("repeat_days = 2")
    days(settings, [431, 425, 419])
    assert heads(webhook_server) == ["[CRITICAL] firing", "[CRITICAL] repeat"]
    repeat = webhook_server.received[1]
    assert repeat["title"] == ("[CRITICAL] IPI acme: US 419 still under the threshold 450 "
                               "(-12 since 2026-05-10)")
    assert "Since the last page (2026-05-10): estimate 431 -> 419 (-12)." in repeat["message"]
    assert "Paged again: 2 days since the last page." in repeat["message"]


def test_chat_targets_get_the_short_text() -> None:
    """The short text has the head, the factors and at most three SKUs, for Slack."""
    from ipi.alerts.message import Notice, render
    from ipi.score import DailyScore
    from ipi.score.drivers import Driver

    row = DailyScore(account="acme", marketplace="US", date=D, score=431.0, score_low=371.0,
                     score_high=491.0, excess_pct=31.5, sell_through=1.2, stranded_pct=4.0,
                     in_stock_rate=0.9, status="ok", model="prior")
    drivers = [Driver("excess", f"SKU-{i}", None, None, 100 - i, "excess units",
                      "remove", 5.0 - i) for i in range(5)]
    msg = render("acme", D, [Notice("US", "firing", row, 450, D,
                                    detail="next Amazon check 2026-06-30 (51 days)")],
                 {"US": drivers})
    assert msg.short.splitlines()[0].startswith("[CRITICAL] acme US: IPI estimate 431")
    assert "51 days" in msg.short and msg.short.count("• SKU-") == 3
    assert msg.text.count("  - SKU-") == 5 and "Seller Central shows" in msg.text


def test_resolved_notices_only_to_targets_that_want_them(
        make_settings: Callable[..., tuple[Settings, Path]], webhook_server: Webhook,
        second_webhook: Webhook) -> None:
    """A target with resolved = false gets the page but not the all-clear."""
    accounts = ('[[accounts]]\nname = "acme"\n'
                f'[[alerts.targets]]\nurl = "{webhook_server.url}"\n'
                f'[[alerts.targets]]\nurl = "{second_webhook.url}"\nresolved = false\n')
    settings, _ = make_settings(accounts=accounts, extra="[policy]\nrepeat_days = 30\n")
    days(settings, [431, 480])
    assert heads(webhook_server) == ["[CRITICAL] firing", "[RESOLVED] resolved"]
    assert heads(second_webhook) == ["[CRITICAL] firing"]


def test_a_failed_delivery_waits_its_backoff_before_the_next_try(
        make_settings: Callable[..., tuple[Settings, Path]], webhook_server: Webhook) -> None:
    """With a backoff, a run right after a failure does not hammer the target; once due it
    is retried."""
    settings, config = make_settings(urls=[webhook_server.url])
    config.write_text(config.read_text().replace("retry_backoff_minutes = 0",
                                                 "retry_backoff_minutes = 60"))
    from ipi.settings import load_settings
    settings = load_settings(config, env={})
    webhook_server.fail_next = 1
    put_score(settings, D, 431)
    assert [d.status for d in pipeline.alert(settings, settings.accounts[0], D).deliveries] \
        == ["failed"]
    assert pipeline.alert(settings, settings.accounts[0], D).deliveries == []  # not yet due
    store = pipeline.open_store(settings, "acme")
    with store.write() as con:  # an hour passes
        con.execute("UPDATE alert_delivery SET last_attempt_at = "
                             "last_attempt_at - INTERVAL 61 MINUTE")
    assert [d.status for d in pipeline.alert(settings, settings.accounts[0], D).deliveries] \
        == ["sent"]
