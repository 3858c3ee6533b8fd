"""Ledger backfill from the (fake) SP-API: windows, resuming, idempotence, history limit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flows.cli import main
from ipi.backfill import LEDGER, Progress, backfill_sp_api, ledger_range
from ipi.demo import Simulation, ledger_text, simulate
from ipi.errors import ConfigError, UsageError
from ipi.pipeline import open_store
from ipi.settings import Settings
from ipi.store.accounts import Fleet
from ipi.testing import MARKETPLACE_IDS, FakeSpApi
from tests.helpers import kill_cli_at

TODAY = date.today()
WINDOWS = "[backfill]\nwindow_days = 20\nconcurrency = {}\n"


def serve_ledger(fake: FakeSpApi, sim: Simulation, mp: str = "US") -> None:
    """Amazon answers each ledger request with the simulated seller's days in its range."""
    def make(start: datetime, end: datetime, options: dict[str, Any]) -> bytes:
        assert options == {"aggregateByLocation": "COUNTRY", "aggregatedByTimePeriod": "DAILY"}
        return ledger_text(sim, start.date(), end.date()).encode()

    fake.set_document_maker(LEDGER, MARKETPLACE_IDS[mp], make)


def asked(fake: FakeSpApi) -> list[tuple[str, str]]:
    return [(c.json()["dataStartTime"][:10], c.json()["dataEndTime"][:10])
            for c in fake.calls("createReport")]


def ledger_counts(settings: Settings) -> dict[str, int]:
    row = open_store(settings, "acme").query(
        "SELECT count(*) AS rows, count(DISTINCT (snapshot_date, fnsku, disposition)) AS keys, "
        "count(DISTINCT snapshot_date) AS days FROM ledger_summary")[0]
    return {k: int(v) for k, v in row.items()}


@pytest.fixture
def seller() -> Simulation:
    return simulate(TODAY - timedelta(days=60), 60, n_skus=40, story=False)


def test_backfill_asks_for_windows_loads_every_day_and_a_rerun_changes_nothing(
        sp_settings: Callable[..., tuple[Settings, Path]], fake_sp_api: FakeSpApi,
        seller: Simulation) -> None:
    settings, _ = sp_settings(extra=WINDOWS.format(4))
    serve_ledger(fake_sp_api, seller)
    account = settings.account("acme")
    start = TODAY - timedelta(days=60)
    seen: list[str] = []

    run = backfill_sp_api(settings, account, start, TODAY - timedelta(days=1),
                          progress=lambda p: seen.append(p.line()))

    assert asked(fake_sp_api) == [(str(start), str(start + timedelta(days=19))),
                                  (str(start + timedelta(days=20)),
                                   str(start + timedelta(days=39))),
                                  (str(start + timedelta(days=40)), str(TODAY - timedelta(days=1)))]
    assert not run.failed and run.progress.done == 3 and len(seen) == 3
    assert "3/3 windows" in seen[-1]
    counts = ledger_counts(settings)
    assert counts["days"] == 60 and counts["rows"] == counts["keys"] == run.progress.rows
    scored = open_store(settings, account).query(
        "SELECT count(*) AS n, min(date) AS first, max(date) AS last, "
        "bool_and(notes LIKE '%ledger%') AS from_ledger FROM daily_score")[0]
    assert (scored["n"], scored["first"], scored["last"]) == (60, start,
                                                             TODAY - timedelta(days=1))
    assert scored["from_ledger"]
    windows = open_store(settings, account).query("SELECT status, rows FROM backfill_window")
    assert [w["status"] for w in windows] == ["done"] * 3

    again = backfill_sp_api(settings, account, start, TODAY - timedelta(days=1))
    assert len(fake_sp_api.calls("createReport")) == 3  # nothing asked twice
    assert again.progress.total == 0 and ledger_counts(settings) == counts


def test_given_failed_windows_then_the_next_run_asks_only_for_those(
        sp_settings: Callable[..., tuple[Settings, Path]], fake_sp_api: FakeSpApi,
        seller: Simulation) -> None:
    settings, _ = sp_settings(extra=WINDOWS.format(1))
    serve_ledger(fake_sp_api, seller)
    account = settings.account("acme")
    start, end = TODAY - timedelta(days=60), TODAY - timedelta(days=1)

    def amazon_breaks(p: Progress) -> None:  # after the first window, Amazon fails the rest
        fake_sp_api.set_outcome(LEDGER, MARKETPLACE_IDS["US"], "FATAL")

    first = backfill_sp_api(settings, account, start, end, progress=amazon_breaks)
    assert first.progress.done == 1 and len(first.failed) == 2
    assert "FATAL" in first.failed[0][1]
    days_after_first = ledger_counts(settings)["days"]
    assert days_after_first == 20

    fake_sp_api.set_outcome(LEDGER, MARKETPLACE_IDS["US"], "DONE")
    second = backfill_sp_api(settings, account, start, end)
    assert not second.failed and second.progress.done == 2
    assert asked(fake_sp_api)[3:] == asked(fake_sp_api)[1:3]  # the two failed ones, again
    counts = ledger_counts(settings)
    assert counts["days"] == 60 and counts["rows"] == counts["keys"]


