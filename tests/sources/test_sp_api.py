"""The SP-API source against a fake Amazon: outcomes and the traffic that produced them."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest

from ipi import pipeline
from ipi.demo import Simulation
from ipi.errors import ConfigError
from ipi.settings import Settings
from ipi.testing import MARKETPLACE_IDS, MYI, PLANNING, STRANDED, FakeSpApi, serve_day
from tests.helpers import Webhook

Make = Callable[..., tuple[Settings, Path]]
ALL = (PLANNING, STRANDED, MYI)


def run(settings: Settings, sim: Simulation, i: int) -> pipeline.IngestRun:
    account = settings.accounts[0]
    ing = pipeline.ingest_account(settings, account, sim.day(i))
    pipeline.score(settings, account, sim.day(i), ing.days)
    return ing


def created(fake: FakeSpApi) -> list[tuple[str, str]]:
    out = []
    for r in fake.calls("createReport"):
        if r.status == 202:
            body = r.json()
            out.append((body["reportType"], body["marketplaceIds"][0]))
    return sorted(out)


def test_given_three_marketplaces_then_each_report_is_requested_once_and_loaded(
        sp_settings: Make, fake_sp_api: FakeSpApi, demo_sim: Simulation,
        tmp_path: Path) -> None:
    """Three report types x three marketplaces: nine createReports, nine loads, three scores,
    and the report id behind every load recorded."""
    settings, _ = sp_settings({"acme": ["US", "CA", "MX"]})
    serve_day(fake_sp_api, demo_sim, 10, tmp_path, ["US", "CA", "MX"])
    ing = run(settings, demo_sim, 10)
    assert ing.failed == [] and len(ing.loaded) == 9
    assert created(fake_sp_api) == sorted((rt, MARKETPLACE_IDS[mp]) for rt in ALL
                                          for mp in ("US", "CA", "MX"))
    # One look for reusable reports per region: getReports allows one call per 45 s.
    assert len(fake_sp_api.calls("getReports")) == 1
    store = pipeline.open_store(settings, "acme")
    fed = store.query("SELECT i.source, i.report_type, p.marketplace FROM ingested_file i "
                      "JOIN report_partition p ON p.sha256 = i.sha256 "
                      "AND p.marketplace = i.default_marketplace")
    assert len(fed) == 9
    for row in fed:
        report = fake_sp_api.report(row["source"].removeprefix("sp-api:"))
        assert report["reportType"] == row["report_type"]
        assert report["marketplaceIds"] == [MARKETPLACE_IDS[row["marketplace"]]]
    rows = store.query("SELECT marketplace, status FROM daily_score ORDER BY marketplace")
    assert [r["marketplace"] for r in rows] == ["CA", "MX", "US"]
    assert not any(p.is_file() for p in settings.spool_dir.rglob("*"))  # spool cleaned


def test_given_report_in_regeneration_window_then_it_is_reused_not_requested(
        sp_settings: Make, fake_sp_api: FakeSpApi, demo_sim: Simulation,
        tmp_path: Path) -> None:
    """A DONE planning report from an hour ago is reused: asking again would come back FATAL."""
    settings, _ = sp_settings()
    fake_sp_api.regeneration_window_seconds = {PLANNING: 4 * 3600}
    serve_day(fake_sp_api, demo_sim, 10, tmp_path, ["US"])
    existing = fake_sp_api.add_existing_report(
        PLANNING, MARKETPLACE_IDS["US"], created_ago_seconds=3600,
        content=(tmp_path / "10" / "50000000010.txt").read_bytes())
    ing = run(settings, demo_sim, 10)
    assert ing.failed == [] and len(ing.loaded) == 3
    assert PLANNING not in [rt for rt, _ in created(fake_sp_api)]
    sources = pipeline.open_store(settings, "acme").query(
        "SELECT source FROM ingested_file WHERE report_type = $report_type",
        {"report_type": PLANNING})
    assert sources == [{"source": f"sp-api:{existing}"}]


def test_given_slow_generation_then_reports_are_polled_together(
        sp_settings: Make, fake_sp_api: FakeSpApi, demo_sim: Simulation,
        tmp_path: Path) -> None:
    """Nine slow reports are all requested before the first status check, then polled in
    rounds, so none waits for another (bench/concurrency.py measures the time)."""
    settings, _ = sp_settings({"acme": ["US", "CA", "MX"]})
    fake_sp_api.generation_seconds = 0.5
    fake_sp_api.rate_limit_header = "50"  # this fake allows fast polling
    serve_day(fake_sp_api, demo_sim, 10, tmp_path, ["US", "CA", "MX"])
    source = pipeline.source_for(settings, settings.accounts[0])
    fetched = list(source.fetch(settings.accounts[0], demo_sim.day(10)))
    assert len(fetched) == 9 and source.problems == []
    creates = [r.at for r in fake_sp_api.calls("createReport")]
    polls = fake_sp_api.calls("getReport")
    assert max(creates) < min(r.at for r in polls)  # all up front
    first_done = min(r.at for r in fake_sp_api.calls("getReportDocument"))
    assert first_done >= min(creates) + 0.5  # the fake really made them wait


@pytest.mark.parametrize("with_errors_body", [True, False])
def test_given_429_bursts_then_requests_are_retried_and_all_load(
        sp_settings: Make, fake_sp_api: FakeSpApi, demo_sim: Simulation, tmp_path: Path,
        with_errors_body: bool) -> None:
    """429s, with or without Amazon's errors body, are retried at the HTTP boundary."""
    settings, _ = sp_settings()
    serve_day(fake_sp_api, demo_sim, 10, tmp_path, ["US"])
    for op in ("createReport", "getReport", "getReportDocument", "getReports"):
        fake_sp_api.throttle(op, 2, with_errors_body=with_errors_body)
    ing = run(settings, demo_sim, 10)
    assert ing.failed == [] and len(ing.loaded) == 3
    assert len(created(fake_sp_api)) == 3  # one accepted createReport per report
    assert sum(r.status == 429 for r in fake_sp_api.calls("createReport")) == 2


