"""Amazon's fee forecast (Data Kiosk economicsPreview) in the daily run, against the fake
SP-API through the real python-amazon-sp-api: what is asked, stored, warned and paced."""

from __future__ import annotations

import gzip
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sp_api.api import DataKiosk
from sp_api.base import Marketplaces
from sp_api.base.exceptions import (
    SellingApiNotFoundException,
    SellingApiRequestThrottledException,
)

from ipi import pipeline
from ipi.demo import Simulation
from ipi.fees import load_rates
from ipi.fees.amazon import AmazonForecast, amazon_forecast, last_attempts
from ipi.fees.compute import next_assessment
from ipi.settings import Account, Settings
from ipi.store.accounts import account_path
from ipi.testing import FakeSpApi, Outcome, Query, serve_day, token_client_for
from tests.sources.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    partitions_seen_by_another_process,
)

Make = Callable[..., tuple[Settings, Path]]
US = Marketplaces.US.marketplace_id
LABEL = "US Amazon fee forecast"


def line(sku: str, fees: dict[str, list[float]], mp: str = US) -> dict[str, Any]:
    """One record as Amazon writes it: each fee's charges with a totalAmount."""
    return {"startDate": "2026-12-07", "endDate": "2026-12-15", "marketplaceId": mp,
            "msku": sku, "fnsku": f"X00{sku}",
            "fees": [{"feeTypeName": name, "charges": [
                {"aggregatedDetail": {"amount": {"amount": a / 2, "currencyCode": "USD"},
                                      "totalAmount": {"amount": a, "currencyCode": "USD"},
                                      "quantity": 2}} for a in amounts]}
                for name, amounts in fees.items()]}


def jsonl(*records: dict[str, Any] | bytes) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n"
                    for r in records)


# Hand-computed: aged 20.00 + 5.50 + 0.25 = 25.75 (A1: 20 + 5.5, B2: 0.25); low inventory
# 1.10 (B2: 0.40 + 0.70); utilization 9.00 (A1); C3 has only a referral fee: absent.
DOCUMENT = jsonl(
    line("A1", {"AGED_INVENTORY_SURCHARGE": [20.0, 5.5], "Storage Utilization Surcharge": [9.0]}),
    line("B2", {"Aged Inventory Surcharge": [0.25], "LOW_INVENTORY_LEVEL_FEE": [0.4, 0.7]}),
    line("C3", {"REFERRAL_FEE": [3.0]}),
)


@pytest.fixture
def kiosk(fake_sp_api: FakeSpApi) -> FakeSpApi:
    """The fake SP-API, its Data Kiosk scripted through ``kiosk.data_kiosk``."""
    return fake_sp_api


def ready(fake: FakeSpApi, sim: Simulation, tmp_path: Path, mps: list[str]) -> None:
    """Reports that load: the run's reports part is healthy."""
    serve_day(fake, sim, 10, tmp_path / "served", mps)


def run_day(settings: Settings, account: Account | None = None,
            day: date | None = None) -> pipeline.IngestRun:
    account = account or settings.accounts[0]
    return pipeline.ingest_account(settings, account, day or settings.today(account))


def window(settings: Settings, account: Account | None = None) -> tuple[date, date]:
    """The window ipi asks for: from today (UTC's, when the account's is behind it) to the
    next assessment day."""
    account = account or settings.accounts[0]
    start = max(settings.today(account), datetime.now(UTC).date())
    return start, next_assessment(start, load_rates("US"))


def forecast(settings: Settings, day: date, account: str = "acme") -> AmazonForecast | None:
    with pipeline.open_store(settings, account).read() as con:
        return amazon_forecast(con, account, "US", day)


def outcomes(settings: Settings, account: str = "acme") -> list[tuple[str, str | None]]:
    return [(r["outcome"], r["reason"]) for r in pipeline.open_store(settings, account).query(
        "SELECT outcome, reason FROM amazon_forecast_fetch WHERE account = $account "
        "ORDER BY attempted_at", {"account": account})]


def mine(run: pipeline.IngestRun) -> list[tuple[str, str]]:
    return [w for w in run.warnings if w[0].endswith("Amazon fee forecast")]


