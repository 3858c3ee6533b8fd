"""The SP-API fake, driven by the REAL python-amazon-sp-api (httpx inside).

These tests also pin what the library does with each kind of answer, so a
library upgrade that changes it shows up here first.
"""

from __future__ import annotations

import gzip
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sp_api.api import ReportsV2
from sp_api.auth import access_token_client
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base import Marketplaces
from sp_api.base.exceptions import (
    SellingApiBadRequestException,
    SellingApiException,
    SellingApiForbiddenException,
    SellingApiGatewayTimeoutException,
    SellingApiNotFoundException,
    SellingApiRequestThrottledException,
    SellingApiServerException,
    SellingApiTemporarilyUnavailableException,
)

from ipi.testing import FakeSpApi, token_client_for

US = Marketplaces.US.marketplace_id  # ATVPDKIKX0DER
CA = Marketplaces.CA.marketplace_id
PLANNING = "GET_FBA_INVENTORY_PLANNING_DATA"
STRANDED = "GET_STRANDED_INVENTORY_UI_DATA"
CONTENT = "sku\tavailable\tsell-through\nSKU-1\t12\t1.5\nSKU-é\t0\t0\n".encode()
CREDENTIALS = {"lwa_app_id": "amzn1.application-oa2-client.test", "lwa_client_secret": "secret"}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """For talking to the fake directly (one client: building one costs ~40 ms)."""
    with httpx.Client() as client:
        yield client


@pytest.fixture
def fake() -> Iterator[FakeSpApi]:
    with FakeSpApi() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> Iterator[None]:
    """The library caches access tokens process-wide, keyed by refresh token."""
    access_token_client.cache.clear()
    yield
    access_token_client.cache.clear()


ClientFactory = Callable[..., ReportsV2]


@pytest.fixture
def make_client(fake: FakeSpApi) -> ClientFactory:
    def make(marketplace: Marketplaces = Marketplaces.US) -> ReportsV2:
        client = ReportsV2(
            credentials=CREDENTIALS,
            refresh_token=f"Atzr|test-{uuid.uuid4().hex}",
            marketplace=marketplace,
            auth_token_client_class=token_client_for(fake),
            verify=False,  # plain HTTP anyway; skips loading CA certificates (~40 ms a client)
        )
        client.endpoint = fake.url
        return client

    return make


@pytest.fixture
def client(make_client: ClientFactory) -> ReportsV2:
    return make_client()


def _token(fake: FakeSpApi, http: httpx.Client) -> str:
    res = http.post(fake.token_url, data={
        "grant_type": "refresh_token", "refresh_token": "rt", **{
            "client_id": "id", "client_secret": "secret"}})
    assert res.status_code == 200
    return str(res.json()["access_token"])


# ---------------------------------------------------------------- the happy path


def test_create_poll_document_download_roundtrip(
        fake: FakeSpApi, client: ReportsV2, http: httpx.Client) -> None:
    fake.set_document(PLANNING, US, CONTENT)
    fake.generation_seconds = 0.6  # IN_QUEUE for 0.2 s, IN_PROGRESS until 0.6 s

    report_id = client.create_report(reportType=PLANNING, marketplaceIds=[US]).payload["reportId"]
    seen = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        report = client.get_report(report_id).payload
        seen.append(report["processingStatus"])
        if seen[-1] == "DONE":
            break
        assert "reportDocumentId" not in report
        time.sleep(0.03)
    assert seen[0] == "IN_QUEUE" and seen[-1] == "DONE"
    order = ["IN_QUEUE", "IN_PROGRESS", "DONE"]
    assert [order.index(s) for s in seen] == sorted(order.index(s) for s in seen)
    assert report["reportType"] == PLANNING and report["marketplaceIds"] == [US]
    assert {"createdTime", "processingStartTime", "processingEndTime"} <= report.keys()

    document = client.get_report_document(report["reportDocumentId"]).payload
    assert document["compressionAlgorithm"] == "GZIP"
    assert document["url"].startswith(f"{fake.url}/download/")
    res = http.get(document["url"])
    assert res.status_code == 200
    assert res.headers["content-type"] == "text/plain; charset=UTF-8"
    assert "content-encoding" not in res.headers  # the client gunzips, not httpx
    assert gzip.decompress(res.content) == CONTENT

    # What the library sent.
    (token,) = fake.calls("token")
    form = token.form()
    assert form["refresh_token"].startswith("Atzr|test-")
    assert form == {"grant_type": "refresh_token", "client_id": CREDENTIALS["lwa_app_id"],
                    "client_secret": "secret", "refresh_token": form["refresh_token"]}
    (create,) = fake.calls("createReport")
    assert create.json() == {"reportType": PLANNING, "marketplaceIds": [US]}
    poll = fake.calls("getReport")[0]
    assert poll.query == {k: [US] for k in
                          ("MarketplaceId", "MarketplaceIds", "marketplace_ids", "marketplaceIds")}
    assert fake.calls("getReportDocument")[0].query == {}
    issued = fake.issued_tokens
    for recorded in fake.requests:
        if recorded.operation not in ("token", "download"):
            assert recorded.headers["x-amz-access-token"] in issued
            # The library derives Host from endpoint[8:], which assumes https://.
            assert recorded.headers["host"] == fake.url[8:]
    assert "x-amz-access-token" not in fake.calls("download")[0].headers


