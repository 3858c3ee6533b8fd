"""The daily Prefect flow, really run, over file drops: ingest -> score -> alert."""

from __future__ import annotations

import base64
import json
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flows.daily import daily
from ipi import pipeline
from ipi.demo import Simulation, write_day
from ipi.errors import IngestFailed, ServerUnavailable
from ipi.settings import Settings, settings_from_dict
from ipi.sources.files import FAILED, PROCESSED, FileDrops
from tests.helpers import FAR_APART, FAR_APART_ACCOUNTS, Proxy, Webhook, built_once, serve_proxy

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory, demo_sim: Simulation) -> Path:
    """A data folder holding the demo seller's first 70 days, loaded and scored once per
    run (every xdist worker's the same): copied by ``drops``."""

    def build(root: Path) -> Path:
        archive = root / "archive"
        for i in range(70):
            write_day(demo_sim, i, archive)
        settings = settings_from_dict({"accounts": [{"name": "acme"}]}, base_dir=root, env={})
        account = settings.accounts[0]
        run = pipeline.ingest(pipeline.open_store(settings, account), account,
                              FileDrops(archive, move_done=False), demo_sim.day(0))
        pipeline.score(settings, account, demo_sim.day(0), run.days)
        return settings.data_dir

    return built_once(tmp_path_factory, "history", build)


@pytest.fixture
def drops(make_settings: Callable[..., tuple[Settings, Path]], webhook_server: Webhook,
          history: Path) -> tuple[Settings, Path, Path]:
    """Account acme, alerting to the webhook, with 70 days of history already loaded."""
    settings, config = make_settings(urls=[webhook_server.url],
                                     extra="[policy]\nrepeat_days = 30\n")
    shutil.copytree(history, settings.data_dir)
    return settings, config, settings.drop_dir(settings.accounts[0])


def test_given_todays_drops_when_flow_runs_then_reports_load_and_day_is_scored(
        drops: tuple[Settings, Path, Path], demo_sim: Simulation) -> None:
    """The flow loads the day's three reports, moves them to processed/ and scores the day."""
    settings, config, drop = drops
    day = demo_sim.day(70)
    write_day(demo_sim, 70, drop)
    summary = daily(config=str(config), day=day)
    assert summary["acme"]["loaded"] == 3 and summary["acme"]["failed"] == 0
    assert sorted(p.name for p in (drop / PROCESSED).iterdir()) == sorted(
        p.name for p in write_day(demo_sim, 70, config.parent / "again"))
    rows = pipeline.open_store(settings, settings.accounts[0]).query(
        "SELECT score, status FROM daily_score WHERE date = $day", {"day": day})
    assert len(rows) == 1 and rows[0]["score"] is not None


@pytest.mark.slow
def test_given_story_when_flow_runs_daily_then_one_alert_fires_and_one_resolves(
        drops: tuple[Settings, Path, Path], demo_sim: Simulation,
        webhook_server: Webhook) -> None:
    """Day by day through the demo story: one page when the estimate falls under 450, one
    resolved notice when it recovers, none on the days between or on a rerun."""
    settings, config, drop = drops
    for i in range(70, 100):
        write_day(demo_sim, i, drop)
        daily(config=str(config), day=demo_sim.day(i))
    daily(config=str(config), day=demo_sim.day(99))  # a rerun of the last day
    states = [a["state"] for m in webhook_server.received for a in m.get("alerts", [])
              if a["rule"] == "below_threshold"]
    assert states[0] == "firing" and states[-1] == "resolved"
    assert states.count("firing") == states.count("resolved") == 1
    assert set(states[1:-1]) <= {"repeat"}  # only when it got materially worse
    # The bad purchase lands while the critical alert fires: its warning is recorded and
    # named in the run line, not paged on top of the critical one.
    jumps = pipeline.open_store(settings, settings.accounts[0]).query(
        "SELECT note FROM alert_event WHERE rule = 'excess_jump' AND to_state = 'firing'")
    assert jumps == [{"note": "muted: inhibited by the critical alert"}]
    scores = [r["score"] for r in pipeline.open_store(settings, settings.accounts[0]).query(
        "SELECT score FROM daily_score WHERE date >= $day ORDER BY date",
        {"day": demo_sim.day(70)})]
    assert min(scores) < 450 < scores[-1]
    firing = next(m for m in webhook_server.received if m["title"].startswith("[CRITICAL]"))
    assert "Fix first" in firing["message"]
    # The fewest actions back to the recovery threshold, each with the estimate after it.
    plan = firing["message"].split("Recovery plan to 470, fewest units moved first:\n")[1]
    # (first, where the long-term factors hold the estimate, a line saying so)
    assert re.match(r"(  \(today's factors alone read \d+; [^\n]*\)\n)?"
                    r"  1\. (fix the stranded listing of|remove [\d,]+ units of|restock) "
                    r"DEMO-\d+ -> \d+\n", plan)


