"""A stateful fake of Amazon's SP-API Reports API 2021-06-30 and the LWA token endpoint.

It is a real HTTP server on 127.0.0.1 (stdlib ``ThreadingHTTPServer`` in a daemon
thread) so the real ``python-amazon-sp-api`` library (httpx inside) talks to it::

    with FakeSpApi() as fake:
        fake.set_document("GET_FBA_INVENTORY_PLANNING_DATA", "ATVPDKIKX0DER", b"sku\\tqty\\n")
        client = ReportsV2(credentials=..., refresh_token="rt-unique-per-test",
                           marketplace=Marketplaces.US,
                           auth_token_client_class=token_client_for(fake))
        client.endpoint = fake.url

It serves the Data Kiosk API 2023-11-15 too, scripted through ``fake.data_kiosk``
(``ipi.testing.data_kiosk``).

Shapes follow Amazon's Reports API model (reports_2021-06-30); quirks follow what
sellers and Amazon's documentation report (429s, FATAL, expired URLs). Everything
defaults to "a healthy Amazon"; the knobs
(``generation_seconds``, ``set_outcome``, ``throttle``, ``fail``,
``expire_next_downloads``, ``token_error``, ``regeneration_window_seconds``,
``enforce_rate_limits`` ...) script the unhealthy cases.

Notes for users of the real library (version 2.1.x):

* It caches access tokens process-wide (``sp_api.auth.access_token_client.cache``,
  keyed by refresh token, TTL 3200 s whatever ``expires_in`` says). Use a fresh
  refresh token per test, or clear that cache, or a token issued by an earlier
  fake (unknown to this one) is sent and answered 403.
* It sends ``host: endpoint[8:]``, which for ``http://127.0.0.1:PORT`` is
  ``27.0.0.1:PORT``. This server ignores the Host header.
"""

from __future__ import annotations

import gzip as gzip_module
import itertools
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from ipi.testing.data_kiosk import (
    DATA_KIOSK_OPERATIONS,
    DATA_KIOSK_RATE_LIMITS,
    FakeDataKiosk,
)
from ipi.testing.data_kiosk import classify as classify_data_kiosk
from ipi.testing.s3 import s3_error

if TYPE_CHECKING:
    from sp_api.auth import AccessTokenClient

REPORTS_PREFIX = "/reports/2021-06-30"
TOKEN_PATH = "/auth/o2/token"
DOWNLOAD_PREFIX = "/download/"

STATUSES = ("CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE")
FINAL_STATUSES = ("CANCELLED", "DONE", "FATAL")

#: Amazon's published usage plans (requests per second, burst) for the operations served.
PUBLISHED_RATE_LIMITS: dict[str, tuple[float, int]] = {
    "createReport": (0.0167, 15),
    "getReports": (0.0222, 10),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
    "cancelReport": (0.0222, 10),
    **DATA_KIOSK_RATE_LIMITS,
}
SP_API_OPERATIONS = frozenset(PUBLISHED_RATE_LIMITS)

#: How long a document URL stays valid at Amazon ("This URL expires after 5 minutes").
DOWNLOAD_URL_TTL_SECONDS = 300.0

# reportIds are unique across every FakeSpApi in the process, not just within one.
_report_ids = itertools.count(50_000_000_001)
_report_ids_lock = threading.Lock()


def _next_report_id() -> str:
    with _report_ids_lock:
        return str(next(_report_ids))


def _iso(dt: datetime) -> str:
    """Amazon's Reports API style: ``2024-03-10T13:47:20+00:00``."""
    return dt.astimezone(UTC).replace(microsecond=0).isoformat()


def _parse_time(value: str) -> datetime:
    """ISO 8601 as a client may send it; naive times are taken as UTC."""
    value = value.strip().replace(" ", "+")  # a raw '+' in a query string decodes to ' '
    dt = datetime.fromisoformat(value)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def _normalized_time(value: Any) -> str | None:
    return None if value is None else _iso(_parse_time(str(value)))


def _split_list(values: list[str] | None) -> list[str]:
    """Accept both ``a=X&a=Y`` and ``a=X,Y`` (and mixes)."""
    out: list[str] = []
    for value in values or []:
        out.extend(v for v in value.split(",") if v)
    return out


def errors_body(code: str, message: str, details: str = "") -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message, "details": details}]}).encode()


_ERROR_CODES = {
    400: ("InvalidInput", "Request has missing or invalid parameters and cannot be parsed."),
    401: ("Unauthorized", "The request's Authorization header is not formatted correctly or "
                          "does not contain a valid token."),
    403: ("Unauthorized", "Access to requested resource is denied."),
    404: ("NotFound", "The resource specified does not exist."),
    415: ("UnsupportedMediaType", "The request's Content-Type header is invalid."),
    429: ("QuotaExceeded", "You exceeded your quota for the requested resource."),
    500: ("InternalFailure", "We encountered an internal error. Please try again."),
    502: ("BadGateway", "Bad Gateway"),
    503: ("ServiceUnavailable", "Service is temporarily unavailable. Please try again."),
    504: ("GatewayTimeout", "Gateway Timeout"),
}