def test_given_a_preview_when_the_day_runs_then_it_is_stored_and_read_back(
        sp_settings: Make, kiosk: FakeSpApi, demo_sim: Simulation, tmp_path: Path) -> None:
    """One economicsPreview for US over [today, next assessment day], served gzip; its
    amounts by SKU and totals read back as worked out by hand, its bytes kept as served."""
    settings, _ = sp_settings()
    ready(kiosk, demo_sim, tmp_path, ["US"])
    kiosk.data_kiosk.set_outcome(US, Outcome(document=DOCUMENT, gzip=True))
    kiosk.data_kiosk.generation_seconds = 0.1
    run = run_day(settings)
    assert run.failed == [] and mine(run) == [] and len(run.loaded) == 3
    start, end = window(settings)
    [query] = kiosk.data_kiosk.created()
    assert (query.marketplace_ids, query.start, query.end) == ([US], start, end)
    assert "economicsPreview" in query.text and "analytics_economics_2024_03_15" in query.text
    for fee in ("AGED_INVENTORY_SURCHARGE", "LOW_INVENTORY_LEVEL_FEE",
                "STORAGE_UTILIZATION_SURCHARGE"):
        assert fee in query.text
    day = settings.today(settings.accounts[0])
    got = forecast(settings, day)
    assert got is not None
    assert (got.asof, got.start, got.end, got.currency) == (day, start, end, "USD")
    assert got.by_sku.keys() == {"A1", "B2"}
    assert got.by_sku["A1"] == pytest.approx({"aged": 25.5, "utilization": 9.0})
    assert got.by_sku["B2"] == pytest.approx({"aged": 0.25, "low_inventory": 1.1})
    assert got.totals == pytest.approx({"aged": 25.75, "low_inventory": 1.1,
                                        "utilization": 9.0})
    # The raw bytes as the URL served them (gzip: httpx did not undo Content-Encoding).
    store = pipeline.open_store(settings, settings.accounts[0])
    [row] = store.query("SELECT r.landing_path FROM amazon_forecast f JOIN raw_file r "
                        "ON r.sha256 = f.sha256")
    kept = (settings.data_dir / row["landing_path"]).read_bytes()
    assert kept[:2] == b"\x1f\x8b" and gzip.decompress(kept) == DOCUMENT
    with store.read() as con:
        [attempt] = last_attempts(con, "acme")
    assert (attempt.outcome, attempt.asof, attempt.query_id) == ("ok", day, query.query_id)


@pytest.mark.slow
def test_given_several_accounts_polling_fast_then_ipi_paces_itself_and_amazon_never_429s(
        sp_settings: Make, kiosk: FakeSpApi, demo_sim: Simulation, tmp_path: Path) -> None:
    """Three sellers at once, each query slow enough that its status checks outrun the
    getQuery burst (15): every call waits for its token, so the fake, enforcing Amazon's
    published rates per seller, answers no 429 at all."""
    settings, _ = sp_settings({"acme": ["US"], "zeta": ["US"], "nova": ["US", "CA"]})
    ready(kiosk, demo_sim, tmp_path, ["US", "CA"])
    kiosk.data_kiosk.set_outcome(US, Outcome(document=DOCUMENT))
    # The burst's 15 checks in the first second, then 2/s: past 15 even when a loaded
    # machine starts polling seconds after the query was made (3.5 s once gave 15).
    kiosk.data_kiosk.generation_seconds = 6.0
    kiosk.enforce_rate_limits = True  # Amazon's published rates: getQuery 2/s, burst 15
    kiosk.rate_tolerance_seconds = 0.05  # the fake counts arrivals, ipi paces its sends
    with ThreadPoolExecutor(3) as pool:
        runs = list(pool.map(lambda a: run_day(settings, a), settings.accounts))
    assert all(r.failed == [] and mine(r) == [] for r in runs)
    assert kiosk.throttled() == 0
    assert [r for r in kiosk.requests if r.status == 429] == []
    seller = {q.query_id: q.seller for q in kiosk.data_kiosk.created()}
    for name in ("acme", "zeta", "nova"):
        polls = [r for r in kiosk.calls("getQuery")
                 if seller[r.path.rsplit("/", 1)[1]] == f"{REFRESH_TOKEN}-{name}"]
        assert len(polls) > 15  # past the burst: the pacing was needed
        got = forecast(settings, settings.today(settings.accounts[0]), name)
        assert got is not None and got.totals["aged"] == pytest.approx(25.75)
    # One query per seller: CA has no fee rates in ipi, so no forecast is asked for it.
    assert sorted(q.marketplace_ids[0] for q in kiosk.data_kiosk.created()) == [US] * 3


