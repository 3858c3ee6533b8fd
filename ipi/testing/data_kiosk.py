"""The Data Kiosk API 2023-11-15, as the fake SP-API (``ipi.testing.sp_api``) serves it.

``FakeSpApi`` routes these to ``fake.data_kiosk`` (a ``FakeDataKiosk``)::

    POST   /dataKiosk/2023-11-15/queries            createQuery  -> 202 {"queryId"}
    GET    /dataKiosk/2023-11-15/queries            getQueries
    GET    /dataKiosk/2023-11-15/queries/{id}       getQuery
    DELETE /dataKiosk/2023-11-15/queries/{id}       cancelQuery
    GET    /dataKiosk/2023-11-15/documents/{id}     getDocument  -> {"documentId", "documentUrl"}
    GET    /download/dk-<token>                     the document (JSON Lines, maybe gzip)

with the access-token check, scripted ``throttle``/``fail`` answers and the per-seller
token buckets (``enforce_rate_limits``, Amazon's published Data Kiosk rates) of the
reports. Queries are their seller's own (the refresh token behind the access token).

How a query finishes is scripted with an ``Outcome``: the next queries' in order
(``queue``), else the sticky one of its marketplace (``set_outcome``), else a DONE
without a document, Amazon's "no data". A query takes ``generation_seconds``
(IN_QUEUE for the first third, then IN_PROGRESS). As Amazon does, a query whose
``startDate`` is before today (UTC) ends FATAL with an error document.

Data documents are served as Amazon says it serves them: from a pre-signed URL that
expires (``fake.download_url_ttl_seconds``, ``fake.expire_next_downloads``), gzip ones
with ``Content-Encoding: gzip``.
"""

from __future__ import annotations

import gzip as gzip_module
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

from ipi.testing.s3 import s3_error

if TYPE_CHECKING:
    from ipi.testing.sp_api import FakeSpApi

PREFIX = "/dataKiosk/2023-11-15"
DOWNLOAD_TOKEN_PREFIX = "dk-"  # after /download/: a Data Kiosk document's URL

#: Amazon's published usage plans (requests per second, burst) of the Data Kiosk API.
DATA_KIOSK_RATE_LIMITS: dict[str, tuple[float, int]] = {
    "createQuery": (0.0167, 15),
    "getQueries": (0.0222, 10),
    "getQuery": (2.0, 15),
    "cancelQuery": (0.0222, 10),
    "getDocument": (0.0167, 15),
}
DATA_KIOSK_OPERATIONS = frozenset(DATA_KIOSK_RATE_LIMITS)
FINAL = ("DONE", "FATAL", "CANCELLED")
MAX_QUERY_CHARS = 8000  # Amazon's limit on a query's text

_query_ids = itertools.count(10_000_001)
_ids_lock = threading.Lock()


def _next_query_id() -> str:
    with _ids_lock:
        return str(next(_query_ids))


def _errors(code: str, message: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message, "details": ""}]}).encode()


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Outcome:
    """How one query finishes.

    ``document``: a DONE query's data document (None: DONE without ``dataDocumentId``,
    Amazon's "no data"); ``gzip``: served compressed, with ``Content-Encoding: gzip``;
    ``error_document``: a FATAL query's; ``missing``: the data document is gone, at
    ``getDocument`` (404) or at its URL (404 NoSuchKey).
    """

    status: Literal["DONE", "FATAL", "CANCELLED"] = "DONE"
    document: bytes | None = None
    gzip: bool = False
    error_document: bytes | None = None
    missing: Literal["getDocument", "download"] | None = None

    def __post_init__(self) -> None:
        if self.status not in FINAL:
            raise ValueError(f"status must be one of {FINAL}, not {self.status!r}")
        if self.error_document is not None and self.status != "FATAL":
            raise ValueError("only a FATAL query carries an error document")
        if self.document is not None and self.status != "DONE":
            raise ValueError("only a DONE query carries a data document")


@dataclass
class Query:
    """A query as the fake holds it (``FakeDataKiosk.queries``, in creation order)."""

    query_id: str
    text: str
    seller: str | None
    created: datetime
    created_mono: float
    generation_seconds: float
    outcome: Outcome
    marketplace_ids: list[str] = field(default_factory=list)  # read from the text
    start: date | None = None  # startDate / endDate in the text
    end: date | None = None
    final_status: str | None = None
    data_document_id: str | None = None
    error_document_id: str | None = None


@dataclass
class _Document:
    content: bytes
    gzip: bool
    seller: str | None
    missing: str | None = None
    compressed: bytes | None = None

    def served(self) -> bytes:
        if not self.gzip:
            return self.content
        if self.compressed is None:
            self.compressed = gzip_module.compress(self.content, compresslevel=1, mtime=0)
        return self.compressed


