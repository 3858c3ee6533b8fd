"""`ipi alerts`: test, history, silence, check, and the dead man's switch."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from flows.cli import main
from ipi import pipeline
from ipi.settings import Settings
from tests.alerts.helpers import D, put_score
from tests.helpers import Mailbox, Webhook


def test_alerts_test_reports_each_target(
        make_settings: Callable[..., tuple[Settings, Path]], smtp_server: Mailbox,
        webhook_server: Webhook, second_webhook: Webhook,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A test message to every target, one line each; a failing target fails the command."""
    _, config = make_settings(urls=[smtp_server.url, webhook_server.url, second_webhook.url])
    assert main(["alerts", "test", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.count("  ok    ") == 3 and "E-Mail #1" in out and "JSON #2" in out
    assert len(smtp_server.messages) == 1 and webhook_server.received[0]["title"] == \
        "IPI test alert"
    second_webhook.fail_next = 1
    assert main(["alerts", "test", "--config", str(config)]) == 1
    assert "FAIL  JSON #3" in capsys.readouterr().out


def test_silence_and_history(make_settings: Callable[..., tuple[Settings, Path]],
                             webhook_server: Webhook,
                             capsys: pytest.CaptureFixture[str]) -> None:
    """`ipi alerts silence` mutes the account; `history` shows the state change, marked
    silenced, and the messages with their deliveries."""
    settings, config = make_settings(urls=[webhook_server.url])
    day = date.today()  # a silence cannot end in the past
    assert main(["alerts", "silence", "acme", "--until", str(day), "--reason", "stock-take",
                 "--config", str(config)]) == 0
    assert f"silence 1: acme until {day}" in capsys.readouterr().out
    put_score(settings, day, 431)
    pipeline.alert(settings, settings.accounts[0], day)
    assert webhook_server.received == []
    put_score(settings, day + timedelta(days=1), 600, status="unreliable")
    pipeline.alert(settings, settings.accounts[0], day + timedelta(days=1))
    capsys.readouterr()
    assert main(["alerts", "history", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "acme US below_threshold: normal -> firing at 431 (muted: stock-take)" in out
    assert "[OPS] IPI acme US: the estimate for" in out and "JSON #1: sent" in out


def test_silence_rejects_an_unknown_marketplace(
        make_settings: Callable[..., tuple[Settings, Path]],
        capsys: pytest.CaptureFixture[str]) -> None:
    """A typo in the marketplace is an error, not a silence that mutes nothing."""
    _, config = make_settings()
    assert main(["alerts", "silence", "acme", "--until", "2026-12-01", "--reason", "x",
                 "--marketplace", "XX", "--config", str(config)]) == 2
    assert "XX is not one of acme's marketplaces" in capsys.readouterr().err


def test_dead_mans_switch_fires_once_when_data_goes_stale(
        make_settings: Callable[..., tuple[Settings, Path]], webhook_server: Webhook,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`ipi alerts check` with no estimate newer than max_data_age_days sends one ops alert
    (and not again on the next check); fresh data sends nothing."""
    settings, config = make_settings(urls=[webhook_server.url])
    put_score(settings, D, 600)
    assert main(["alerts", "check", "--config", str(config), "--date",
                 str(D + timedelta(days=2))]) == 0
    assert webhook_server.received == []
    for k in (3, 4):
        assert main(["alerts", "check", "--config", str(config), "--date",
                     str(D + timedelta(days=k))]) == 0
    assert [m["title"] for m in webhook_server.received] == [
        f"[OPS] IPI acme: no fresh estimate since {D}"]
    assert "did not happen" in webhook_server.received[0]["message"]


def test_alerts_test_with_the_example_config_and_local_servers(
        smtp_server: Mailbox, webhook_server: Webhook, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """config/ipi.example.toml with IPI_APPRISE_URLS pointed at local SMTP and webhook
    servers: `ipi alerts test` reaches both."""
    example = Path(__file__).resolve().parents[2] / "config" / "ipi.example.toml"
    monkeypatch.setenv("IPI_APPRISE_URLS", f"{smtp_server.url} {webhook_server.url}")
    assert main(["alerts", "test", "--config", str(example)]) == 0
    assert capsys.readouterr().out.count("  ok    ") == 2
    assert len(smtp_server.messages) == 1 and len(webhook_server.received) == 1