def test_given_an_interrupted_run_then_the_next_polls_the_reports_it_asked_for(
        sp_settings: Callable[..., tuple[Settings, Path]], fake_sp_api: FakeSpApi,
        seller: Simulation) -> None:
    """Ctrl-C after the first of two requested windows loaded: the second's report id is
    recorded, so the next run downloads it instead of asking Amazon again."""
    settings, _ = sp_settings(extra=WINDOWS.format(2))
    serve_ledger(fake_sp_api, seller)
    account = settings.account("acme")
    start, end = TODAY - timedelta(days=60), TODAY - timedelta(days=1)

    def interrupt(p: Progress) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backfill_sp_api(settings, account, start, end, progress=interrupt)
    states = open_store(settings, account).query(
        "SELECT status, report_id FROM backfill_window ORDER BY start_date")
    assert [s["status"] for s in states] == ["done", "requested"]

    run = backfill_sp_api(settings, account, start, end)
    assert len(fake_sp_api.calls("createReport")) == 3  # 2 before, only the third now
    assert any(c.path.endswith(states[1]["report_id"]) for c in fake_sp_api.calls("getReport"))
    assert run.progress.done == 2 and not run.failed
    counts = ledger_counts(settings)
    assert counts["days"] == 60 and counts["rows"] == counts["keys"]


def test_the_ledgers_history_limit_is_said_and_respected(
        sp_settings: Callable[..., tuple[Settings, Path]], fake_sp_api: FakeSpApi,
        seller: Simulation) -> None:
    settings, _ = sp_settings(extra="[backfill]\nwindow_days = 30\nledger_history_days = 45\n")
    serve_ledger(fake_sp_api, seller)
    run = backfill_sp_api(settings, settings.account("acme"), TODAY - timedelta(days=700),
                          TODAY + timedelta(days=3))
    earliest = TODAY - timedelta(days=45)
    assert asked(fake_sp_api)[0][0] == str(earliest)
    assert asked(fake_sp_api)[-1][1] == str(TODAY - timedelta(days=1))
    assert any("about 45 days" in n and "--source files" in n for n in run.notes)
    assert any("up to yesterday" in n for n in run.notes)


def test_a_range_the_ledger_cannot_answer_is_a_clear_error() -> None:
    with pytest.raises(UsageError, match="backfill from files instead"):
        ledger_range(date(2020, 1, 1), date(2020, 3, 1), today=date(2026, 11, 27),
                     history_days=540)
    with pytest.raises(UsageError, match="the start 2026-03-01 is after the end 2026-01-01"):
        ledger_range(date(2026, 3, 1), date(2026, 1, 1), today=date(2026, 11, 27),
                     history_days=540)


def test_a_files_account_cannot_backfill_from_amazon(
        make_settings: Callable[..., tuple[Settings, Path]]) -> None:
    settings, _ = make_settings()
    with pytest.raises(ConfigError, match="or backfill from files"):
        backfill_sp_api(settings, settings.account("acme"), TODAY - timedelta(days=10),
                        TODAY - timedelta(days=1))


@pytest.mark.usefixtures("prefect_api")
def test_the_backfill_flow_runs_every_sp_api_account_and_logs_progress(
        sp_settings: Callable[..., tuple[Settings, Path]], fake_sp_api: FakeSpApi,
        seller: Simulation) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    from flows.backfill import backfill

    settings, config = sp_settings({"acme": ["US"], "bolt": ["CA"]}, extra=WINDOWS.format(2))
    serve_ledger(fake_sp_api, seller, "US")
    serve_ledger(fake_sp_api, seller, "CA")
    start, end = TODAY - timedelta(days=40), TODAY - timedelta(days=1)
    run_loggers = [logging.getLogger(f"prefect.{kind}_runs") for kind in ("flow", "task")]
    levels = [lg.level for lg in run_loggers]
    for lg in run_loggers:  # the test session keeps Prefect at WARNING; progress is INFO
        lg.setLevel(logging.INFO)
    try:
        state = backfill(config=str(config), start=start, end=end, return_state=True)
    finally:
        for lg, level in zip(run_loggers, levels, strict=True):
            lg.setLevel(level)
    summary = state.result()
    rows = {r["account"]: r["n"] for r in Fleet(settings).query(
        "SELECT account, count(*) AS n FROM ledger_summary GROUP BY ALL")}
    assert rows["acme"] > 0
    assert summary == {name: {"done": 2, "failed": 0, "rows": rows[name], "rescored": 40,
                              "alerts_for": str(end)} for name in ("acme", "bolt")}
    APILogWorker.drain_all(timeout=10)
    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(
            any_=[state.state_details.flow_run_id])))
    text = "\n".join(entry.message for entry in logs)
    assert "backfill acme: 2/2 windows" in text and "backfill bolt: 2/2 windows" in text
    assert len(fake_sp_api.calls("createReport")) == 4


@pytest.mark.slow
def test_the_cli_backfill_killed_midway_resumes_and_doubles_nothing(
        sp_settings: Callable[..., tuple[Settings, Path]], fake_sp_api: FakeSpApi,
        seller: Simulation) -> None:
    """`kill -9` after 4 of 12 windows: the next run fetches the rest (the report asked
    for at the moment of the kill, at most, once more) and every day is there once."""
    settings, config = sp_settings(extra="[backfill]\nwindow_days = 5\nconcurrency = 1\n")
    serve_ledger(fake_sp_api, seller)
    fake_sp_api.generation_seconds = 0.3
    start, end = TODAY - timedelta(days=60), TODAY - timedelta(days=1)
    kill_cli_at(["backfill", "--config", str(config), "--start", str(start), "--end", str(end)],
                "acme: 4/12 windows")
    assert ledger_counts(settings)["days"] == 20

    assert main(["backfill", "--config", str(config), "--start", str(start),
                 "--end", str(end)]) == 0
    assert 12 <= len(fake_sp_api.calls("createReport")) <= 13
    counts = ledger_counts(settings)
    assert counts["days"] == 60 and counts["rows"] == counts["keys"]
    assert open_store(settings, "acme").query("SELECT count(*) AS n FROM daily_score")[0]["n"] == 60