@pytest.mark.parametrize("op", ["token", "getReports", "createReport", "getReport",
                                "getReportDocument", "download"])
def test_given_5xx_at_a_step_then_it_is_retried(
        sp_settings: Make, fake_sp_api: FakeSpApi, demo_sim: Simulation, tmp_path: Path,
        op: str) -> None:
    """A 500 or 503 at any step is retried; the run loads everything."""
    settings, _ = sp_settings()
    serve_day(fake_sp_api, demo_sim, 10, tmp_path, ["US"])
    fake_sp_api.fail(op, 1, 500)
    fake_sp_api.fail(op, 1, 503)
    ing = run(settings, demo_sim, 10)
    assert ing.failed == [] and len(ing.loaded) == 3
    assert [r.status for r in fake_sp_api.calls(op)][:2] == [500, 503]


def test_given_persistent_5xx_then_that_report_fails_and_the_rest_load(
        sp_settings: Make, fake_sp_api: FakeSpApi, demo_sim: Simulation,
        tmp_path: Path) -> None:
    """When retries run out the report fails with the reason; nothing retries forever."""
    settings, _ = sp_settings(extra_sp="retries = 2")
    serve_day(fake_sp_api, demo_sim, 10, tmp_path, ["US"])
    fake_sp_api.fail("createReport", 3, 503, with_errors_body=False)
    ing = run(settings, demo_sim, 10)
    assert len(ing.loaded) == 2 and len(ing.failed) == 1
    assert "503" in ing.failed[0][1] and "could not request" in ing.failed[0][1]
    assert len(fake_sp_api.calls("createReport")) == 3 + 2


