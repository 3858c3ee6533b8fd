"""Pages an on-call person will not mute: weekly repeats unless it got worse or a check
is near, acknowledgements, silences listed and expired, titles that lead with the most
important change, apprise notify types by severity, flap damping, JSON fields for
incident tools. Real delivery to webhooks and SMTP on loopback throughout."""

from __future__ import annotations

import email
import email.header
import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from flows.cli import main
from ipi import pipeline
from ipi.settings import Settings
from ipi.store import Store, utcnow
from tests.alerts.helpers import D, days, heads, put_score
from tests.helpers import Mailbox, Webhook

CHECK = date(2026, 6, 30)  # the quarter's end after D (2026-05-10): Amazon's next check


@pytest.fixture
def hook(make_settings: Callable[..., tuple[Settings, Path]],
         webhook_server: Webhook) -> Callable[..., tuple[Settings, Path]]:
    """Settings with the webhook as the one target and the default policy, plus ``extra``."""
    def make(extra: str = "") -> tuple[Settings, Path]:
        return make_settings(urls=[webhook_server.url], extra=extra)
    return make


def test_given_default_policy_when_nothing_changes_then_repeats_weekly(
        hook: Callable[..., tuple[Settings, Path]], webhook_server: Webhook) -> None:
    """Amazon updates the score weekly: 15 days at 431 page on day 0, 7 and 14, each
    repeat saying why and what changed since the last page."""
    settings, _ = hook()
    days(settings, [431] * 15)
    assert heads(webhook_server) == ["[CRITICAL] firing", "[CRITICAL] repeat",
                                     "[CRITICAL] repeat"]
    assert [m["date"] for m in webhook_server.received] == [
        str(D), str(D + timedelta(days=7)), str(D + timedelta(days=14))]
    repeat = webhook_server.received[1]["message"]
    assert "Paged again: 7 days since the last page." in repeat
    assert f"Since the last page ({D}): estimate 431 -> 431 (+0)." in repeat


def test_a_page_and_its_weekly_repeat_ask_for_the_official_score_until_one_is_recorded(
        hook: Callable[..., tuple[Settings, Path]], webhook_server: Webhook) -> None:
    """The page and its weekly repeat carry the request for this week's official score
    with the command that records it; with one of the last 7 days recorded, the next
    repeat does not ask."""
    settings, _ = hook()
    days(settings, [431] * 8)
    first, repeat = (m["message"] for m in webhook_server.received)
    assert ("Record this week's official score from Seller Central (Inventory > Inventory "
            f"performance): ipi official add --account acme --date {D} --score N") in first
    assert f"ipi official add --account acme --date {D + timedelta(days=7)} --score N" \
        in repeat
    with pipeline.open_store(settings, settings.accounts[0]).write() as con:
        con.execute("INSERT INTO official_score (account, marketplace, date, score, recorded_at) "
                    "VALUES ('acme', 'US', $day, 440, $now)",
                    {"day": D + timedelta(days=10), "now": utcnow()})
    days(settings, [431] * 7, start=D + timedelta(days=8))
    assert heads(webhook_server)[2:] == ["[CRITICAL] repeat"]
    assert "Record this week's official score" not in webhook_server.received[2]["message"]


def test_given_firing_when_estimate_falls_30_points_then_repeats_at_once(
        hook: Callable[..., tuple[Settings, Path]], webhook_server: Webhook) -> None:
    """Materially worse (down 30 points since the last page) repeats the next day; a
    smaller slide waits for the week."""
    settings, _ = hook()
    days(settings, [431, 425, 419, 400])
    assert heads(webhook_server) == ["[CRITICAL] firing", "[CRITICAL] repeat"]
    assert webhook_server.received[1]["date"] == str(D + timedelta(days=3))
    assert "Paged again: the estimate fell 31 points since the last page." in \
        webhook_server.received[1]["message"]