def test_library_download_uses_the_declared_charset(fake: FakeSpApi, client: ReportsV2) -> None:
    text = "sku\tproduct-name\nA-1\tCafé € crème\n"
    fake.set_document(PLANNING, US, text.encode("cp1252"), charset="Cp1252")
    report_id = client.create_report(reportType=PLANNING, marketplaceIds=[US]).payload["reportId"]
    doc_id = client.get_report(report_id).payload["reportDocumentId"]
    res = client.get_report_document(doc_id, download=True)
    assert res.payload["document"] == text
    assert res.character_code.lower() == "cp1252"


def test_library_without_charset_falls_back_to_latin1(
        fake: FakeSpApi, client: ReportsV2, http: httpx.Client) -> None:
    """No charset in Content-Type: the library decodes as iso-8859-1, not UTF-8."""
    fake.set_document(STRANDED, US, "é\n".encode(), charset=None, gzip=False)
    report_id = client.create_report(reportType=STRANDED).payload["reportId"]
    doc_id = client.get_report(report_id).payload["reportDocumentId"]
    meta = client.get_report_document(doc_id).payload
    assert "compressionAlgorithm" not in meta
    assert http.get(meta["url"]).headers["content-type"] == "text/plain"
    res = client.get_report_document(doc_id, download=True)
    assert res.character_code == "iso-8859-1"
    assert res.payload["document"] == "Ã©\n"
    # Without marketplaceIds the library puts both spellings in the body.
    assert fake.calls("createReport")[0].json() == {
        "reportType": STRANDED, "marketplaceIds": [US], "MarketplaceIds": [US]}


def test_a_report_without_a_document_set_is_done_and_empty(
        fake: FakeSpApi, client: ReportsV2) -> None:
    report_id = client.create_report(reportType=STRANDED, marketplaceIds=[US]).payload["reportId"]
    doc_id = client.get_report(report_id).payload["reportDocumentId"]
    assert client.get_report_document(doc_id, download=True).payload["document"] == ""


# ---------------------------------------------------------------- getReports