def test_given_fatal_with_failure_document_then_it_fails_clearly_and_others_load(
        sp_settings: Make, fake_sp_api: FakeSpApi, demo_sim: Simulation,
        tmp_path: Path, webhook_server: Webhook) -> None:
    """FATAL fails that report, quoting Amazon's failure document; CA still loads; ops
    hears about it once."""
    settings, _ = sp_settings({"acme": ["US", "CA"]}, urls=[webhook_server.url])
    serve_day(fake_sp_api, demo_sim, 10, tmp_path, ["US", "CA"])
    fake_sp_api.set_outcome(STRANDED, MARKETPLACE_IDS["US"], "FATAL",
                            failure_document=b"Report generation failed: seller suspended")
    ing = run(settings, demo_sim, 10)
    assert len(ing.loaded) == 5
    [(name, reason)] = ing.failed
    assert name == f"US {STRANDED}" and "FATAL" in reason and "seller suspended" in reason
    pipeline.alert(settings, settings.accounts[0], demo_sim.day(10), ing)
    pipeline.alert(settings, settings.accounts[0], demo_sim.day(10), ing)  # a rerun
    ops = [m for m in webhook_server.received if m["message"].startswith("[OPS]")]
    assert len(ops) == 1 and "seller suspended" in ops[0]["message"]


def test_given_cancelled_then_no_data_for_that_factor_never_a_false_ok(
        sp_settings: Make, fake_sp_api: FakeSpApi, demo_sim: Simulation,
        tmp_path: Path) -> None:
    """CANCELLED is a warning; the day's estimate says stranded has no data."""
    settings, _ = sp_settings()
    serve_day(fake_sp_api, demo_sim, 10, tmp_path, ["US"])
    fake_sp_api.set_outcome(STRANDED, MARKETPLACE_IDS["US"], "CANCELLED")
    ing = run(settings, demo_sim, 10)
    assert ing.failed == [] and [n for n, _ in ing.warnings] == [f"US {STRANDED}"]
    [row] = pipeline.open_store(settings, "acme").query("SELECT status, notes FROM daily_score")
    assert row["status"] == "partial" and "no data for stranded" in row["notes"]


def test_given_expired_document_url_then_a_fresh_one_is_fetched(
        sp_settings: Make, fake_sp_api: FakeSpApi, demo_sim: Simulation,
        tmp_path: Path) -> None:
    """A 403 'Request has expired' on the download asks getReportDocument again."""
    settings, _ = sp_settings()
    serve_day(fake_sp_api, demo_sim, 10, tmp_path, ["US"])
    fake_sp_api.expire_next_downloads = 1
    ing = run(settings, demo_sim, 10)
    assert ing.failed == [] and len(ing.loaded) == 3
    assert len(fake_sp_api.calls("getReportDocument")) == 4
    assert [r.status for r in fake_sp_api.calls("download")].count(403) == 1


def test_given_refresh_token_refused_then_configuration_error_without_retrying(
        sp_settings: Make, fake_sp_api: FakeSpApi, demo_sim: Simulation,
        tmp_path: Path) -> None:
    """invalid_grant names the account and the variable to fix, asks once, shows no secret."""
    settings, _ = sp_settings()
    fake_sp_api.token_error = "invalid_grant"
    with pytest.raises(ConfigError) as err:
        run(settings, demo_sim, 10)
    msg = str(err.value)
    assert "account acme" in msg and "IPI_ACME_REFRESH_TOKEN" in msg
    assert "KNOWN-FAKE" not in msg and "test-client-secret" not in msg
    assert len(fake_sp_api.calls("token")) == 1
    assert fake_sp_api.calls("createReport") == []


@pytest.mark.parametrize("op", ["getReports", "createReport", "getReport"])
@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("with_errors_body", [True, False])
def test_given_401_or_403_then_configuration_error_naming_the_roles(
        sp_settings: Make, fake_sp_api: FakeSpApi, demo_sim: Simulation, tmp_path: Path,
        op: str, status: int, with_errors_body: bool) -> None:
    """A refusal, with or without Amazon's errors body, is not retried: it names the
    account and the roles the app needs."""
    settings, _ = sp_settings()
    serve_day(fake_sp_api, demo_sim, 10, tmp_path, ["US"])
    fake_sp_api.fail(op, 1, status, with_errors_body=with_errors_body)
    with pytest.raises(ConfigError, match="Inventory and Order Tracking") as err:
        run(settings, demo_sim, 10)
    assert "account acme" in str(err.value) and f"({status})" in str(err.value)
    assert [r.status for r in fake_sp_api.calls(op)].count(status) == 1