_LWA_DESCRIPTIONS = {
    "invalid_grant": "The request has an invalid grant parameter : refresh_token",
    "invalid_client": "Client authentication failed",
    "unauthorized_client": "Not authorized for requested operation",
    "invalid_request": "The request is missing a required parameter",
    "server_error": "Internal Server Error",
}


@dataclass
class Recorded:
    """One request the server received, and the status it answered."""

    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    body: bytes
    headers: dict[str, str]  # keys lower-cased
    status: int
    operation: str  # "token" | "createReport" | "getReports" | "getReport"
    #                 | "getReportDocument" | "cancelReport" | "download" | "other"
    at: float = 0.0  # time.monotonic() when it arrived

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        """The body as a form (token requests)."""
        return {k: v[-1] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


@dataclass
class Document:
    """A report document as served: its bytes, the charset its download declares, and
    whether it is served gzip (compressed once, then kept)."""

    content: bytes
    charset: str | None = "UTF-8"
    gzip: bool = True
    compressed: bytes | None = field(default=None, repr=False)

    def served(self) -> bytes:
        if not self.gzip:
            return self.content
        if self.compressed is None:
            self.compressed = gzip_module.compress(self.content, compresslevel=1, mtime=0)
        return self.compressed


_DocumentSpec = Document
#: A seller's documents: (reportType, marketplaceId) -> its document, or None for the
#: fake's per-key ones.
SellerDocuments = Callable[[str, str], Document | None]


@dataclass
class _Document:
    document_id: str
    spec: _DocumentSpec


@dataclass
class _Report:
    report_id: str
    report_type: str
    marketplace_ids: list[str]
    created: datetime  # wall clock, UTC
    created_mono: float
    generation_seconds: float
    seq: int
    report_options: dict[str, Any] | None = None  # kept, not served (not in the Report model)
    data_start_time: str | None = None
    data_end_time: str | None = None
    forced_status: str | None = None  # decided at creation (regeneration window, cancel, existing)
    forced_failure_document: bytes | None = None
    fixed: bool = False  # add_existing_report: status does not evolve with time
    final_status: str | None = None  # set once the report has finished
    document_id: str | None = None
    cancelled_in_queue: bool = False  # cancelReport: never started processing
    seller: str | None = None  # the refresh token that created it; None: everyone's

    @property
    def key(self) -> tuple[str, str]:
        return (self.report_type, self.marketplace_ids[0])


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class _Scripted:
    status: int
    with_errors_body: bool
    throttle: bool  # counts as a scripted 429


class FakeSpApi:
    """The fake server (see the module docstring).

    Operations (``Recorded.operation``): ``token`` (POST /auth/o2/token),
    ``createReport``, ``getReports``, ``getReport``, ``cancelReport`` (DELETE),
    ``getReportDocument``, ``download`` (GET /download/<token>), ``other``.

    Knobs (attributes, settable at any time):

    * ``generation_seconds`` - createReport to finished; IN_QUEUE for the first
      third, then IN_PROGRESS. Snapshotted per report at creation.
    * ``expire_next_downloads`` - the next N downloads answer 403 "Request has
      expired" (S3 XML). Download URLs also really expire after
      ``download_url_ttl_seconds`` (300, as at Amazon).
    * ``token_error`` - LWA answers ``{"error": .., "error_description": ..}``,
      400 (401 for ``invalid_client``).
    * ``access_token_ttl`` - ``expires_in``; SP-API calls with an expired token get 403.
    * ``regeneration_window_seconds`` - {reportType: seconds}: createReport for a
      type+marketplace whose previous report (not FATAL/CANCELLED) was requested
      within the window finishes FATAL, without a document.
    * ``rate_limit_header`` - value of ``x-amzn-RateLimit-Limit`` on every SP-API answer.
    * ``enforce_rate_limits`` / ``rate_scale`` / ``rate_limits`` - token buckets per
      selling partner, application and operation, as Amazon's usage plans are: the
      seller is the refresh token the access token was issued for (None for a
      grantless token), the application the LWA client id. Each bucket (rate x
      rate_scale, burst) is full at its first use; excess answers 429 with an errors
      body and the usual ``x-amzn-RequestId`` / ``x-amzn-RateLimit-Limit`` headers,
      and counts in ``self_throttled`` (and per bucket in ``throttled_by``). While
      enforcing, the rate header defaults to the operation's scaled rate.
      ``rate_tolerance_seconds``: how much earlier than its token a request may arrive,
      the transit time between a client's pacing and the server's count (0: none).

    Sellers: ``set_seller_documents(refresh_token, ...)`` registers a seller with
    documents of its own (generated bodies, see ``ipi.testing.catalog``), used before
    the per-key ``set_document`` ones. A registered seller's reports are its own:
    ``getReports``, ``getReport``, ``getReportDocument`` and ``cancelReport`` of
    another seller do not see them, and its regeneration window is its own. Callers
    with other refresh tokens share one unnamed seller (as the tests' clients, one
    refresh token each, always did); their rate buckets are still per refresh token.

    Outcomes resolve when a report is first seen finished: the document is what
    ``set_document`` says *then* for (reportType, first marketplaceId), an empty
    document if nothing was set; the status is ``set_outcome``'s (sticky) or DONE.
    Scripted ``throttle``/``fail`` answers queue per operation in call order, run
    before rate limiting but after the access-token check, and apply to
    ``token`` and ``download`` too (LWA JSON / S3 XML bodies there).
    """

    def __init__(self) -> None:
        self.url: str = ""
        self.token_url: str = ""
        self.requests: list[Recorded] = []

        # Scenario knobs; all default to a healthy Amazon.
        self.generation_seconds: float = 0.0
        self.expire_next_downloads: int = 0
        self.token_error: str | None = None
        self.access_token_ttl: float = 3600
        self.regeneration_window_seconds: dict[str, float] = {}
        self.rate_limit_header: str | None = None
        self.enforce_rate_limits: bool = False
        self.rate_scale: float = 1.0
        #: per-operation (rate, burst) used when enforce_rate_limits; editable per test.
        self.rate_limits: dict[str, tuple[float, int]] = dict(PUBLISHED_RATE_LIMITS)
        self.rate_tolerance_seconds: float = 0.0
        self.self_throttled: int = 0
        #: 429s from an empty bucket, per (seller, client id, operation).
        self.throttled_by: dict[tuple[str | None, str | None, str], int] = {}
        self.download_url_ttl_seconds: float = DOWNLOAD_URL_TTL_SECONDS

        self._lock = threading.RLock()
        self._documents_by_key: dict[tuple[str, str], _DocumentSpec] = {}
        self._queued: dict[tuple[str, str], deque[bytes]] = {}
        self._makers: dict[tuple[str, str], Callable[[_Report], bytes]] = {}
        self._outcomes: dict[tuple[str, str], tuple[str, bytes | None]] = {}
        self._reports: dict[str, _Report] = {}
        self._documents: dict[str, _Document] = {}
        self._downloads: dict[str, tuple[str, float]] = {}  # token -> (document id, issued mono)
        self._access_tokens: dict[str, float] = {}  # token -> expiry (monotonic)
        self._grants: dict[str, tuple[str | None, str | None]] = {}  # token -> (seller, app)
        self._seller_documents: dict[str, SellerDocuments] = {}
        self._document_owner: dict[str, str] = {}  # document id -> its seller
        self._scripted: dict[str, deque[_Scripted]] = {}
        self._buckets: dict[tuple[str | None, str | None, str], _Bucket] = {}
        self._page_tokens: dict[str, list[str]] = {}  # nextToken -> remaining report ids
        self._seq = itertools.count()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.data_kiosk = FakeDataKiosk(self)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSpApi:
        if self._server is not None:
            return self
        server_class = type("_Server", (ThreadingHTTPServer,), {
            "request_queue_size": 128,  # the default 5 drops SYNs under concurrent clients
            "daemon_threads": True,
        })
        server = server_class(("127.0.0.1", 0), _make_handler(self))
        self._server = server
        port = server.server_address[1]
        self.url = f"http://127.0.0.1:{port}"
        self.token_url = f"{self.url}{TOKEN_PATH}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01},
            name=f"FakeSpApi:{port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeSpApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ inspection

    def calls(self, operation: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.operation == operation]

    def report(self, report_id: str) -> dict[str, Any]:
        """The Report object getReport would answer now (KeyError if unknown)."""
        with self._lock:
            return self._report_json(self._reports[report_id], time.monotonic())

    @property
    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._access_tokens)

    def revoke_access_tokens(self) -> None:
        """Forget every issued access token: the next SP-API call answers 403."""
        with self._lock:
            self._access_tokens.clear()

    # ------------------------------------------------------------------ scenario setup

    def set_document(self, report_type: str, marketplace_id: str, content: bytes, *,
                     charset: str | None = "UTF-8", gzip: bool = True) -> None:
        """What a report of this type and (first) marketplace produces when it completes."""
        with self._lock:
            self._documents_by_key[(report_type, marketplace_id)] = _DocumentSpec(
                bytes(content), charset, gzip)

    def set_document_maker(self, report_type: str, marketplace_id: str,
                           make: Callable[[datetime, datetime, dict[str, Any]], bytes]) -> None:
        """Documents of this type and marketplace made from the request: ``make(data start,
        data end, report options)`` (the ledger answers for the asked date range)."""
        def from_report(report: _Report) -> bytes:
            if not (report.data_start_time and report.data_end_time):
                raise ValueError(f"{report_type} was requested without a date range")
            return make(_parse_time(report.data_start_time), _parse_time(report.data_end_time),
                        report.report_options or {})

        with self._lock:
            self._makers[(report_type, marketplace_id)] = from_report

    def age_reports(self, seconds: float) -> None:
        """Move every existing report ``seconds`` into the past (a day passes between runs)."""
        with self._lock:
            for report in self._reports.values():
                report.created -= timedelta(seconds=seconds)
                report.created_mono -= seconds

    def set_seller_documents(self, refresh_token: str, documents: SellerDocuments) -> None:
        """The documents of the seller with this refresh token: ``documents(reportType,
        marketplaceId)`` when one of its reports finishes DONE (None: the per-key ones)."""
        with self._lock:
            self._seller_documents[refresh_token] = documents

    def throttled(self, refresh_token: str | None = None) -> int:
        """429s from empty buckets, for one seller (all when None)."""
        with self._lock:
            return sum(n for (seller, _, _), n in self.throttled_by.items()
                       if refresh_token is None or seller == refresh_token)

    def queue_documents(self, report_type: str, marketplace_id: str,
                        contents: list[bytes]) -> None:
        """The next reports of this type and marketplace produce these, one each, in order
        (then ``set_document``'s): a collapsed report and the full one asked for after it."""
        with self._lock:
            self._queued.setdefault((report_type, marketplace_id), deque()).extend(
                bytes(c) for c in contents)

    def set_outcome(self, report_type: str, marketplace_id: str,
                    status: Literal["DONE", "FATAL", "CANCELLED"],
                    failure_document: bytes | None = None) -> None:
        """How future reports of this type and marketplace finish (sticky until changed)."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"status must be one of {FINAL_STATUSES}, not {status!r}")
        if failure_document is not None and status != "FATAL":
            raise ValueError("only a FATAL report carries a failure document")
        with self._lock:
            self._outcomes[(report_type, marketplace_id)] = (status, failure_document)

    def throttle(self, operation: str, times: int, *, with_errors_body: bool = True) -> None:
        """The next `times` calls of `operation` answer 429 (after any earlier scripts)."""
        self._script(operation, times, _Scripted(429, with_errors_body, throttle=True))

    def fail(self, operation: str, times: int, status: int = 500, *,
             with_errors_body: bool = True) -> None:
        """The next `times` calls of `operation` answer `status` (after any earlier scripts)."""
        if status < 400:
            raise ValueError("fail() scripts error statuses (>= 400)")
        self._script(operation, times, _Scripted(status, with_errors_body, throttle=False))

    def _script(self, operation: str, times: int, action: _Scripted) -> None:
        with self._lock:
            self._scripted.setdefault(operation, deque()).extend([action] * times)

    def add_existing_report(self, report_type: str, marketplace_id: str, *,
                            status: str = "DONE", created_ago_seconds: float,
                            content: bytes | None = None) -> str:
        """A report Amazon already has. Its status is fixed. A DONE one has a document:
        `content`, else what set_document says for the key, else empty."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        now_mono, now = time.monotonic(), datetime.now(UTC)
        with self._lock:
            report = _Report(
                report_id=_next_report_id(), report_type=report_type,
                marketplace_ids=[marketplace_id],
                created=now - timedelta(seconds=created_ago_seconds),
                created_mono=now_mono - created_ago_seconds,
                generation_seconds=0.0, seq=next(self._seq),
                forced_status=status, fixed=True,
            )
            if status == "DONE" and content is not None:
                spec = self._documents_by_key.get(report.key, _DocumentSpec(b""))
                self._new_document(report, _DocumentSpec(bytes(content), spec.charset, spec.gzip))
            self._reports[report.report_id] = report
            return report.report_id

    # ------------------------------------------------------------------ report state

    def _status(self, report: _Report, now_mono: float) -> str:
        if report.final_status is not None:
            return report.final_status
        if report.fixed:
            status = report.forced_status or "DONE"
            if status in FINAL_STATUSES:
                self._finish(report, status)
            return status
        elapsed = now_mono - report.created_mono
        gen = report.generation_seconds
        if elapsed < gen / 3:
            return "IN_QUEUE"
        if elapsed < gen:
            return "IN_PROGRESS"
        if report.forced_status is not None:
            self._finish(report, report.forced_status, report.forced_failure_document)
        else:
            status, failure = self._outcomes.get(report.key, ("DONE", None))
            self._finish(report, status, failure)
        return report.final_status or "DONE"

    def _finish(self, report: _Report, status: str, failure: bytes | None = None) -> None:
        """Freeze the outcome (and the document) the first time a report is seen finished."""
        report.final_status = status
        if report.document_id is not None:
            return
        if status == "DONE":
            spec = self._documents_by_key.get(report.key, _DocumentSpec(b""))
            own = self._seller_documents.get(report.seller) if report.seller else None
            mine = own(*report.key) if own is not None else None
            queued = self._queued.get(report.key)
            if mine is not None:
                spec = mine
            elif queued:
                spec = _DocumentSpec(queued.popleft(), spec.charset, spec.gzip)
            elif report.key in self._makers:
                spec = _DocumentSpec(self._makers[report.key](report), spec.charset, spec.gzip)
            self._new_document(report, spec)
        elif status == "FATAL" and failure is not None:
            self._new_document(report, _DocumentSpec(bytes(failure)))

    def _new_document(self, report: _Report, spec: _DocumentSpec) -> None:
        doc_id = f"amzn1.spdoc.1.4.na.{uuid.uuid4()}"
        self._documents[doc_id] = _Document(doc_id, spec)
        if report.seller is not None:
            self._document_owner[doc_id] = report.seller
        report.document_id = doc_id

    def _report_json(self, report: _Report, now_mono: float) -> dict[str, Any]:
        status = self._status(report, now_mono)
        gen = report.generation_seconds
        out: dict[str, Any] = {
            "reportId": report.report_id,
            "reportType": report.report_type,
            "marketplaceIds": list(report.marketplace_ids),
            "dataStartTime": report.data_start_time or _iso(report.created),
            "dataEndTime": report.data_end_time or _iso(report.created),
            "createdTime": _iso(report.created),
            "processingStatus": status,
        }
        if status != "IN_QUEUE" and not report.cancelled_in_queue:
            out["processingStartTime"] = _iso(report.created + timedelta(seconds=gen / 3))
        if status in FINAL_STATUSES:
            out["processingEndTime"] = _iso(report.created + timedelta(seconds=gen))
        if report.document_id is not None and status in ("DONE", "FATAL"):
            out["reportDocumentId"] = report.document_id
        return out

    # ------------------------------------------------------------------ operations

    def _create_report(self, body: bytes, seller: str | None = None) -> tuple[int, bytes]:
        try:
            spec = json.loads(body or b"null")
        except ValueError:
            return 400, errors_body("InvalidInput", "The request body is not valid JSON.")
        if not isinstance(spec, dict):
            return 400, errors_body("InvalidInput", "The request body must be a JSON object.")
        report_type = spec.get("reportType")
        marketplace_ids = spec.get("marketplaceIds")
        if not isinstance(report_type, str) or not report_type:
            return 400, errors_body("InvalidInput", "reportType is required.")
        if (not isinstance(marketplace_ids, list) or not 1 <= len(marketplace_ids) <= 25
                or not all(isinstance(m, str) and m for m in marketplace_ids)):
            return 400, errors_body("InvalidInput",
                                    "marketplaceIds must be a list of 1 to 25 marketplace ids.")
        options = spec.get("reportOptions")
        if options is not None and not (isinstance(options, dict)
                                        and all(isinstance(v, str) for v in options.values())):
            return 400, errors_body("InvalidInput", "reportOptions must map strings to strings.")
        for name in ("dataStartTime", "dataEndTime"):
            if spec.get(name) is not None:
                try:
                    _parse_time(str(spec[name]))
                except ValueError:
                    return 400, errors_body("InvalidInput", f"{name} is not an ISO 8601 time.")
        now_mono, now = time.monotonic(), datetime.now(UTC)
        with self._lock:
            report = _Report(
                report_id=_next_report_id(), report_type=report_type,
                marketplace_ids=list(marketplace_ids), created=now, created_mono=now_mono,
                generation_seconds=max(0.0, float(self.generation_seconds)),
                seq=next(self._seq), report_options=options,
                data_start_time=_normalized_time(spec.get("dataStartTime")),
                data_end_time=_normalized_time(spec.get("dataEndTime")), seller=seller,
            )
            window = self.regeneration_window_seconds.get(report_type, 0.0)
            if window > 0 and self._produced_within(report.key, now_mono, window, seller):
                report.forced_status = "FATAL"
            self._reports[report.report_id] = report
        return 202, json.dumps({"reportId": report.report_id}).encode()

    def _produced_within(self, key: tuple[str, str], now_mono: float, window: float,
                         seller: str | None = None) -> bool:
        """A previous report of this type+marketplace, for this seller, was requested within
        the window and did not itself fail (FATAL/CANCELLED ones do not restart the clock)."""
        for other in self._reports.values():
            if (other.key != key or now_mono - other.created_mono >= window
                    or not _visible(other, seller)):
                continue
            if self._status(other, now_mono) not in ("FATAL", "CANCELLED"):
                return True
        return False

    def _get_report(self, report_id: str, seller: str | None = None) -> tuple[int, bytes]:
        with self._lock:
            report = self._reports.get(report_id)
            if report is None or not _visible(report, seller):
                return 404, errors_body("NotFound", f"Report {report_id} not found.")
            return 200, json.dumps(self._report_json(report, time.monotonic())).encode()

    def _cancel_report(self, report_id: str, seller: str | None = None) -> tuple[int, bytes]:
        with self._lock:
            report = self._reports.get(report_id)
            if report is None or not _visible(report, seller):
                return 404, errors_body("NotFound", f"Report {report_id} not found.")
            status = self._status(report, time.monotonic())
            if status != "IN_QUEUE":
                return 400, errors_body(
                    "InvalidInput", f"Only IN_QUEUE reports can be cancelled, not {status}.")
            report.final_status = "CANCELLED"
            report.cancelled_in_queue = True
            return 200, b""

    def _get_reports(self, query: dict[str, list[str]],
                     seller: str | None = None) -> tuple[int, bytes]:
        now_mono, now = time.monotonic(), datetime.now(UTC)
        if "nextToken" in query:
            others = [k for k in query if k != "nextToken"]
            if others:
                return 400, errors_body(
                    "InvalidInput", "nextToken must be the only parameter; also got "
                    + ", ".join(sorted(others)) + ".")
            with self._lock:
                remaining = self._page_tokens.pop(query["nextToken"][-1], None)
            if remaining is None:
                return 400, errors_body("InvalidInput", "Invalid nextToken.")
            page_size = int(remaining[0])
            ids = remaining[1:]
        else:
            report_types = _split_list(query.get("reportTypes"))
            statuses = _split_list(query.get("processingStatuses"))
            marketplaces = _split_list(query.get("marketplaceIds"))
            if not report_types:
                return 400, errors_body("InvalidInput",
                                        "Either reportTypes or nextToken is required.")
            if len(report_types) > 10:
                return 400, errors_body("InvalidInput", "At most 10 reportTypes.")
            if len(marketplaces) > 10:
                return 400, errors_body("InvalidInput", "At most 10 marketplaceIds.")
            bad = [s for s in statuses if s not in STATUSES]
            if bad:
                return 400, errors_body("InvalidInput", f"Invalid processingStatuses: {bad}.")
            try:
                page_size = int(query.get("pageSize", ["10"])[-1])
            except ValueError:
                page_size = 0
            if not 1 <= page_size <= 100:
                return 400, errors_body("InvalidInput", "pageSize must be between 1 and 100.")
            try:
                since = (_parse_time(query["createdSince"][-1]) if "createdSince" in query
                         else now - timedelta(days=90))
                until = (_parse_time(query["createdUntil"][-1]) if "createdUntil" in query
                         else now)
            except ValueError:
                return 400, errors_body("InvalidInput",
                                        "createdSince/createdUntil must be ISO 8601.")
            with self._lock:
                matching = [
                    r for r in self._reports.values()
                    if r.report_type in report_types and _visible(r, seller)
                    and (not marketplaces or set(r.marketplace_ids) & set(marketplaces))
                    and since <= r.created <= until
                    and (not statuses or self._status(r, now_mono) in statuses)
                ]
            matching.sort(key=lambda r: (r.created_mono, r.seq), reverse=True)
            ids = [r.report_id for r in matching]
        page, rest = ids[:page_size], ids[page_size:]
        out: dict[str, Any] = {}
        with self._lock:
            out["reports"] = [self._report_json(self._reports[i], now_mono) for i in page]
            if rest:
                token = uuid.uuid4().hex
                self._page_tokens[token] = [str(page_size), *rest]
                out["nextToken"] = token
        return 200, json.dumps(out).encode()

    def _get_report_document(self, document_id: str,
                             seller: str | None = None) -> tuple[int, bytes]:
        with self._lock:
            document = self._documents.get(document_id)
            owner = self._document_owner.get(document_id)
            if document is None or (owner is not None and seller is not None
                                    and owner != seller):
                return 404, errors_body("NotFound", f"Report document {document_id} not found.")
            token = uuid.uuid4().hex
            self._downloads[token] = (document_id, time.monotonic())
        out = {"reportDocumentId": document_id, "url": f"{self.url}{DOWNLOAD_PREFIX}{token}"}
        if document.spec.gzip:
            out["compressionAlgorithm"] = "GZIP"
        return 200, json.dumps(out).encode()

    def refuse_url(self, entry: tuple[str, float] | None) -> tuple[int, bytes] | None:
        """S3's answer to a pre-signed URL that was never issued or has expired (the TTL,
        or ``expire_next_downloads``), else None; under ``_lock``, whose report or Data
        Kiosk document it is."""
        if entry is None:
            return 403, s3_error("AccessDenied", "Access Denied")
        expired = time.monotonic() - entry[1] > self.download_url_ttl_seconds
        if self.expire_next_downloads > 0:
            self.expire_next_downloads -= 1
            expired = True
        if not expired:
            return None
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return 403, s3_error("AccessDenied", "Request has expired", **{
            "X-Amz-Expires": str(int(self.download_url_ttl_seconds)), "Expires": now,
            "ServerTime": now})

    def _download(self, token: str) -> tuple[int, bytes, dict[str, str]]:
        xml = {"Content-Type": "application/xml"}
        with self._lock:
            entry = self._downloads.get(token)
            refused = self.refuse_url(entry)
            if refused is not None or entry is None:
                status, body = refused or (403, b"")
                return status, body, xml
            spec = self._documents[entry[0]].spec
        content = spec.served()
        content_type = f"text/plain; charset={spec.charset}" if spec.charset else "text/plain"
        return 200, content, {"Content-Type": content_type}

    def _token(self, body: bytes) -> tuple[int, bytes]:
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"),
                                              keep_blank_values=True).items()}

        def lwa_error(status: int, error: str, description: str | None = None) -> tuple[int, bytes]:
            desc = description or _LWA_DESCRIPTIONS.get(error, error)
            return status, json.dumps({"error": error, "error_description": desc}).encode()

        if self.token_error:
            return lwa_error(401 if self.token_error == "invalid_client" else 400, self.token_error)
        if not form.get("client_id") or not form.get("client_secret"):
            return lwa_error(401, "invalid_client")
        grant_type = form.get("grant_type")
        if grant_type == "refresh_token":
            if not form.get("refresh_token"):
                return lwa_error(400, "invalid_request",
                                 "The request is missing a required parameter : refresh_token")
        elif grant_type == "client_credentials":
            if not form.get("scope"):
                return lwa_error(400, "invalid_scope", "The request has an invalid scope")
        else:
            return lwa_error(400, "unsupported_grant_type",
                             f"The grant type {grant_type!r} is not supported")
        access_token = f"Atza|fake-{uuid.uuid4().hex}"
        ttl = self.access_token_ttl
        seller = form.get("refresh_token") if grant_type == "refresh_token" else None
        with self._lock:
            self._access_tokens[access_token] = time.monotonic() + ttl
            self._grants[access_token] = (seller, form.get("client_id"))
        out: dict[str, Any] = {"access_token": access_token, "token_type": "bearer",
                               "expires_in": ttl}
        if grant_type == "refresh_token":
            out["refresh_token"] = form["refresh_token"]
        return 200, json.dumps(out).encode()

    # ------------------------------------------------------------------ dispatch

    def _check_token(self, headers: dict[str, str]) -> bytes | None:
        token = headers.get("x-amz-access-token")
        if not token:
            return errors_body("Unauthorized", "Access to requested resource is denied.",
                               "The request is missing the x-amz-access-token header.")
        with self._lock:
            expiry = self._access_tokens.get(token)
        if expiry is None:
            return errors_body("Unauthorized", "Access to requested resource is denied.",
                               "The access token you provided is revoked, malformed or invalid.")
        if time.monotonic() >= expiry:
            return errors_body("Unauthorized", "Access to requested resource is denied.",
                               "The access token you provided has expired.")
        return None

    def _take_bucket_token(self, operation: str, seller: str | None = None,
                           app: str | None = None) -> bool:
        """Token bucket per (seller, app, operation), as Amazon's usage plans are; False
        when the request exceeds the rate."""
        rate, burst = self.rate_limits[operation]
        rate *= self.rate_scale
        now = time.monotonic()
        key = (seller, app, operation)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(burst), now)
            bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens >= 1.0 - rate * self.rate_tolerance_seconds:
                bucket.tokens -= 1.0
                return True
            self.self_throttled += 1
            self.throttled_by[key] = self.throttled_by.get(key, 0) + 1
            return False

    def _rate_header(self, operation: str) -> str | None:
        if self.rate_limit_header is not None:
            return self.rate_limit_header
        if self.enforce_rate_limits and operation in self.rate_limits:
            return f"{self.rate_limits[operation][0] * self.rate_scale:g}"
        return None

    def _scripted_response(self, operation: str) -> tuple[int, bytes, dict[str, str]] | None:
        with self._lock:
            queue = self._scripted.get(operation)
            action = queue.popleft() if queue else None
        if action is None:
            return None
        status = action.status
        if operation == "token":
            if not action.with_errors_body:
                return status, b"", {"Content-Type": "text/plain"}
            error = ("server_error" if status >= 500
                     else "slow_down" if status == 429 else "invalid_request")
            return status, json.dumps({"error": error, "error_description":
                                       _LWA_DESCRIPTIONS.get(error, error)}).encode(), {}
        if operation == "download":
            code = ("SlowDown" if status in (429, 503)
                    else "InternalError" if status >= 500 else "AccessDenied")
            return status, s3_error(code, "Scripted failure"), {"Content-Type": "application/xml"}
        if not action.with_errors_body:
            # Amazon sometimes answers throttling/gateway errors with no JSON at all.
            return status, b"", {"Content-Type": "text/plain"}
        code, message = _ERROR_CODES.get(status, ("InternalFailure", "Error"))
        return status, errors_body(code, message), {}

    def handle(
        self, method: str, raw_path: str, body: bytes, headers: dict[str, str],
    ) -> tuple[int, bytes, dict[str, str], str, dict[str, list[str]], str]:
        """Answer one request: (status, body, headers, operation, query, path)."""
        split = urlsplit(raw_path)
        path = split.path
        query = parse_qs(split.query, keep_blank_values=True)
        operation, arg = _classify(method, path)
        out_headers: dict[str, str] = {}
        status: int
        payload: bytes

        if operation in SP_API_OPERATIONS or operation == "other":
            out_headers["x-amzn-RequestId"] = str(uuid.uuid4())
            rate = self._rate_header(operation)
            if rate is not None:
                out_headers["x-amzn-RateLimit-Limit"] = rate
            out_headers["Content-Type"] = "application/json"
            denied = self._check_token(headers)
            if denied is not None:
                return 403, denied, out_headers, operation, query, path
            scripted = self._scripted_response(operation)
            if scripted is not None:
                status, payload, extra = scripted
                out_headers.update(extra)
                return status, payload, out_headers, operation, query, path
            with self._lock:
                seller, app = self._grants.get(headers.get("x-amz-access-token", ""),
                                               (None, None))
            if (self.enforce_rate_limits and operation in self.rate_limits
                    and not self._take_bucket_token(operation, seller, app)):
                code, message = _ERROR_CODES[429]
                return 429, errors_body(code, message), out_headers, operation, query, path
            if operation in DATA_KIOSK_OPERATIONS:  # queries are the refresh token's own
                status, payload = self.data_kiosk.handle(operation, arg, body, query, seller)
                return status, payload, out_headers, operation, query, path
            with self._lock:  # reports are a registered seller's own (see the docstring)
                seller = seller if seller in self._seller_documents else None
            if operation == "createReport":
                status, payload = self._create_report(body, seller)
            elif operation == "getReports":
                status, payload = self._get_reports(query, seller)
            elif operation == "getReport":
                status, payload = self._get_report(arg, seller)
            elif operation == "getReportDocument":
                status, payload = self._get_report_document(arg, seller)
            elif operation == "cancelReport":
                status, payload = self._cancel_report(arg, seller)
            else:
                status, payload = 404, errors_body("NotFound", f"No operation at {method} {path}.")
            return status, payload, out_headers, operation, query, path

        scripted = self._scripted_response(operation)
        if scripted is not None:
            status, payload, extra = scripted
            extra.setdefault("Content-Type", "application/json")
            return status, payload, extra, operation, query, path
        if operation == "token":
            status, payload = self._token(body)
            return status, payload, {"Content-Type": "application/json;charset=UTF-8"}, \
                operation, query, path
        if self.data_kiosk.serves(arg):
            status, payload, extra = self.data_kiosk.download(arg)
        else:
            status, payload, extra = self._download(arg)
        return status, payload, extra, operation, query, path


