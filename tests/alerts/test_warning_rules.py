"""Warnings: the check window, the projected crossing, jumps in stranded and excess units,
and their inhibition while the critical alert fires."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from ipi import pipeline
from ipi.alerts.calendar import days_to_check, next_checkpoint, quarter_end
from ipi.demo import Simulation, write_day
from ipi.settings import Policy, Settings
from ipi.sources.files import FileDrops
from tests.alerts.helpers import days, heads, put_score
from tests.helpers import Webhook

Q_END = date(2026, 12, 31)


@pytest.mark.parametrize("day, expected", [
    (date(2026, 11, 27), date(2026, 12, 31)), (date(2026, 12, 31), date(2026, 12, 31)),
    (date(2027, 1, 1), date(2027, 3, 31)), (date(2026, 5, 10), date(2026, 6, 30)),
])
def test_quarter_ends(day: date, expected: date) -> None:
    """The default check is each quarter's last day."""
    assert quarter_end(day) == expected


def test_calendar_with_explicit_dates_and_window() -> None:
    """Explicit check dates join the quarter ends; the window opens warning_window_days
    before the next one."""
    policy = Policy(checkpoints=(date(2026, 11, 20),), warning_window_days=10)
    assert next_checkpoint(policy, date(2026, 11, 1)) == date(2026, 11, 20)
    assert days_to_check(policy, date(2026, 11, 1)) is None
    assert days_to_check(policy, date(2026, 11, 12)) == (date(2026, 11, 20), 8)
    assert days_to_check(policy, date(2026, 12, 25)) == (Q_END, 6)
    assert next_checkpoint(Policy(checkpoint_rule="none"), date(2026, 12, 25)) is None


@pytest.fixture
def hook(make_settings: Callable[..., tuple[Settings, Path]],
         webhook_server: Webhook) -> Callable[[str], Settings]:
    def make(policy: str) -> Settings:
        return make_settings(urls=[webhook_server.url], extra=f"[policy]\n{policy}\n")[0]
    return make


def test_check_window_warns_near_the_threshold_with_days_left(
        hook: Callable[[str], Settings], webhook_server: Webhook) -> None:
    """Inside the window, 470 (within 30 of 450) warns, saying the days to the check;
    outside the window the same score says nothing."""
    settings = hook("repeat_days = 30")
    days(settings, [470], Q_END - timedelta(days=50))
    assert webhook_server.received == []
    days(settings, [470], Q_END - timedelta(days=20))
    [msg] = webhook_server.received
    assert msg["message"].startswith("[WARNING] acme US: IPI estimate 470")
    assert "20 day(s) before Amazon's check on 2026-12-31" in msg["message"]
    assert "check window" in msg["title"]


def test_projected_crossing_warns_on_a_falling_trend(
        hook: Callable[[str], Settings], webhook_server: Webhook) -> None:
    """Falling 3 points a day from 560, still over 450 but headed under it by the check."""
    settings = hook("repeat_days = 30\nwarning_window_days = 0")
    start = Q_END - timedelta(days=60)
    days(settings, [560 - 3 * k for k in range(10)], start)
    messages = [m["message"] for m in webhook_server.received]
    assert len(messages) == 1 and messages[0].startswith("[WARNING]")
    assert "is falling: at -3.0 points a day over 7 days" in messages[0]
    assert "by the check on 2026-12-31" in messages[0]


def test_warnings_are_inhibited_while_the_critical_alert_fires(
        hook: Callable[[str], Settings], webhook_server: Webhook) -> None:
    """Under the threshold in the window: one critical page, no warning beside it; the
    warning state is kept (history marks it inhibited), and the run line says so rather
    than blaming a silence."""
    settings = hook("repeat_days = 30")
    start = Q_END - timedelta(days=10)
    put_score(settings, start, 431)
    run = pipeline.alert(settings, settings.accounts[0], start)
    days(settings, [430], start + timedelta(days=1))
    assert heads(webhook_server) == ["[CRITICAL] firing"]
    assert [n.rule for n in run.inhibited] == ["check_window"] and run.silenced == []
    line = pipeline.DayRun.of(settings, settings.accounts[0], start, run).line("acme")
    assert line.endswith("1 alert(s) sent, 1 warning(s) held while the critical alert fires")
    assert "held by a silence" not in line
    history = pipeline.open_store(settings, settings.accounts[0]).query(
        "SELECT rule, to_state, note FROM alert_event WHERE rule = 'check_window'")
    assert history == [{"rule": "check_window", "to_state": "firing",
                        "note": "muted: inhibited by the critical alert"}]


def test_newly_stranded_skus_warn_naming_them(
        tmp_path: Path, demo_sim: Simulation, make_settings: Callable[..., tuple[Settings, Path]],
        webhook_server: Webhook) -> None:
    """The demo story strands a dozen SKUs one day: a warning names them, once."""
    settings, _ = make_settings(urls=[webhook_server.url],
                                extra="[policy]\nrepeat_days = 30\nthreshold = 100\n")
    account = settings.accounts[0]
    store = pipeline.open_store(settings, account)
    strand_day = next(i for i in range(100) if demo_sim.stranded[demo_sim.warmup + i].any())
    for i in (strand_day - 1, strand_day, strand_day + 1):
        write_day(demo_sim, i, tmp_path / str(i))
        run = pipeline.ingest(store, account, FileDrops(tmp_path / str(i)), demo_sim.day(i))
        pipeline.score(settings, account, demo_sim.day(i), run.days)
        pipeline.alert(settings, account, demo_sim.day(i))
    jumps = [m for m in webhook_server.received if "newly stranded" in m["message"]]
    assert len(jumps) == 1
    n = int(demo_sim.stranded[demo_sim.warmup + strand_day].sum())
    assert f"{n} SKU(s) newly stranded" in jumps[0]["message"]
    assert "DEMO-" in jumps[0]["message"]


def test_excess_jump_warns_naming_the_skus(
        tmp_path: Path, demo_sim: Simulation, make_settings: Callable[..., tuple[Settings, Path]],
        webhook_server: Webhook) -> None:
    """The demo's bad purchase lands on day 70: excess units jump, and the warning names the
    SKUs that rose most."""
    settings, _ = make_settings(urls=[webhook_server.url],
                                extra="[policy]\nrepeat_days = 30\nthreshold = 100\n")
    account = settings.accounts[0]
    store = pipeline.open_store(settings, account)
    for i in (69, 70):
        write_day(demo_sim, i, tmp_path / str(i))
        run = pipeline.ingest(store, account, FileDrops(tmp_path / str(i)), demo_sim.day(i))
        pipeline.score(settings, account, demo_sim.day(i), run.days)
        pipeline.alert(settings, account, demo_sim.day(i))
    jumps = [m["message"] for m in webhook_server.received if "excess units rose" in m["message"]]
    assert len(jumps) == 1 and "most: DEMO-" in jumps[0]