def test_get_reports_filters_sorts_and_pages(fake: FakeSpApi, make_client: ClientFactory) -> None:
    us, ca = make_client(), make_client(Marketplaces.CA)
    fake.set_outcome(STRANDED, US, "FATAL")
    a1 = us.create_report(reportType=PLANNING, marketplaceIds=[US]).payload["reportId"]
    s1 = us.create_report(reportType=STRANDED, marketplaceIds=[US]).payload["reportId"]
    a2 = us.create_report(reportType=PLANNING, marketplaceIds=[US]).payload["reportId"]
    c1 = ca.create_report(reportType=PLANNING).payload["reportId"]
    assert len({a1, s1, a2, c1}) == 4

    def ids(res: object) -> list[str]:
        return [r["reportId"] for r in res.payload["reports"]]  # type: ignore[attr-defined]

    # No marketplaceIds: the library adds the client's own marketplace, so CA is filtered out.
    assert ids(us.get_reports(reportTypes=[PLANNING])) == [a2, a1]
    assert ids(us.get_reports(reportTypes=[PLANNING, STRANDED])) == [a2, s1, a1]
    assert ids(us.get_reports(reportTypes=[PLANNING, STRANDED],
                              processingStatuses=["FATAL"])) == [s1]
    assert ids(us.get_reports(reportTypes=[PLANNING], marketplaceIds=[US, CA])) == [c1, a2, a1]
    assert ids(ca.get_reports(reportTypes=[PLANNING])) == [c1]
    future = datetime.now(UTC) + timedelta(minutes=5)
    assert ids(us.get_reports(reportTypes=[PLANNING], createdSince=future)) == []
    past = datetime.now(UTC) - timedelta(minutes=5)
    assert ids(us.get_reports(reportTypes=[PLANNING], createdUntil=past)) == []

    # Lists go comma-joined when passed; the added marketplace goes as a (repeated) list.
    listed = fake.calls("getReports")
    assert listed[1].query["reportTypes"] == [f"{PLANNING},{STRANDED}"]
    assert listed[1].query["marketplaceIds"] == [US]
    assert listed[3].query["marketplaceIds"] == [f"{US},{CA}"]
    assert "MarketplaceId" not in listed[3].query  # explicit marketplaceIds: nothing added
    assert listed[5].query["createdSince"] == [future.isoformat()]

    page1 = us.get_reports(reportTypes=[PLANNING, STRANDED], pageSize=2)
    assert ids(page1) == [a2, s1] and page1.next_token
    assert "nextToken" not in page1.payload  # ApiResponse moves it to .next_token
    page2 = us.get_reports(nextToken=page1.next_token)
    assert ids(page2) == [a1] and page2.next_token is None
    assert fake.calls("getReports")[-1].query == {"nextToken": [page1.next_token]}

    with pytest.raises(SellingApiBadRequestException):
        us.get_reports(reportTypes=[PLANNING], processingStatuses=["BAD_VALUE"])
    with pytest.raises(SellingApiBadRequestException):
        us.get_reports()  # neither reportTypes nor nextToken


def test_get_reports_accepts_repeated_list_params(fake: FakeSpApi, http: httpx.Client) -> None:
    headers = {"x-amz-access-token": _token(fake, http)}
    for rtype in (PLANNING, STRANDED, "GET_LEDGER_SUMMARY_VIEW_DATA"):
        http.post(f"{fake.url}/reports/2021-06-30/reports", headers=headers,
                   json={"reportType": rtype, "marketplaceIds": [US]}).raise_for_status()
    res = http.get(f"{fake.url}/reports/2021-06-30/reports", headers=headers,
                    params=[("reportTypes", PLANNING), ("reportTypes", STRANDED),
                            ("processingStatuses", "DONE"), ("processingStatuses", "IN_QUEUE")])
    assert res.status_code == 200
    assert [r["reportType"] for r in res.json()["reports"]] == [STRANDED, PLANNING]


# ---------------------------------------------------------------- throttling and errors


def test_429_with_errors_body_raises_throttled(fake: FakeSpApi, client: ReportsV2) -> None:
    fake.throttle("createReport", 1)
    with pytest.raises(SellingApiRequestThrottledException) as info:
        client.create_report(reportType=PLANNING, marketplaceIds=[US])
    assert info.value.amzn_code == "QuotaExceeded"
    assert info.value.error[0]["details"] == ""
    # The script is used up: the next call succeeds.
    assert client.create_report(reportType=PLANNING, marketplaceIds=[US]).payload["reportId"]
    assert [c.status for c in fake.calls("createReport")] == [429, 202]