def test_unpaced_the_fake_answers_429_as_amazon_does(kiosk: FakeSpApi) -> None:
    """The control for the test above: the library alone, without ipi's transport, gets
    429 from the fake once it passes getQuery's burst."""
    client = DataKiosk(credentials={"lwa_app_id": CLIENT_ID, "lwa_client_secret": CLIENT_SECRET},
                       refresh_token=f"{REFRESH_TOKEN}-unpaced", marketplace=Marketplaces.US,
                       auth_token_client_class=token_client_for(kiosk), verify=False)
    client.endpoint = kiosk.url
    kiosk.enforce_rate_limits = True
    query_id = client.create_query(query='query { x(startDate: "2999-01-01") }').payload[
        "queryId"]
    with pytest.raises(SellingApiRequestThrottledException):
        for _ in range(16):
            client.get_query(query_id)
    assert kiosk.throttled() == 1
    client.close()


def test_given_a_fatal_query_then_the_run_succeeds_with_one_line_and_nothing_stored(
        sp_settings: Make, kiosk: FakeSpApi, demo_sim: Simulation, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """FATAL: a warning of one line naming the query, never the error document's words;
    no forecast; the error document kept in the landing zone; the reports still load."""
    caplog.set_level(logging.DEBUG)
    settings, _ = sp_settings()
    ready(kiosk, demo_sim, tmp_path, ["US"])
    error = b'{"errors": [{"message": "INTERNAL-DETAIL-OF-AMAZON"}]}'
    kiosk.data_kiosk.set_outcome(US, Outcome("FATAL", error_document=error))
    run = run_day(settings)
    assert run.failed == [] and len(run.loaded) == 3
    [(label, reason)] = mine(run)
    [query] = kiosk.data_kiosk.created()
    assert label == LABEL and "\n" not in reason
    assert f"query {query.query_id} (FATAL)" in reason and "INTERNAL-DETAIL" not in reason
    assert "INTERNAL-DETAIL" not in caplog.text and "Traceback" not in caplog.text
    assert forecast(settings, settings.today(settings.accounts[0])) is None
    store = pipeline.open_store(settings, settings.accounts[0])
    [row] = store.query("SELECT f.outcome, r.landing_path FROM amazon_forecast_fetch f "
                        "JOIN raw_file r ON r.sha256 = f.sha256")
    assert row["outcome"] == "fatal"
    assert (settings.data_dir / row["landing_path"]).read_bytes() == error
    # The next run asks again: FATAL does not settle the day.
    kiosk.data_kiosk.set_outcome(US, Outcome(document=DOCUMENT))
    assert mine(run_day(settings)) == []
    assert len(kiosk.data_kiosk.created()) == 2
    assert [o for o, _ in outcomes(settings)] == ["fatal", "ok"]


def test_given_done_without_a_document_then_it_is_no_data_and_settles_the_day(
        sp_settings: Make, kiosk: FakeSpApi, demo_sim: Simulation, tmp_path: Path) -> None:
    """DONE without dataDocumentId: recorded as no data, no warning, an empty forecast for
    the day (an older one is not shown as today's), and no second query today."""
    settings, _ = sp_settings()
    ready(kiosk, demo_sim, tmp_path, ["US"])
    run = run_day(settings)  # the fake's default outcome: DONE, no document
    assert run.failed == [] and mine(run) == []
    assert outcomes(settings) == [("no_data", None)]
    day = settings.today(settings.accounts[0])
    got = forecast(settings, day)
    assert got is not None and (got.asof, got.by_sku, got.totals, got.currency) == (
        day, {}, {}, None)
    run_day(settings)
    assert len(kiosk.data_kiosk.created()) == 1
    assert kiosk.calls("getDocument") == []


@pytest.mark.parametrize("where", ["getDocument", "download"])
def test_given_a_missing_document_then_it_is_a_warning_and_asked_again(
        sp_settings: Make, kiosk: FakeSpApi, demo_sim: Simulation, tmp_path: Path,
        where: str) -> None:
    """getDocument 404, or the URL 404 (S3 NoSuchKey): outcome missing, a one-line warning,
    nothing stored; the next run the same day asks Amazon again."""
    settings, _ = sp_settings()
    ready(kiosk, demo_sim, tmp_path, ["US"])
    kiosk.data_kiosk.queue(Outcome(document=DOCUMENT, missing=where))  # type: ignore[arg-type]
    run = run_day(settings)
    assert run.failed == []
    [(label, reason)] = mine(run)
    assert label == LABEL and "404" in reason and "\n" not in reason
    assert [o for o, _ in outcomes(settings)] == ["missing"]
    assert forecast(settings, settings.today(settings.accounts[0])) is None
    assert mine(run_day(settings)) == []  # the fake's default now: DONE, no data
    assert [o for o, _ in outcomes(settings)] == ["missing", "no_data"]


def test_an_expired_url_is_asked_for_again(sp_settings: Make, kiosk: FakeSpApi) -> None:
    """A pre-signed URL that expired (403) gets a fresh one from getDocument."""
    settings, _ = sp_settings()
    account = settings.accounts[0]
    kiosk.data_kiosk.set_outcome(US, Outcome(document=DOCUMENT))
    kiosk.expire_next_downloads = 1
    run = pipeline.IngestRun(account.name)
    source = pipeline.source_for(settings, account)
    try:
        pipeline.amazon_forecasts(settings, account, settings.today(account), source, run)
    finally:
        source.close()  # type: ignore[attr-defined]
    assert run.warnings == []
    assert [r.status for r in kiosk.calls("download")] == [403, 200]
    assert len(kiosk.calls("getDocument")) == 2
    got = forecast(settings, settings.today(account))
    assert got is not None and got.totals["utilization"] == pytest.approx(9.0)


def test_once_a_day_a_second_run_asks_amazon_nothing(
        sp_settings: Make, kiosk: FakeSpApi, demo_sim: Simulation, tmp_path: Path) -> None:
    """After an ok the same day, a second run makes no createQuery; a past day (a rerun of
    yesterday) asks for no forecast at all: Amazon previews from today on."""
    settings, _ = sp_settings()
    ready(kiosk, demo_sim, tmp_path, ["US"])
    kiosk.data_kiosk.set_outcome(US, Outcome(document=DOCUMENT))
    run_day(settings)
    run_day(settings)
    assert len(kiosk.calls("createQuery")) == 1 and len(kiosk.calls("createReport")) >= 3
    yesterday = settings.today(settings.accounts[0]) - timedelta(days=1)
    kiosk.age_reports(3600 * 24)
    run_day(settings, day=yesterday)
    assert len(kiosk.calls("createQuery")) == 1


def test_given_a_file_drop_account_then_no_data_kiosk_call_is_made(
        make_settings: Make, kiosk: FakeSpApi, demo_sim: Simulation) -> None:
    """A file-drop account does without Amazon's forecast: nothing is asked of anyone."""
    settings, _ = make_settings()
    run = run_day(settings)
    assert mine(run) == [] and kiosk.requests == []
    assert outcomes(settings) == []


def test_given_the_app_lacks_the_role_then_the_warning_names_it(
        sp_settings: Make, kiosk: FakeSpApi, demo_sim: Simulation, tmp_path: Path,
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    """403 at createQuery: a warning naming the role to add, no secret anywhere, the
    reports loaded, and the next run asks again."""
    caplog.set_level(logging.DEBUG)
    settings, _ = sp_settings()
    ready(kiosk, demo_sim, tmp_path, ["US"])
    kiosk.fail("createQuery", 1, 403)
    run = run_day(settings)
    assert run.failed == [] and len(run.loaded) == 3
    [(label, reason)] = mine(run)
    assert label == LABEL
    assert "'Finance and Accounting' role" in reason and "(403)" in reason
    assert [o for o, _ in outcomes(settings)] == ["error"]
    out = capsys.readouterr()
    text = caplog.text + out.out + out.err + reason + repr(outcomes(settings))
    for secret in (REFRESH_TOKEN, CLIENT_SECRET, *kiosk.issued_tokens):
        assert secret not in text
    assert mine(run_day(settings)) == []
    assert len(kiosk.calls("createQuery")) == 2


def test_hostile_documents_bad_lines_are_skipped_and_a_bomb_is_refused(
        sp_settings: Make, kiosk: FakeSpApi, demo_sim: Simulation, tmp_path: Path) -> None:
    """Bad lines: the rest stored, a warning that counts them and quotes none. A gzip bomb
    (32 MiB of zeros in ~32 KB): refused unread, an error the next run retries, kept."""
    settings, _ = sp_settings()
    ready(kiosk, demo_sim, tmp_path, ["US"])
    hostile = jsonl(b"{oops PRIVATE-SELLER-TEXT", b'["PRIVATE-SELLER-TEXT"]', DOCUMENT,
                    {"msku": "Z", "fees": "PRIVATE-SELLER-TEXT"})
    bomb = gzip.compress(b"\0" * (32 << 20), compresslevel=9)
    kiosk.data_kiosk.queue(Outcome(document=hostile), Outcome(document=bomb))
    run = run_day(settings)
    [(_, reason)] = mine(run)
    assert "3 line(s)" in reason and "PRIVATE" not in reason
    day = settings.today(settings.accounts[0])
    got = forecast(settings, day)
    assert got is not None and got.totals["aged"] == pytest.approx(25.75)

    # Tomorrow's preview will not read: an error (asked again), the newest readable kept.
    run = run_day(settings, day=day + timedelta(days=1))
    [(_, reason)] = mine(run)
    assert "gzip bomb" in reason and "\n" not in reason
    assert forecast(settings, day + timedelta(days=1)) == got
    assert [o for o, _ in outcomes(settings)] == ["ok", "error"]
    kept = pipeline.open_store(settings, settings.accounts[0]).query(
        "SELECT r.size_bytes FROM amazon_forecast_fetch f JOIN raw_file r "
        "ON r.sha256 = f.sha256 WHERE f.outcome = 'error'")
    assert kept == [{"size_bytes": len(bomb)}]  # as served, never inflated to disk


def test_the_fake_keeps_each_sellers_queries_its_own(kiosk: FakeSpApi) -> None:
    """Another refresh token cannot read a seller's query (404), as at Amazon."""
    clients = [DataKiosk(credentials={"lwa_app_id": CLIENT_ID, "lwa_client_secret": "s"},
                         refresh_token=f"{REFRESH_TOKEN}-{n}", marketplace=Marketplaces.US,
                         auth_token_client_class=token_client_for(kiosk), verify=False)
               for n in ("one", "two")]
    for c in clients:
        c.endpoint = kiosk.url
    query_id = clients[0].create_query(query='query { q(startDate: "2999-01-01") }').payload[
        "queryId"]
    assert clients[0].get_query(query_id).payload["processingStatus"] == "DONE"
    with pytest.raises(SellingApiNotFoundException):
        clients[1].get_query(query_id)
    q: Query = kiosk.data_kiosk.created()[0]
    assert q.start == date(2999, 1, 1) and q.marketplace_ids == []
    for c in clients:
        c.close()


@pytest.mark.slow
def test_while_the_forecast_is_generated_another_process_can_read_the_database(
        sp_settings: Make, kiosk: FakeSpApi, demo_sim: Simulation, tmp_path: Path) -> None:
    """No connection is held while Amazon generates the preview: another process (`ipi
    score`, here a bare read) opens the database meanwhile and sees the loaded reports."""
    settings, _ = sp_settings()
    ready(kiosk, demo_sim, tmp_path, ["US"])
    kiosk.data_kiosk.set_outcome(US, Outcome(document=DOCUMENT))
    kiosk.data_kiosk.generation_seconds = 4
    done: list[pipeline.IngestRun] = []
    run = threading.Thread(target=lambda: done.append(run_day(settings)))
    run.start()
    try:
        deadline = time.monotonic() + 30
        while not kiosk.calls("createQuery") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert kiosk.calls("createQuery") and not done
        assert partitions_seen_by_another_process(account_path(settings, "acme")) == "3"
        assert not done  # it was read while the forecast was still being generated
    finally:
        run.join(timeout=120)
    assert mine(done[0]) == [] and forecast(settings, settings.today(settings.accounts[0]))