def _visible(report: _Report, seller: str | None) -> bool:
    """Whether ``seller`` (None: a grantless caller) sees ``report``."""
    return report.seller is None or seller is None or report.seller == seller


def _classify(method: str, path: str) -> tuple[str, str]:
    """(operation, path argument)."""
    if path == TOKEN_PATH:
        return ("token", "") if method == "POST" else ("other", "")
    if path.startswith(DOWNLOAD_PREFIX) and method == "GET":
        return "download", path[len(DOWNLOAD_PREFIX):]
    if (kiosk := classify_data_kiosk(method, path)) is not None:
        return kiosk
    reports = f"{REPORTS_PREFIX}/reports"
    documents = f"{REPORTS_PREFIX}/documents/"
    if path == reports:
        return {"POST": ("createReport", ""), "GET": ("getReports", "")}.get(method, ("other", ""))
    if path.startswith(reports + "/") and "/" not in path[len(reports) + 1:]:
        report_id = unquote(path[len(reports) + 1:])
        return {"GET": ("getReport", report_id),
                "DELETE": ("cancelReport", report_id)}.get(method, ("other", ""))
    if path.startswith(documents) and "/" not in path[len(documents):] and method == "GET":
        return "getReportDocument", unquote(path[len(documents):])
    return "other", ""