def test_429_without_errors_body_is_silently_an_empty_success(
        fake: FakeSpApi, client: ReportsV2) -> None:
    """No JSON body -> the library raises nothing and returns an empty payload."""
    fake.throttle("createReport", 1, with_errors_body=False)
    res = client.create_report(reportType=PLANNING, marketplaceIds=[US])
    assert res.payload == {} and res.errors is None
    assert res.payload.get("reportId") is None
    assert fake.calls("createReport")[0].status == 429
    assert fake.calls("createReport")[0].body  # the request itself was fine


@pytest.mark.parametrize(("status", "exception"), [
    (500, SellingApiServerException),
    (503, SellingApiTemporarilyUnavailableException),
    (504, SellingApiGatewayTimeoutException),
    (502, SellingApiException),  # not in the library's table: the base class
    (401, SellingApiException),  # likewise
])
def test_scripted_errors_map_to_library_exceptions(
        fake: FakeSpApi, client: ReportsV2, status: int, exception: type[Exception]) -> None:
    fake.fail("getReports", 1, status)
    with pytest.raises(exception) as info:
        client.get_reports(reportTypes=[PLANNING])
    assert type(info.value) is exception
    assert client.get_reports(reportTypes=[PLANNING]).payload == {"reports": []}


def test_5xx_without_errors_body_is_also_silent(fake: FakeSpApi, client: ReportsV2) -> None:
    fake.fail("getReport", 2, 502, with_errors_body=False)
    fake.throttle("getReport", 1)
    report_id = client.create_report(reportType=PLANNING, marketplaceIds=[US]).payload["reportId"]
    assert client.get_report(report_id).payload == {}
    assert client.get_report(report_id).payload == {}
    with pytest.raises(SellingApiRequestThrottledException):  # scripts run in order
        client.get_report(report_id)
    assert client.get_report(report_id).payload["processingStatus"] == "DONE"
    assert [c.status for c in fake.calls("getReport")] == [502, 502, 429, 200]


def test_unknown_report_is_404(client: ReportsV2) -> None:
    with pytest.raises(SellingApiNotFoundException):
        client.get_report("123")


# ---------------------------------------------------------------- outcomes


def test_fatal_with_failure_document_and_cancelled(fake: FakeSpApi, client: ReportsV2) -> None:
    explanation = b'{"errorDetails":"Report generation failed: no FBA inventory."}'
    fake.set_outcome(PLANNING, US, "FATAL", failure_document=explanation)
    fake.set_outcome(STRANDED, US, "CANCELLED")
    fatal_id = client.create_report(reportType=PLANNING, marketplaceIds=[US]).payload["reportId"]
    cancelled_id = client.create_report(reportType=STRANDED).payload["reportId"]

    fatal = client.get_report(fatal_id).payload
    assert fatal["processingStatus"] == "FATAL"
    res = client.get_report_document(fatal["reportDocumentId"], download=True)
    assert res.payload["document"] == explanation.decode()

    cancelled = client.get_report(cancelled_id).payload
    assert cancelled["processingStatus"] == "CANCELLED"
    assert "reportDocumentId" not in cancelled

    fake.set_outcome(PLANNING, US, "FATAL")  # FATAL without a document
    bare = client.create_report(reportType=PLANNING, marketplaceIds=[US]).payload["reportId"]
    assert "reportDocumentId" not in client.get_report(bare).payload


def test_cancel_report_only_while_in_queue(fake: FakeSpApi, client: ReportsV2) -> None:
    fake.generation_seconds = 30
    queued = client.create_report(reportType=PLANNING, marketplaceIds=[US]).payload["reportId"]
    client.cancel_report(queued)
    report = client.get_report(queued).payload
    assert report["processingStatus"] == "CANCELLED" and "processingStartTime" not in report
    fake.generation_seconds = 0
    done = client.create_report(reportType=PLANNING, marketplaceIds=[US]).payload["reportId"]
    with pytest.raises(SellingApiBadRequestException):
        client.cancel_report(done)