def classify(method: str, path: str) -> tuple[str, str] | None:
    """(operation, path argument) of a Data Kiosk request; None for any other path."""
    if not path.startswith(PREFIX + "/"):
        return None
    rest = path[len(PREFIX) + 1:]
    if rest == "queries":
        return {"POST": ("createQuery", ""), "GET": ("getQueries", "")}.get(
            method, ("other", ""))
    kind, _, arg = rest.partition("/")
    if not arg or "/" in arg:
        return ("other", "")
    if kind == "queries":
        return {"GET": ("getQuery", unquote(arg)),
                "DELETE": ("cancelQuery", unquote(arg))}.get(method, ("other", ""))
    if kind == "documents" and method == "GET":
        return ("getDocument", unquote(arg))
    return ("other", "")


_DATE = r'"?(\d{4}-\d{2}-\d{2})"?'


def _read_query(text: str) -> tuple[list[str], date | None, date | None]:
    mps = re.search(r"marketplaceIds\s*:\s*\[([^\]]*)\]", text)
    ids = re.findall(r'"([^"]+)"', mps.group(1)) if mps else []
    found = [re.search(rf"{name}\s*:\s*{_DATE}", text) for name in ("startDate", "endDate")]
    start, end = (date.fromisoformat(m.group(1)) if m else None for m in found)
    return ids, start, end