def test_given_firing_when_the_whole_band_goes_under_then_repeats_at_once(
        hook: Callable[..., tuple[Settings, Path]], webhook_server: Webhook) -> None:
    """405 (band 345-465) then 385 (band 325-445): only 20 points, but no part of the band
    is over 450 any more: a repeat that says so."""
    settings, _ = hook()
    days(settings, [405, 385])
    assert heads(webhook_server) == ["[CRITICAL] firing", "[CRITICAL] repeat"]
    assert "its whole band is now under 450" in webhook_server.received[1]["message"]


def test_given_repeat_band_under_off_then_the_band_alone_waits_for_the_week(
        hook: Callable[..., tuple[Settings, Path]], webhook_server: Webhook) -> None:
    """The band rule is configurable: off, the same days page once."""
    settings, _ = hook("[policy]\nrepeat_band_under = false\n")
    days(settings, [405, 385])
    assert heads(webhook_server) == ["[CRITICAL] firing"]


def test_given_a_check_ahead_then_it_reminds_7_days_and_1_day_before_it(
        hook: Callable[..., tuple[Settings, Path]], webhook_server: Webhook) -> None:
    """A firing alert is repeated once 7 days and once 1 day before Amazon's check,
    saying why, and not on the days between."""
    settings, _ = hook()
    start = CHECK - timedelta(days=10)
    days(settings, [431] * 11, start)
    sent = [date.fromisoformat(m["date"]) for m in webhook_server.received]
    assert sent == [start, CHECK - timedelta(days=7), CHECK - timedelta(days=1)]
    assert "Paged again: 7 day(s) to Amazon's check." in webhook_server.received[1]["message"]


def test_an_incident_across_a_check_pages_once_and_repeats_at_most_3_times(
        hook: Callable[..., tuple[Settings, Path]], webhook_server: Webhook) -> None:
    """20 days under the threshold around Amazon's check, sliding 30 points twice: the
    weekly repeats, the reminders before the check and the "worse" repeats all count in
    one budget of 3 repeats; the resolve still goes out."""
    settings, _ = hook()
    start = CHECK - timedelta(days=12)
    days(settings, [431] * 4 + [400] * 4 + [369] * 12 + [480], start)
    assert heads(webhook_server) == ["[CRITICAL] firing", *["[CRITICAL] repeat"] * 3,
                                     "[RESOLVED] resolved"]


def test_ack_stops_the_reminders_before_a_check(
        hook: Callable[..., tuple[Settings, Path]], webhook_server: Webhook,
        capsys: pytest.CaptureFixture[str]) -> None:
    """An acknowledged alert is not reminded before the check: ack stops it as any repeat."""
    settings, config = hook()
    start = CHECK - timedelta(days=10)
    days(settings, [431], start)
    assert main(["alerts", "ack", "acme", "--config", str(config)]) == 0
    days(settings, [431] * 10, start + timedelta(days=1))
    assert heads(webhook_server) == ["[CRITICAL] firing"]