def test_regeneration_window_and_existing_reports(fake: FakeSpApi, client: ReportsV2) -> None:
    fake.regeneration_window_seconds = {PLANNING: 4 * 3600}
    old = fake.add_existing_report(PLANNING, US, created_ago_seconds=5 * 3600, content=b"old")
    recent = fake.add_existing_report(PLANNING, US, created_ago_seconds=3600, content=b"recent")
    fake.add_existing_report(PLANNING, US, status="FATAL", created_ago_seconds=60)

    # Reuse inside the window: list first, find the recent DONE one.
    listed = client.get_reports(reportTypes=[PLANNING], processingStatuses=["DONE"]).payload
    assert [r["reportId"] for r in listed["reports"]] == [recent, old]
    doc_id = listed["reports"][0]["reportDocumentId"]
    assert client.get_report_document(doc_id, download=True).payload["document"] == "recent"

    # Asking again inside the window gives FATAL, as Amazon does.
    again = client.create_report(reportType=PLANNING, marketplaceIds=[US]).payload["reportId"]
    assert client.get_report(again).payload["processingStatus"] == "FATAL"
    # Other marketplaces and types are not affected.
    other = client.create_report(reportType=PLANNING, marketplaceIds=[CA]).payload["reportId"]
    assert client.get_report(other).payload["processingStatus"] == "DONE"

    fake.regeneration_window_seconds = {PLANNING: 1800}  # only the 60 s old FATAL is inside
    fresh = client.create_report(reportType=PLANNING, marketplaceIds=[US]).payload["reportId"]
    assert client.get_report(fresh).payload["processingStatus"] == "DONE"


# ---------------------------------------------------------------- auth


def test_token_error_raises_authorization_error(fake: FakeSpApi, client: ReportsV2) -> None:
    fake.token_error = "invalid_grant"
    with pytest.raises(AuthorizationError) as info:
        client.get_report("1")
    assert info.value.error_code == "invalid_grant"
    assert info.value.status_code == 400
    assert "invalid grant" in info.value.message
    assert fake.calls("getReport") == []  # raised while building headers, before the call
    assert fake.calls("token")[0].status == 400


def test_revoked_or_expired_access_token_is_403_and_not_refreshed(
        fake: FakeSpApi, make_client: ClientFactory) -> None:
    client = make_client()
    report_id = client.create_report(reportType=PLANNING, marketplaceIds=[US]).payload["reportId"]
    fake.revoke_access_tokens()
    for _ in range(2):
        with pytest.raises(SellingApiForbiddenException) as info:
            client.get_report(report_id)
        assert info.value.amzn_code == "Unauthorized"
    assert len(fake.calls("token")) == 1  # the library keeps using its cached token

    fake.access_token_ttl = 0.25
    short = make_client()
    short.get_report(report_id)
    time.sleep(0.3)
    with pytest.raises(SellingApiForbiddenException) as info:
        short.get_report(report_id)
    assert "expired" in info.value.error[0]["details"]