def test_given_a_bad_file_then_it_is_set_aside_the_rest_loads_and_the_flow_fails(
        drops: tuple[Settings, Path, Path], demo_sim: Simulation,
        webhook_server: Webhook) -> None:
    """A broken drop is moved to failed/ with its reason; the good ones load; ops is told
    once; the run fails naming the file."""
    settings, config, drop = drops
    write_day(demo_sim, 70, drop)
    (drop / "broken.txt").write_text("sku\tfnsku\nonly\tjunk\n")
    with pytest.raises(IngestFailed) as err:
        daily(config=str(config), day=demo_sim.day(70))
    assert "broken.txt" in str(err.value) and "matches no report type" in str(err.value)
    assert (drop / FAILED / "broken.txt").exists()
    reason = (drop / FAILED / "broken.txt.reason.txt").read_text()
    assert "matches no report type" in reason
    assert len(list((drop / PROCESSED).iterdir())) == 3
    day = pipeline.open_store(settings, settings.accounts[0]).query(
        "SELECT count(*) AS n FROM daily_score WHERE date = $day", {"day": demo_sim.day(70)})
    assert day == [{"n": 1}]
    ops = [m for m in webhook_server.received if m["message"].startswith("[OPS]")]
    assert len(ops) == 1 and "FAILED broken.txt: " in ops[0]["message"]


def test_each_run_publishes_the_estimates_and_a_summary_as_artifacts(
        drops: tuple[Settings, Path, Path], demo_sim: Simulation) -> None:
    import json

    from prefect.artifacts import Artifact

    settings, config, drop = drops
    day = demo_sim.day(70)
    write_day(demo_sim, 70, drop)
    state = daily(config=str(config), day=day, return_state=True)
    run_id = state.state_details.flow_run_id
    table = Artifact.get("ipi-daily-scores")
    summary = Artifact.get("ipi-daily-summary")
    assert table is not None and summary is not None
    assert table.flow_run_id == run_id and summary.flow_run_id == run_id
    [row] = json.loads(str(table.data))
    stored = pipeline.open_store(settings, settings.accounts[0]).query(
        "SELECT score, status FROM daily_score WHERE date = $day", {"day": day})[0]
    assert (row["account"], row["marketplace"]) == ("acme", "US")
    assert (row["score"], row["status"]) == (stored["score"], stored["status"])
    assert f"IPI daily run, {day}" in str(summary.data)
    assert "| acme | 3 | 0 |" in str(summary.data)
    # Capacity use per storage type: the demo's SKUs in stock are 0.05 cu ft a unit,
    # stored (storage-volume, to the cent) plus inbound.
    t = demo_sim.warmup + 70
    listed = demo_sim.fulfillable[t] > 0
    used = float(sum(round(0.05 * a, 2) for a in demo_sim.fulfillable[t][listed])
                 + 0.05 * demo_sim.inbound[t][listed].sum())
    [standard] = json.loads(str(Artifact.get("ipi-daily-capacity").data))  # type: ignore[union-attr]
    assert (standard["account"], standard["storage_type"], standard["status"]) == (
        "acme", "standard", "no limit")
    assert standard["used_cuft"] == pytest.approx(used)
    # The account's report: the page written under the data folder, its words an artifact.
    page = settings.data_dir / "reports" / "ipi-report-acme.html"
    assert f"<span class=big>{stored['score']:.0f}</span>" in page.read_text()
    report = Artifact.get("ipi-report-acme")
    assert report is not None and report.flow_run_id == run_id
    assert f"**{stored['score']:.0f}**" in str(report.data) and str(page) in str(report.data)
    # Its charts travel inside it, as images the Prefect UI draws: SVG, back from the API.
    charts = [ET.fromstring(base64.b64decode(m)) for m in re.findall(
        r"!\[[^]]+\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", str(report.data))]
    assert [c.get("viewBox") for c in charts] == ["0 0 825 352", "0 0 825 462"]


def test_what_the_library_did_reaches_the_run_log(
        drops: tuple[Settings, Path, Path], demo_sim: Simulation) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    _, config, drop = drops
    write_day(demo_sim, 70, drop)
    state = daily(config=str(config), day=demo_sim.day(70), return_state=True)
    APILogWorker.drain_all(timeout=10)
    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(
            any_=[state.state_details.flow_run_id])))
    loaded = [entry for entry in logs if entry.name == "ipi.store.load"]
    assert len(loaded) == 3 and all(entry.level == 20 for entry in loaded)


