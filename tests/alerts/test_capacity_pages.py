"""Capacity pages on its own: a storage type past its warning pages once in its month,
once more over the limit, never for the way back down; a score alert the same day carries
it instead of a second message; a silence holds it until it ends. Real delivery to a
webhook on loopback; the use comes from stored planning reports."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from flows.cli import main
from ipi import pipeline
from ipi.alerts.control import add_silence
from ipi.settings import Settings
from ipi.store.load import load_file
from ipi.testing import planning_report
from tests.alerts.helpers import put_score
from tests.helpers import Webhook

NOV = date(2026, 11, 10)


@pytest.fixture
def acme(make_settings: Callable[..., tuple[Settings, Path]],
         webhook_server: Webhook) -> tuple[Settings, Path]:
    """acme, US, a standing standard limit of 100 cu ft, the webhook its one target."""
    return make_settings(urls=[webhook_server.url], accounts=(
        '[[accounts]]\nname = "acme"\nmarketplaces = ["US"]\n'
        "capacity = { standard = 100 }\n"))


def run_day(settings: Settings, folder: Path, day: date, cuft: float,
            score: float = 600.0) -> pipeline.AlertRun:
    """One day: a planning report with ``cuft`` of standard storage on hand (nothing
    inbound), the day's estimate, then the alert step."""
    load_file(pipeline.open_store(settings, "acme"), "acme", planning_report(folder, day, [
        {"sku": "A", "available": 100, "inbound-quantity": 0, "storage-type": "Standard",
         "storage-volume": cuft, "item-volume": cuft / 100,
         "volume-unit-measurement": "cubic feet"}]), ingest_day=day,
        default_marketplace="US")
    put_score(settings, day, score)
    return pipeline.alert(settings, settings.accounts[0], day)


def test_capacity_pages_once_past_its_warning_once_over_and_again_in_a_new_month(
        acme: tuple[Settings, Path], webhook_server: Webhook, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The estimate is a healthy 600 throughout. 50 of 100 cu ft: nothing. 95: a warning
    page. 96: nothing (paged this month). 101: a critical page, over the limit. 93:
    nothing (down is not news). December's first day at 95: its limit is a new month's,
    a warning page again."""
    settings, config = acme
    used = [50, 95, 96, 101, 93]
    runs = [run_day(settings, tmp_path, NOV + timedelta(days=i), c)
            for i, c in enumerate(used)]
    runs.append(run_day(settings, tmp_path, date(2026, 12, 1), 95))
    assert [r.capacity for r in runs] == [[], ["standard: warning"], [],
                                          ["standard: over"], [], ["standard: warning"]]
    got = webhook_server.received
    assert [(m["title"], m["date"]) for m in got] == [
        ("[WARNING] IPI acme: standard storage at 95% of its capacity limit", "2026-11-11"),
        ("[CRITICAL] IPI acme: standard storage over its capacity limit (101%)",
         "2026-11-13"),
        ("[WARNING] IPI acme: standard storage at 95% of its capacity limit", "2026-12-01")]
    first = got[0]
    assert first["message"].startswith(
        "[WARNING] acme on 2026-11-11: standard storage: 95 cu ft used on 2026-11-11 of "
        "100 (95%)")
    assert "Capacity Monitor" in first["message"]
    assert "moved its published IPI threshold" in first["message"]
    assert (first["type"], first["rule"], first["dedup_key"]) == (
        "warning", "capacity", "ipi/acme/capacity")
    [std] = first["storage"]
    assert (std["storage_type"], std["status"], std["used_cuft"], std["limit_cuft"]) == (
        "standard", "warning", 95.0, 100.0)
    assert got[1]["type"] == "failure"  # apprise's colour for a critical page
    # `ipi alerts history` tells the story, dated by the reports' days.
    assert main(["alerts", "history", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "2026-11-11  acme all capacity/standard: normal -> warning at 95 (paged)" in out
    assert "2026-11-13  acme all capacity/standard: warning -> over at 101 (paged)" in out
    assert "2026-12-01  acme all capacity/standard: normal -> warning at 95 (paged)" in out


def test_a_score_alert_the_same_day_carries_the_capacity_warning_in_one_message(
        acme: tuple[Settings, Path], webhook_server: Webhook, tmp_path: Path) -> None:
    """Under the threshold and past the capacity warning on the same day: one message, the
    critical score alert, with the capacity line under "At stake"; the next day, still
    past the warning and still under the threshold, sends nothing more."""
    settings, _ = acme
    run = run_day(settings, tmp_path, NOV, 95, score=420)
    assert run.capacity == ["standard: warning"] and len(run.notices) == 1
    [msg] = webhook_server.received
    assert msg["title"] == ("[CRITICAL] IPI acme: US 420 under the threshold 450; "
                            "standard storage at 95% of its capacity limit")
    assert ("At stake beyond the score:\n  - standard storage: 95 cu ft used on "
            "2026-11-10 of 100 (95%)") in msg["message"]
    again = run_day(settings, tmp_path, NOV + timedelta(days=1), 96, score=419)
    assert again.capacity == [] and len(webhook_server.received) == 1


def test_a_silence_holds_the_capacity_page_until_it_ends(
        acme: tuple[Settings, Path], webhook_server: Webhook, tmp_path: Path) -> None:
    """Silenced through the 11th: no page while it lasts, none recorded; the 12th, still
    past the warning, pages."""
    settings, _ = acme
    with pipeline.open_store(settings, "acme").write() as con:
        add_silence(con, "acme", None, NOV + timedelta(days=1), "stock-take", today=NOV)
    assert run_day(settings, tmp_path, NOV, 95).capacity == []
    assert run_day(settings, tmp_path, NOV + timedelta(days=1), 95).capacity == []
    assert webhook_server.received == []
    third = run_day(settings, tmp_path, NOV + timedelta(days=2), 95)
    assert third.capacity == ["standard: warning"]
    assert [m["date"] for m in webhook_server.received] == ["2026-11-12"]


def test_a_rerun_of_the_day_pages_nothing_more(
        acme: tuple[Settings, Path], webhook_server: Webhook, tmp_path: Path) -> None:
    settings, _ = acme
    run_day(settings, tmp_path, NOV, 95)
    assert pipeline.alert(settings, settings.accounts[0], NOV).capacity == []
    assert len(webhook_server.received) == 1