@pytest.mark.parametrize("charset", [None, "ISO-8859-1", "windows-1252"])
def test_given_cp1252_document_then_names_are_read_right(
        sp_settings: Make, fake_sp_api: FakeSpApi, demo_sim: Simulation, tmp_path: Path,
        charset: str | None) -> None:
    """cp1252 text with no charset, or declared as ISO-8859-1, keeps its accents."""
    settings, _ = sp_settings()
    serve_day(fake_sp_api, demo_sim, 10, tmp_path, ["US"], myi_charset=charset)
    ing = run(settings, demo_sim, 10)
    assert ing.failed == []
    names = {r["product_name"] for r in pipeline.open_store(settings, "acme").query(
        "SELECT product_name FROM fba_myi_inventory")}
    assert any("Crème" in n for n in names) and any("Café" in n for n in names)


def test_documents_are_kept_as_amazon_served_them(
        sp_settings: Make, fake_sp_api: FakeSpApi, demo_sim: Simulation,
        tmp_path: Path) -> None:
    """The landing zone holds the gzip bytes as downloaded; they unzip to the report."""
    settings, _ = sp_settings()
    serve_day(fake_sp_api, demo_sim, 10, tmp_path, ["US"])
    run(settings, demo_sim, 10)
    store = pipeline.open_store(settings, "acme")
    [raw] = store.query("SELECT r.landing_path FROM raw_file r JOIN ingested_file i "
                        "USING (sha256) WHERE i.report_type = $report_type",
                        {"report_type": STRANDED})
    kept = (settings.data_dir / raw["landing_path"]).read_bytes()
    assert kept[:2] == b"\x1f\x8b"
    assert gzip.decompress(kept) == (tmp_path / "10" / f"stranded-{demo_sim.day(10):%Y%m%d}.tsv"
                                     ).read_bytes()


def test_given_reports_never_finish_then_the_deadline_fails_them(
        sp_settings: Make, fake_sp_api: FakeSpApi, demo_sim: Simulation,
        tmp_path: Path) -> None:
    """Past sp_api.poll_deadline, each pending report fails, saying so."""
    settings, _ = sp_settings(extra_sp="poll_deadline = 0.3")
    fake_sp_api.generation_seconds = 30
    ing = run(settings, demo_sim, 10)
    assert ing.loaded == [] and len(ing.failed) == 3
    assert all("poll_deadline" in why for _, why in ing.failed)


def test_missing_credentials_name_the_variable(
        sp_settings: Make, monkeypatch: pytest.MonkeyPatch, demo_sim: Simulation) -> None:
    """Without a refresh token the error says which variable to set, before any request."""
    settings, _ = sp_settings()
    monkeypatch.delenv("IPI_ACME_REFRESH_TOKEN")
    with pytest.raises(ConfigError, match="IPI_ACME_REFRESH_TOKEN"):
        run(settings, demo_sim, 10)


def _collapsed(planning: bytes, keep: int) -> bytes:
    lines = planning.splitlines(keepends=True)
    return b"".join(lines[: keep + 1])