def _make_handler(fake: FakeSpApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so nothing outlives stop().
        protocol_version = "HTTP/1.0"
        server_version = "FakeSpApi/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _read_body(self) -> bytes:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _serve(self) -> None:
            arrived = time.monotonic()
            body = self._read_body()
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                status, payload, out_headers, operation, query, path = fake.handle(
                    self.command, self.path, body, headers)
            except Exception as exc:  # a bug in the fake: answer 500, record it
                status = 500
                payload = errors_body("InternalFailure", f"fake crashed: {exc!r}")
                out_headers = {"Content-Type": "application/json"}
                split = urlsplit(self.path)
                operation, query, path = "other", parse_qs(split.query), split.path
            with fake._lock:
                fake.requests.append(Recorded(
                    method=self.command, path=path, query=query, body=body, headers=headers,
                    status=status, operation=operation, at=arrived))
            self.send_response(status)
            for name, value in out_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD" and payload:
                self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _serve

    return Handler


def token_client_for(fake: FakeSpApi) -> type[AccessTokenClient]:
    """An AccessTokenClient subclass that asks `fake` (plain HTTP) for LWA tokens."""
    from sp_api.auth import AccessTokenClient

    if not fake.url:
        raise RuntimeError("start the FakeSpApi before asking for its token client")
    host = fake.url.removeprefix("http://")
    return type("FakeLwaTokenClient", (AccessTokenClient,), {"scheme": "http://", "host": host})


def account_toml(fake: FakeSpApi, name: str, marketplaces: Sequence[str],
                 **sp_api: str | float) -> str:
    """ipi's configuration (TOML) of an account that fetches from ``fake``: its
    ``[[accounts]]`` table, ``source = "sp-api"``, and its ``[accounts.sp_api]`` table,
    pointed at the fake, with the other settings given (``poll_interval=0.02``,
    ``refresh_token_env="..."``). The fake must be started: its port is in the URLs."""
    if not fake.url:
        raise RuntimeError("start the FakeSpApi before configuring an account on it")
    table = {"endpoint": fake.url, "token_url": fake.token_url, **sp_api}
    # JSON's strings, numbers and booleans are TOML's too.
    return (f"[[accounts]]\nname = {json.dumps(name)}\n"
            f"marketplaces = {json.dumps(list(marketplaces))}\n"
            'source = "sp-api"\n[accounts.sp_api]\n'
            + "".join(f"{key} = {json.dumps(value)}\n" for key, value in table.items()))


__all__ = [
    "PUBLISHED_RATE_LIMITS",
    "Document",
    "FakeSpApi",
    "Recorded",
    "SellerDocuments",
    "account_toml",
    "errors_body",
    "token_client_for",
]