def test_ack_stops_repeats_until_it_gets_materially_worse(
        hook: Callable[..., tuple[Settings, Path]], webhook_server: Webhook,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`ipi alerts ack`: no weekly repeat while acknowledged; 36 points worse than at the
    acknowledgement pages again (saying so), and the weekly rhythm resumes from there."""
    settings, config = hook()
    days(settings, [431])
    assert main(["alerts", "ack", "acme", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"acknowledged acme US below threshold (firing since {D}; estimate at 431" in out
    days(settings, [431] * 9, D + timedelta(days=1))
    assert heads(webhook_server) == ["[CRITICAL] firing"]
    days(settings, [395], D + timedelta(days=10))
    assert heads(webhook_server) == ["[CRITICAL] firing", "[CRITICAL] repeat"]
    assert f"acknowledged on {D}, but the estimate fell 36 points since" in \
        webhook_server.received[1]["message"]
    days(settings, [395] * 7, D + timedelta(days=11))
    assert heads(webhook_server)[-1] == "[CRITICAL] repeat" and len(webhook_server.received) == 3
    events = pipeline.open_store(settings, settings.accounts[0]).query(
        "SELECT note FROM alert_event WHERE note LIKE 'acknowledged%'")
    assert len(events) == 1


def test_ack_lasts_until_the_alert_resolves(
        hook: Callable[..., tuple[Settings, Path]], webhook_server: Webhook,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The resolve is still sent; the next incident pages afresh, and repeats, as it was
    never acknowledged; with nothing firing, ack says so."""
    settings, config = hook()
    days(settings, [431])
    assert main(["alerts", "ack", "acme", "--marketplace", "us", "--config", str(config)]) == 0
    days(settings, [480] * 10, D + timedelta(days=1))
    days(settings, [431] * 8, D + timedelta(days=11))
    assert heads(webhook_server) == ["[CRITICAL] firing", "[RESOLVED] resolved",
                                     "[CRITICAL] firing", "[CRITICAL] repeat"]
    days(settings, [480], D + timedelta(days=19))
    capsys.readouterr()
    assert main(["alerts", "ack", "acme", "--config", str(config)]) == 0
    assert "nothing is firing for acme: nothing to acknowledge" in capsys.readouterr().out


def test_silence_list_and_expire(
        hook: Callable[..., tuple[Settings, Path]], webhook_server: Webhook,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Silences get ids; `list` shows those in force (`--all` the rest, `--json` for
    scripts); `expire` ends one, and the still-firing alert pages at the next run; a
    silence ending in the past, or expiring twice, is one clear error line."""
    settings, config = hook()
    today = date.today()
    base = ["--config", str(config)]
    assert main(["alerts", "silence", "acme", "--until", str(today + timedelta(days=9)),
                 "--reason", "stock-take", *base]) == 0
    assert main(["alerts", "silence", "add", "acme", "--until", str(today), "--reason",
                 "relabel", "--marketplace", "US", *base]) == 0
    capsys.readouterr()
    assert main(["alerts", "silence", "list", *base]) == 0
    out = capsys.readouterr().out
    assert "   2  active   acme US until" in out and "   1  active   acme all until" in out
    put_score(settings, today, 431)
    pipeline.alert(settings, settings.accounts[0], today)
    assert webhook_server.received == []
    assert main(["alerts", "silence", "expire", "1", *base]) == 0
    assert main(["alerts", "silence", "expire", "2", *base]) == 0
    capsys.readouterr()
    assert main(["alerts", "silence", "list", "--json", *base]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["alerts", "silence", "list", "--all", "--json", *base]) == 0
    assert [s["status"] for s in json.loads(capsys.readouterr().out)] == ["expired"] * 2
    put_score(settings, today + timedelta(days=1), 430)
    pipeline.alert(settings, settings.accounts[0], today + timedelta(days=1))
    assert heads(webhook_server) == ["[CRITICAL] firing"]

    assert main(["alerts", "silence", "expire", "1", *base]) == 2
    assert "silence 1 was already expired" in capsys.readouterr().err
    assert main(["alerts", "silence", "expire", "7", *base]) == 2
    assert "no silence with id 7" in capsys.readouterr().err
    past = today - timedelta(days=3)
    assert main(["alerts", "silence", "acme", "--until", str(past), "--reason", "x", *base]) == 2
    err = capsys.readouterr().err
    assert f"a silence until {past} would already be over" in err
    assert len(err.strip().splitlines()) == 1


def test_given_resolve_and_warning_the_same_day_then_the_resolve_leads(
        hook: Callable[..., tuple[Settings, Path]], webhook_server: Webhook) -> None:
    """Back over the recovery threshold but still near it inside a check window: the
    message's title and first line are the resolve; the warning follows."""
    settings, _ = hook()
    days(settings, [431, 475], CHECK - timedelta(days=20))
    assert len(webhook_server.received) == 2
    msg = webhook_server.received[1]
    assert msg["title"] == ("[RESOLVED] IPI acme: US 475 back over the threshold 450 "
                            "(and 1 more)")
    first, second = msg["message"].split("\n\n")[:2]
    assert first.startswith("[RESOLVED] acme US") and second.startswith("[WARNING] acme US")
    assert [a["state"] for a in msg["alerts"]] == ["resolved", "firing"]


def test_notify_types_follow_severity(
        hook: Callable[..., tuple[Settings, Path]], webhook_server: Webhook,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The webhook sees apprise's type: critical and ops failure, warning warning,
    resolved success, a test message info."""
    settings, config = hook()
    days(settings, [431, 480])  # critical, then resolved
    days(settings, [475], CHECK - timedelta(days=20))  # a warning alone
    put_score(settings, CHECK - timedelta(days=19), 600, status="unreliable")  # ops
    pipeline.alert(settings, settings.accounts[0], CHECK - timedelta(days=19))
    assert main(["alerts", "test", "--config", str(config)]) == 0
    got = [(m["title"].split("]")[0] + "]" if m["title"].startswith("[") else m["title"],
            m["type"]) for m in webhook_server.received]
    assert got == [("[CRITICAL]", "failure"), ("[RESOLVED]", "success"),
                   ("[WARNING]", "warning"), ("[OPS]", "failure"), ("IPI test alert", "info")]


def test_email_subjects_carry_the_tag(
        make_settings: Callable[..., tuple[Settings, Path]], smtp_server: Mailbox) -> None:
    """Email is the same message: the subject leads with the tag, greppable."""
    settings, _ = make_settings(urls=[smtp_server.url])
    days(settings, [431, 480])
    subjects = [str(email.header.make_header(email.header.decode_header(
        email.message_from_bytes(e.content)["Subject"]))) for e in smtp_server.messages]
    assert subjects == ["[CRITICAL] IPI acme: US 431 under the threshold 450",
                        "[RESOLVED] IPI acme: US 480 back over the threshold 450"]


def test_json_webhook_gets_fields_an_incident_tool_routes_on(
        hook: Callable[..., tuple[Settings, Path]], webhook_server: Webhook) -> None:
    """One stable dedup_key for the incident across firing, repeat and resolve; state,
    severity, estimate, band, factors, next check; a link when ui_url is set."""
    settings, _ = hook('ui_url = "https://ipi.example.com/"\n')
    days(settings, [431, 425, 400, 480])
    firing, repeat, resolved = webhook_server.received
    assert {m["dedup_key"] for m in (firing, repeat, resolved)} == {
        "ipi/acme/US/below_threshold"}
    assert [(m["state"], m["severity"]) for m in (firing, repeat, resolved)] == [
        ("firing", "critical"), ("repeat", "critical"), ("resolved", "resolved")]
    assert firing["estimate"] == 431.0 and firing["band"] == [371.0, 491.0]
    assert firing["threshold"] == 450.0 and firing["next_check"] == str(CHECK)
    assert firing["factors"] == {"excess_pct": 31.5, "sell_through": 1.2,
                                 "stranded_pct": 4.0, "in_stock_rate": 0.9}
    assert firing["link"] == "https://ipi.example.com/accounts/acme"
    assert "Open: https://ipi.example.com/accounts/acme" in firing["message"]
    assert firing["version"] == "1.0" and firing["title"].startswith("[CRITICAL]")
    assert [a["dedup_key"] for a in firing["alerts"]] == ["ipi/acme/US/below_threshold"]


def put(store: Store, day: date, score: float, in_stock: float | None) -> None:
    """A day's estimate whose in-stock factor may be missing (a report absent that day)."""
    with store.write() as con:
        con.execute(
            "INSERT OR REPLACE INTO daily_score (account, marketplace, date, excess_pct, "
            "sell_through, stranded_pct, in_stock_rate, score, score_low, score_high, status, "
            "model, computed_at) VALUES ('acme', 'US', $day, 31.5, 1.2, 4.0, $in_stock, $score, "
            "$low, $high, 'ok', 'test', $now)",
            {"day": day, "in_stock": in_stock, "score": score, "low": score - 60,
             "high": score + 60, "now": utcnow()})


def play(settings: Settings, scores: list[tuple[float, float | None]],
         start: date = D) -> list[Any]:
    store = pipeline.open_store(settings, settings.accounts[0])
    for k, (score, in_stock) in enumerate(scores):
        put(store, start + timedelta(days=k), score, in_stock)
        pipeline.alert(settings, settings.accounts[0], start + timedelta(days=k))
    return store.query("SELECT date, from_state, to_state, note FROM alert_event "
                       "WHERE rule = 'below_threshold' ORDER BY date")


def test_flapping_sends_one_notice_then_holds_until_stable(
        hook: Callable[..., tuple[Settings, Path]], webhook_server: Webhook) -> None:
    """Fire, resolve, fire in three days: one flapping notice naming the swing and the
    likely cause (in-stock has data only on some days); then nothing while it goes on
    flapping, every change still recorded; stable again 3 days and back where the on-call
    last heard it (resolved): no page."""
    settings, _ = hook()
    flap = [(431.0, None), (480.0, 0.9)] * 5
    events = play(settings, flap + [(480.0, 0.9)] * 4)
    assert heads(webhook_server) == ["[CRITICAL] firing", "[RESOLVED] resolved",
                                     "[WARNING] flapping"]
    notice = webhook_server.received[2]
    assert notice["title"] == "[WARNING] IPI acme: US below threshold flapping, pages held"
    assert "(3 changes in 10 days, firing now)" in notice["message"]
    assert "the estimate swung between 431 and 480" in notice["message"]
    assert "likely cause: in-stock had no data on 2 of those days" in notice["message"]
    assert notice["type"] == "warning"
    assert len(events) == 10 and sum(e["note"] == "held: flapping" for e in events) == 7


def test_after_flapping_a_stable_firing_state_pages_once(
        hook: Callable[..., tuple[Settings, Path]], webhook_server: Webhook) -> None:
    """Flapping, then under the threshold for good: after flap_stable_days (here 2) one
    critical page saying it is stable again; then the usual weekly rhythm."""
    settings, _ = hook("[policy]\nflap_stable_days = 2\n")
    play(settings, [(431.0, 0.9), (480.0, 0.9), (431.0, 0.9)] + [(431.0, 0.9)] * 3)
    assert heads(webhook_server) == ["[CRITICAL] firing", "[RESOLVED] resolved",
                                     "[WARNING] flapping", "[CRITICAL] firing"]
    last = webhook_server.received[3]
    assert last["date"] == str(D + timedelta(days=4))
    assert "Paged now: stable for 2 days after flapping." in last["message"]


def test_a_wobble_that_does_not_flip_three_times_is_not_flapping(
        hook: Callable[..., tuple[Settings, Path]], webhook_server: Webhook) -> None:
    """Fire and resolve twice ten days apart: two incidents, no flapping notice."""
    settings, _ = hook()
    play(settings, [(431.0, 0.9), (480.0, 0.9)] + [(480.0, 0.9)] * 9
         + [(431.0, 0.9), (480.0, 0.9)])
    assert heads(webhook_server) == ["[CRITICAL] firing", "[RESOLVED] resolved"] * 2


def test_states_from_before_paging_was_recorded_carry_over(tmp_path: Path) -> None:
    """A database from before migration 0009: a firing alert that was paged stays paged
    (no second first page), and silences get ids."""
    import duckdb

    from ipi.store.migrations import MIGRATIONS

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE ipi_migration (name VARCHAR PRIMARY KEY, "
                "applied_at TIMESTAMP NOT NULL)")
    for name, sql in MIGRATIONS:
        if name.startswith("0009"):
            break
        con.execute(sql)
        con.execute("INSERT INTO ipi_migration (name, applied_at) VALUES ($name, now())",
                    {"name": name})
    con.execute("INSERT INTO alert_state (account, marketplace, rule, state, since, "
                "last_date, updated_at, count, last_notified) VALUES ('acme', 'US', "
                "'below_threshold', 'firing', $day, $day, now(), 3, $day)", {"day": D})
    con.execute("INSERT INTO alert_silence (account, marketplace, until, reason, created_at) "
                "VALUES ('acme', NULL, $day, 'old', now())", {"day": D})
    con.close()
    store = Store(path, data_dir=tmp_path)
    assert store.migrate()[0] == "0009_alert_paging"
    assert store.query("SELECT paged, acked FROM alert_state") == [
        {"paged": "firing", "acked": None}]
    assert store.query("SELECT id, reason, expired_at FROM alert_silence") == [
        {"id": 1, "reason": "old", "expired_at": None}]