def test_sp_api_calls_need_an_issued_token(fake: FakeSpApi, http: httpx.Client) -> None:
    res = http.get(f"{fake.url}/reports/2021-06-30/reports/1")
    assert res.status_code == 403 and res.json()["errors"][0]["code"] == "Unauthorized"
    res = http.get(f"{fake.url}/reports/2021-06-30/reports/1",
                    headers={"x-amz-access-token": "Atza|made-up"})
    assert res.status_code == 403
    bad = http.post(fake.token_url, data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"


# ---------------------------------------------------------------- downloads


def test_expired_download_is_403_with_s3_body(
        fake: FakeSpApi, client: ReportsV2, http: httpx.Client) -> None:
    fake.set_document(PLANNING, US, CONTENT)
    report_id = client.create_report(reportType=PLANNING, marketplaceIds=[US]).payload["reportId"]
    doc_id = client.get_report(report_id).payload["reportDocumentId"]
    url = client.get_report_document(doc_id).payload["url"]
    fake.expire_next_downloads = 2

    res = http.get(url)
    assert res.status_code == 403
    assert res.headers["content-type"] == "application/xml"
    assert b"<Code>AccessDenied</Code><Message>Request has expired</Message>" in res.content
    # The library does not look at the download's status: it gunzips the XML and fails.
    with pytest.raises(zlib.error):
        client.get_report_document(doc_id, download=True)
    assert fake.expire_next_downloads == 0
    # A fresh URL (or the same one, the script used up) works.
    assert gzip.decompress(http.get(url).content) == CONTENT
    assert [c.status for c in fake.calls("download")] == [403, 403, 200]


# ---------------------------------------------------------------- rate limits


def test_enforced_rate_limits_and_header(fake: FakeSpApi, client: ReportsV2) -> None:
    report_id = client.create_report(reportType=PLANNING, marketplaceIds=[US]).payload["reportId"]
    fake.enforce_rate_limits = True
    fake.rate_limits["getReport"] = (0.01, 3)  # slow refill: no timing luck needed
    for _ in range(3):  # the burst
        assert client.get_report(report_id).rate_limit == "0.01"
    with pytest.raises(SellingApiRequestThrottledException) as info:
        client.get_report(report_id)
    assert info.value.headers["x-amzn-RateLimit-Limit"] == "0.01"
    assert fake.self_throttled == 1
    fake.rate_scale = 10_000  # 100/s: a token back within 10 ms
    time.sleep(0.03)
    assert client.get_report(report_id).payload["processingStatus"] == "DONE"
    assert fake.self_throttled == 1

    fake.throttle("getReport", 1)  # scripted 429s are not counted as self-throttling
    with pytest.raises(SellingApiRequestThrottledException):
        client.get_report(report_id)
    assert fake.self_throttled == 1

    fake.rate_limit_header = "0.0167"
    assert client.get_report(report_id).rate_limit == "0.0167"


def test_report_ids_unique_under_concurrency(fake: FakeSpApi, http: httpx.Client) -> None:
    headers = {"x-amz-access-token": _token(fake, http)}
    ids: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):  # httpx.Client is thread-safe
            res = http.post(f"{fake.url}/reports/2021-06-30/reports", headers=headers,
                            json={"reportType": PLANNING, "marketplaceIds": [US]})
            assert res.status_code == 202
            with lock:
                ids.append(res.json()["reportId"])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 80 and len(set(ids)) == 80
    assert len(fake.calls("createReport")) == 80


def test_token_endpoint_failures_as_the_library_sees_them(
        fake: FakeSpApi, make_client: ClientFactory) -> None:
    fake.fail("token", 1, 500)  # LWA-shaped JSON error body
    with pytest.raises(AuthorizationError) as info:
        make_client().get_report("1")
    assert (info.value.error_code, info.value.status_code) == ("server_error", 500)

    fake.throttle("token", 1, with_errors_body=False)  # no JSON at all
    with pytest.raises(ValueError) as decode_error:  # json.JSONDecodeError, not AuthorizationError
        make_client().get_report("1")
    assert not isinstance(decode_error.value, AuthorizationError)
    assert fake.calls("getReport") == []


def test_create_report_validates_and_echoes_times(fake: FakeSpApi, client: ReportsV2) -> None:
    start = datetime(2026, 1, 1, 0, 0)  # naive: the library sends isoformat() as is
    report_id = client.create_report(
        reportType="GET_LEDGER_SUMMARY_VIEW_DATA", marketplaceIds=[US], dataStartTime=start,
        reportOptions={"aggregatedByTimePeriod": "DAILY", "aggregateByLocation": "COUNTRY"},
    ).payload["reportId"]
    assert fake.calls("createReport")[0].json()["dataStartTime"] == "2026-01-01T00:00:00"
    report = client.get_report(report_id).payload
    assert report["dataStartTime"] == "2026-01-01T00:00:00+00:00"
    with pytest.raises(SellingApiBadRequestException):
        client.create_report(marketplaceIds=[US])  # no reportType
    with pytest.raises(SellingApiBadRequestException):
        client.create_report(reportType=PLANNING, marketplaceIds=[])


def test_lifecycle(http: httpx.Client) -> None:
    fake = FakeSpApi()
    fake.start()
    assert fake.start() is fake and fake.token_url == f"{fake.url}/auth/o2/token"
    url = fake.url
    fake.stop()
    fake.stop()
    with pytest.raises(httpx.ConnectError):
        http.get(f"{url}/reports/2021-06-30/reports")