def test_given_collapsed_planning_report_when_asked_again_it_is_whole_then_day_is_fine(
        sp_settings: Make, fake_sp_api: FakeSpApi, demo_sim: Simulation,
        tmp_path: Path) -> None:
    """A planning report with a fraction of the usual rows is asked for again once; the
    whole one replaces it and the day is scored normally."""
    settings, _ = sp_settings(extra_sp="row_retry_after = 0")
    serve_day(fake_sp_api, demo_sim, 10, tmp_path, ["US"])
    run(settings, demo_sim, 10)
    fake_sp_api.age_reports(24 * 3600)
    serve_day(fake_sp_api, demo_sim, 11, tmp_path, ["US"])
    whole = (tmp_path / "11" / "50000000011.txt").read_bytes()
    fake_sp_api.queue_documents(PLANNING, MARKETPLACE_IDS["US"], [_collapsed(whole, 5), whole])
    ing = run(settings, demo_sim, 11)
    assert ing.failed == [] and ing.warnings == []
    assert [rt for rt, _ in created(fake_sp_api)].count(PLANNING) == 3  # day 10, 11, again
    store = pipeline.open_store(settings, "acme")
    [part] = store.query("SELECT rows, unreliable FROM report_partition "
                         "WHERE report_type = $report_type AND snapshot_date = $day",
                         {"report_type": PLANNING, "day": demo_sim.day(11)})
    assert part == {"rows": whole.count(b"\n") - 1, "unreliable": None}
    [row] = store.query("SELECT status FROM daily_score WHERE date = $day",
                        {"day": demo_sim.day(11)})
    assert row["status"] in ("ok", "approximate")


def test_given_planning_report_stays_collapsed_then_day_is_unreliable_and_ops_is_told(
        sp_settings: Make, fake_sp_api: FakeSpApi, demo_sim: Simulation, tmp_path: Path,
        webhook_server: Webhook) -> None:
    """Still low after asking again: the rows load, the day's estimate is marked
    unreliable, the threshold alert stays quiet and an ops message goes out instead."""
    settings, _ = sp_settings(extra_sp="row_retry_after = 0", urls=[webhook_server.url])
    serve_day(fake_sp_api, demo_sim, 10, tmp_path, ["US"])
    run(settings, demo_sim, 10)
    fake_sp_api.age_reports(24 * 3600)
    serve_day(fake_sp_api, demo_sim, 11, tmp_path, ["US"])
    whole = (tmp_path / "11" / "50000000011.txt").read_bytes()
    low = _collapsed(whole, 4)
    fake_sp_api.queue_documents(PLANNING, MARKETPLACE_IDS["US"], [low, low])
    ing = run(settings, demo_sim, 11)
    assert ing.failed == [] and len(ing.warnings) == 1
    assert "4 rows, the last good one" in ing.warnings[0][1]
    store = pipeline.open_store(settings, "acme")
    [row] = store.query("SELECT status, notes, score FROM daily_score WHERE date = $day",
                        {"day": demo_sim.day(11)})
    assert row["status"] == "unreliable" and "4 rows" in row["notes"]
    alert = pipeline.alert(settings, settings.accounts[0], demo_sim.day(11))
    assert alert.notices == []
    assert [m["title"] for m in webhook_server.received] == [
        f"[OPS] IPI acme US: the estimate for {demo_sim.day(11)} is unreliable"]
    pipeline.alert(settings, settings.accounts[0], demo_sim.day(11))  # a rerun: not again
    assert len(webhook_server.received) == 1


@pytest.mark.parametrize("command", [["check"], ["run"]])
def test_given_refresh_token_refused_then_each_command_says_so_in_one_line(
        sp_settings: Make, fake_sp_api: FakeSpApi, demo_sim: Simulation, tmp_path: Path,
        prefect_api: None, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    """`ipi check` and `ipi run` with a refused token: exit 1 (the account failed, listed),
    the line names the account and the variable to fix, no traceback, no secret."""
    from flows.cli import main

    _, config = sp_settings()
    serve_day(fake_sp_api, demo_sim, 10, tmp_path, ["US"])
    fake_sp_api.token_error = "invalid_grant"
    args = [*command, "--config", str(config)]
    assert main(args + (["--date", str(demo_sim.day(10))] if command == ["run"] else [])) == 1
    out, err = capsys.readouterr()
    assert "Amazon refused the LWA credentials" in out + err
    assert "IPI_ACME_REFRESH_TOKEN" in out + err
    assert "Traceback" not in out + err and "KNOWN-FAKE-REFRESH-TOKEN" not in out + err