class FakeDataKiosk:
    """Data Kiosk's state inside one ``FakeSpApi`` (see the module docstring).

    Knobs: ``generation_seconds``; ``reject_past_start`` (FATAL for a startDate before
    today, UTC; True as at Amazon). Scripts: ``queue``, ``set_outcome``.
    """

    def __init__(self, fake: FakeSpApi) -> None:
        self._fake = fake
        self._lock = fake._lock
        self.generation_seconds: float = 0.0
        self.reject_past_start: bool = True
        self.queries: list[Query] = []
        self._by_id: dict[str, Query] = {}
        self._queued: list[Outcome] = []
        self._outcomes: dict[str, Outcome] = {}
        self._documents: dict[str, _Document] = {}
        self._downloads: dict[str, tuple[str, float]] = {}  # token -> (document, issued)

    # ------------------------------------------------------------------ scripting

    def queue(self, *outcomes: Outcome) -> None:
        """The next queries finish so, one each, in order (before ``set_outcome``'s)."""
        with self._lock:
            self._queued.extend(outcomes)

    def set_outcome(self, marketplace_id: str, outcome: Outcome) -> None:
        """How the queries for this marketplace finish, until changed."""
        with self._lock:
            self._outcomes[marketplace_id] = outcome

    def created(self) -> list[Query]:
        """The queries accepted, in order."""
        with self._lock:
            return list(self.queries)

    # ------------------------------------------------------------------ the server side

    def serves(self, token: str) -> bool:
        return token.startswith(DOWNLOAD_TOKEN_PREFIX)

    def handle(self, operation: str, arg: str, body: bytes, query: dict[str, list[str]],
               seller: str | None) -> tuple[int, bytes]:
        if operation == "createQuery":
            return self._create(body, seller)
        if operation == "getQueries":
            return self._list(seller)
        if operation == "getQuery":
            return self._get(arg, seller)
        if operation == "cancelQuery":
            return self._cancel(arg, seller)
        if operation == "getDocument":
            return self._get_document(arg, seller)
        return 404, _errors("NotFound", "No such Data Kiosk operation.")

    def _create(self, body: bytes, seller: str | None) -> tuple[int, bytes]:
        try:
            spec = json.loads(body or b"null")
        except ValueError:
            return 400, _errors("InvalidInput", "The request body is not valid JSON.")
        text = spec.get("query") if isinstance(spec, dict) else None
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_QUERY_CHARS:
            return 400, _errors("InvalidInput", f"query must be a GraphQL query of 1 to "
                                                f"{MAX_QUERY_CHARS} characters.")
        ids, start, end = _read_query(text)
        with self._lock:
            key = ids[0] if ids else ""
            outcome = (self._queued.pop(0) if self._queued
                       else self._outcomes.get(key, Outcome()))
            if self.reject_past_start and start is not None \
                    and start < datetime.now(UTC).date():
                outcome = Outcome("FATAL", error_document=json.dumps({"errors": [{
                    "message": "startDate must not be before today."}]}).encode())
            q = Query(_next_query_id(), text, seller, datetime.now(UTC), time.monotonic(),
                      max(0.0, float(self.generation_seconds)), outcome, ids, start, end)
            self.queries.append(q)
            self._by_id[q.query_id] = q
        return 202, json.dumps({"queryId": q.query_id}).encode()

    def _status(self, q: Query) -> str:
        if q.final_status is not None:
            return q.final_status
        elapsed = time.monotonic() - q.created_mono
        if elapsed < q.generation_seconds / 3:
            return "IN_QUEUE"
        if elapsed < q.generation_seconds:
            return "IN_PROGRESS"
        self._finish(q, q.outcome.status)
        return q.outcome.status

    def _finish(self, q: Query, status: str) -> None:
        q.final_status = status
        o = q.outcome
        if status == "DONE" and o.document is not None:
            q.data_document_id = self._new_document(o.document, o.gzip, q.seller, o.missing)
        elif status == "FATAL" and o.error_document is not None:
            q.error_document_id = self._new_document(o.error_document, False, q.seller)

    def _new_document(self, content: bytes, gzip: bool, seller: str | None,
                      missing: str | None = None) -> str:
        doc_id = f"amzn1.tortuga.4.na.{uuid.uuid4()}"
        self._documents[doc_id] = _Document(bytes(content), gzip, seller, missing)
        return doc_id

    def _json(self, q: Query) -> dict[str, Any]:
        status = self._status(q)
        gen = q.generation_seconds
        out: dict[str, Any] = {"queryId": q.query_id, "query": q.text,
                               "createdTime": _iso(q.created), "processingStatus": status}
        if status != "IN_QUEUE":
            out["processingStartTime"] = _iso(q.created + timedelta(seconds=gen / 3))
        if status in FINAL:
            out["processingEndTime"] = _iso(q.created + timedelta(seconds=gen))
        if q.data_document_id:
            out["dataDocumentId"] = q.data_document_id
        if q.error_document_id:
            out["errorDocumentId"] = q.error_document_id
        return out

    def _mine(self, query_id: str, seller: str | None) -> Query | None:
        q = self._by_id.get(query_id)
        return q if q is not None and q.seller == seller else None

    def _get(self, query_id: str, seller: str | None) -> tuple[int, bytes]:
        with self._lock:
            q = self._mine(query_id, seller)
            if q is None:
                return 404, _errors("NotFound", f"Query {query_id} not found.")
            return 200, json.dumps(self._json(q)).encode()

    def _list(self, seller: str | None) -> tuple[int, bytes]:
        with self._lock:
            mine = [self._json(q) for q in reversed(self.queries) if q.seller == seller]
        return 200, json.dumps({"queries": mine[:10]}).encode()

    def _cancel(self, query_id: str, seller: str | None) -> tuple[int, bytes]:
        with self._lock:
            q = self._mine(query_id, seller)
            if q is None:
                return 404, _errors("NotFound", f"Query {query_id} not found.")
            status = self._status(q)
            if status in FINAL:
                return 400, _errors("InvalidInput", f"Query {query_id} is {status}: only "
                                                    "IN_QUEUE or IN_PROGRESS queries cancel.")
            q.final_status = "CANCELLED"
            return 204, b""

    def _get_document(self, document_id: str, seller: str | None) -> tuple[int, bytes]:
        with self._lock:
            doc = self._documents.get(document_id)
            if doc is None or doc.seller != seller or doc.missing == "getDocument":
                return 404, _errors("NotFound", f"Document {document_id} not found.")
            token = f"{DOWNLOAD_TOKEN_PREFIX}{uuid.uuid4().hex}"
            self._downloads[token] = (document_id, time.monotonic())
        url = f"{self._fake.url}/download/{token}"
        return 200, json.dumps({"documentId": document_id, "documentUrl": url}).encode()

    def download(self, token: str) -> tuple[int, bytes, dict[str, str]]:
        """The document behind a pre-signed URL, as S3 answers it."""
        xml = {"Content-Type": "application/xml"}
        with self._lock:
            entry = self._downloads.get(token)
            refused = self._fake.refuse_url(entry)
            if refused is not None or entry is None:
                status, body = refused or (403, b"")
                return status, body, xml
            doc = self._documents[entry[0]]
            if doc.missing == "download":
                return 404, s3_error("NoSuchKey", "The specified key does not exist."), xml
            content = doc.served()
        headers = {"Content-Type": "application/octet-stream"}
        if doc.gzip:
            headers["Content-Encoding"] = "gzip"
        return 200, content, headers


__all__ = ["DATA_KIOSK_OPERATIONS", "DATA_KIOSK_RATE_LIMITS", "FakeDataKiosk", "Outcome",
           "Query", "classify"]