HOLD = """
import sys, time
from pathlib import Path
from ipi.locks import account_lock
with account_lock(Path(sys.argv[1]), "acme", wait=0, what="the daily run for 2026-08-09"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_second_run_for_the_same_account_waits_then_stops_sending_nothing(
        drops: tuple[Settings, Path, Path], demo_sim: Simulation,
        webhook_server: Webhook) -> None:
    """Another process runs acme's day (it holds the lock): this run waits a second,
    stops with a message naming it, loads and sends nothing and does not fail. Once the
    holder is gone, even killed, the next run goes ahead."""
    import signal
    import subprocess
    import sys

    settings, config, drop = drops
    config.write_text(config.read_text().replace("[store]\n", "[store]\nrun_lock_wait = 1\n"))
    write_day(demo_sim, 70, drop)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(settings.data_dir)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        summary = daily(config=str(config), day=demo_sim.day(70))
        overlap = str(summary["acme"]["overlap"])
        assert f"the daily run for 2026-08-09 (pid {holder.pid}" in overlap
        assert "stops without loading or sending anything" in overlap
        assert not (drop / PROCESSED).exists() and webhook_server.received == []
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The account's Prefect slot is taken through the API, which a loaded machine (the
    # suite's other worker) can slow past 1 s: the next run gets the default wait.
    config.write_text(config.read_text().replace("run_lock_wait = 1\n", ""))
    summary = daily(config=str(config), day=demo_sim.day(70))
    assert summary["acme"]["loaded"] == 3


def test_a_run_on_another_worker_holds_the_accounts_prefect_slot_so_this_one_stops(
        drops: tuple[Settings, Path, Path], demo_sim: Simulation,
        webhook_server: Webhook) -> None:
    """Workers on other machines share no file lock, only the Prefect server: a run there
    holds acme's global concurrency slot. This run waits a second, stops naming the
    limit, sends nothing; once the slot is free the next run goes ahead."""
    from prefect.concurrency.sync import concurrency

    from flows.limits import account_slot, limit_name

    settings, config, drop = drops
    config.write_text(config.read_text().replace("[store]\n", "[store]\nrun_lock_wait = 1\n"))
    write_day(demo_sim, 70, drop)
    acme = settings.accounts[0]
    with account_slot(settings, acme, "a run elsewhere"):  # creates the limit, holds it
        summary = daily(config=str(config), day=demo_sim.day(70))
    overlap = str(summary["acme"]["overlap"])
    assert repr(limit_name(acme)) in overlap and "waited 1s" in overlap
    assert not (drop / PROCESSED).exists() and webhook_server.received == []
    with concurrency(limit_name(acme), occupy=1, timeout_seconds=5, strict=True):
        pass  # the slot was given back
    # Prefect releases a lease in the background and a retry waits for the server's
    # Retry-After: the next run gets the default wait, not 1 s.
    config.write_text(config.read_text().replace("run_lock_wait = 1\n", ""))
    summary = daily(config=str(config), day=demo_sim.day(70))
    assert summary["acme"]["loaded"] == 3


@pytest.fixture
def busy_api() -> Iterator[Proxy]:
    """The session's Prefect API behind a proxy that can answer for it (as a busy one)."""
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    api = str(get_current_settings().api.url)
    for proxy in serve_proxy(api[:api.index("/api")]):
        with temporary_settings({PREFECT_API_URL: proxy.api}):
            yield proxy


INCREMENT = ("POST", "/api/v2/concurrency_limits/increment-with-lease")
CREATE = ("POST", "/api/v2/concurrency_limits/")
RELEASE = ("POST", "/api/v2/concurrency_limits/decrement-with-lease")
# Each test names its own account: Prefect keeps a slot service per limit and process,
# bound to the API of its first use, and a slot left held would hold up other tests.


def test_a_free_slot_the_server_is_too_busy_to_grant_in_time_is_asked_again_not_an_overlap(
        make_settings: Callable[..., tuple[Settings, Path]], busy_api: Proxy,
        caplog: pytest.LogCaptureFixture) -> None:
    """A Prefect server whose database is locked answers 503 and its client backs off past
    the wait (CI saw two of twenty accounts stop as "another run holds" a slot nobody
    held). The slot reads free, so the run asks again, holds it, and gives it back."""
    from prefect.client.orchestration import get_client
    from prefect.concurrency.sync import concurrency

    from flows.limits import account_slot, limit_name

    settings, _ = make_settings(accounts='[[accounts]]\nname = "busy-once"\n')
    # The 503's Retry-After (10 s) outlasts the wait; the second ask has the wait's time.
    settings = settings.model_copy(update={"run_lock_wait": 5.0})
    account = settings.accounts[0]
    busy_api.route, busy_api.refuse = INCREMENT, 1
    with get_client(sync_client=True) as client:
        with account_slot(settings, account, "the daily run"):
            held = client.read_global_concurrency_limit_by_name(limit_name(account))
        assert busy_api.refused == 1 and held.active_slots == 1
        assert any("did not grant it within 5s; asking again (1 of 3)" in r.getMessage()
                   for r in caplog.records)
        with concurrency(limit_name(account), occupy=1, timeout_seconds=30, strict=True):
            pass  # given back


def test_a_server_that_keeps_failing_the_slot_stops_the_account_in_one_line(
        make_settings: Callable[..., tuple[Settings, Path]], busy_api: Proxy) -> None:
    """Every request for the slot answered 500: after three asks the account's day stops
    with ServerUnavailable, its line naming the account and the status, not another run,
    and quoting nothing the server said."""
    from flows.limits import ATTEMPTS, account_slot

    settings, _ = make_settings(accounts='[[accounts]]\nname = "busy-always"\n')
    busy_api.route, busy_api.status, busy_api.refuse = CREATE, 500, 99
    with pytest.raises(ServerUnavailable) as err, \
            account_slot(settings, settings.accounts[0], "the daily run"):
        pytest.fail("the slot was not held")
    line = str(err.value)
    assert busy_api.refused == ATTEMPTS and "\n" not in line
    assert line.startswith("account busy-always: the Prefect server failed the request for "
                           "its slot 'ipi-account-busy-always' (HTTP 500), 3 times")
    assert "another run" not in line and "next run tries again" in line


def test_a_slot_the_server_fails_to_take_back_does_not_fail_the_work_done_under_it(
        make_settings: Callable[..., tuple[Settings, Path]], busy_api: Proxy,
        caplog: pytest.LogCaptureFixture) -> None:
    """The account's day ran; giving its slot back answered 500. The day stands (no
    error), the log says the slot comes back with its lease; an error of the work itself
    is never hidden by the release's."""
    from flows.limits import account_slot

    settings, _ = make_settings(accounts='[[accounts]]\nname = "kept-slot"\n'
                                '[[accounts]]\nname = "kept-slot-too"\n')
    busy_api.route, busy_api.status, busy_api.refuse = RELEASE, 500, 2
    with account_slot(settings, settings.accounts[0], "the daily run"):
        pass
    with pytest.raises(KeyError), account_slot(settings, settings.accounts[1], "a run"):
        raise KeyError("the work's own error")
    warned = [r.getMessage() for r in caplog.records if "did not take back" in r.getMessage()]
    assert busy_api.refused == 2 and len(warned) == 2
    assert "(HTTP 500); it comes back when its lease runs out, within 5 minutes" in warned[0]


def test_a_day_the_server_cannot_give_its_slot_fails_and_tells_ops_loading_nothing(
        make_settings: Callable[..., tuple[Settings, Path]], demo_sim: Simulation,
        webhook_server: Webhook, busy_api: Proxy) -> None:
    """Through the daily run: the account's day is a failure (not an overlap, which would
    be silent), ops hear the one line, and nothing is loaded or moved."""
    settings, config = make_settings(urls=[webhook_server.url],
                                     accounts='[[accounts]]\nname = "no-slot"\n')
    drop = settings.drop_dir(settings.accounts[0])
    write_day(demo_sim, 70, drop)
    busy_api.route, busy_api.status, busy_api.refuse = CREATE, 500, 99
    with pytest.raises(IngestFailed) as err:
        daily(config=str(config), day=demo_sim.day(70))
    assert err.value.runs is not None
    assert "the Prefect server failed the request" in str(err.value.runs["no-slot"].error)
    ops = [m for m in webhook_server.received if "[OPS]" in json.dumps(m)]
    assert len(ops) == 1 and "(HTTP 500), 3 times" in json.dumps(ops[0])
    assert not (drop / PROCESSED).exists() and len(list(drop.iterdir())) == 3


def test_without_a_day_each_account_runs_for_its_own_today_in_its_time_zone(
        make_settings: Callable[..., tuple[Settings, Path]]) -> None:
    """UTC+14 and UTC-11 are 25 hours apart: their dates always differ. A run scheduled at
    07:30 in one of them is for that zone's date, not the machine's."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from prefect.artifacts import Artifact

    _, config = make_settings(accounts=FAR_APART_ACCOUNTS)
    daily(config=str(config))
    days = [datetime.now(ZoneInfo(tz)).date() for tz in FAR_APART.values()]
    assert days[0] != days[1]
    summary = Artifact.get("ipi-daily-summary")
    assert summary is not None and f"IPI daily run, {days[1]}, {days[0]}" in str(summary.data)
