"""The one retry layer for the SP-API: an httpx transport that paces and retries.

Amazon publishes a token bucket per operation (rate per second, burst) and says
the applied rate in each response's ``x-amzn-RateLimit-Limit`` header. Every
request waits for a token of its operation's bucket before it is sent, so a run
never causes its own 429s; a 429 that comes anyway (another app on the same
seller) or a 5xx is retried here with exponential backoff and jitter.
python-amazon-sp-api does not retry and raises on 429 only when the body has
``errors``: doing it below the library covers both.
"""

from __future__ import annotations

import functools
import logging
import random
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

log = logging.getLogger(__name__)

# Amazon's published usage plans (Reports API 2021-06-30, Data Kiosk API 2023-11-15):
# (requests per second, burst).
PUBLISHED_RATES: dict[str, tuple[float, int]] = {
    "createReport": (0.0167, 15),
    "getReports": (0.0222, 10),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
    "createQuery": (0.0167, 15),
    "getQueries": (0.0222, 10),
    "getQuery": (2.0, 15),
    "cancelQuery": (0.0222, 10),
    "getDocument": (0.0167, 15),
}
_REPORT_PATH = re.compile(r"/reports/2021-06-30/(reports|documents)(/[^/]+)?$")
_KIOSK_PATH = re.compile(r"/dataKiosk/2023-11-15/(queries|documents)(/[^/]+)?$")


def _kiosk_operation(method: str, kind: str, has_id: bool) -> str:
    if kind == "documents":
        return "getDocument"
    if has_id:
        return "getQuery" if method == "GET" else "cancelQuery"
    return "createQuery" if method == "POST" else "getQueries"


def operation_of(method: str, path: str) -> str:
    """The SP-API operation a request is for ('other' when it is none of the report or
    Data Kiosk ones)."""
    m = _REPORT_PATH.search(path)
    if not m:
        if k := _KIOSK_PATH.search(path):
            return _kiosk_operation(method, k.group(1), bool(k.group(2)))
        return "token" if path.endswith("/auth/o2/token") else "other"
    kind, has_id = m.group(1), bool(m.group(2))
    if kind == "documents":
        return "getReportDocument"
    if has_id:
        return "getReport" if method == "GET" else "cancelReport"
    return "createReport" if method == "POST" else "getReports"


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """One TLS context for every SP-API client of the process. Building one loads the CA
    bundle (~0.1 s of CPU); a run made several per account and marketplace, which for a
    fleet of sellers cost more than loading their reports. (functools.cache: two threads
    may both build it once at start; either serves.)"""
    return httpx.create_ssl_context()


@dataclass
class _Bucket:
    rate: float
    burst: float
    tokens: float
    stamp: float


class RateLimiter:
    """Token buckets per operation, shared by every client of one seller and region."""

    def __init__(self, rates: dict[str, tuple[float, int]] | None = None, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        now = clock()
        self._buckets = {op: _Bucket(r, b, b, now)
                         for op, (r, b) in (rates or PUBLISHED_RATES).items()}

    def _refill(self, b: _Bucket, now: float) -> None:
        b.tokens = min(b.burst, b.tokens + (now - b.stamp) * b.rate)
        b.stamp = now

    def acquire(self, op: str) -> float:
        """Wait for a token of ``op``'s bucket; return how long it waited."""
        waited = 0.0
        while True:
            with self._lock:
                b = self._buckets.get(op)
                if b is None:
                    return waited
                now = self._clock()
                self._refill(b, now)
                if b.tokens >= 1.0:
                    b.tokens -= 1.0
                    return waited
                delay = (1.0 - b.tokens) / b.rate
            self._sleep(delay)
            waited += delay

    def observe(self, op: str, header: str | None) -> None:
        """Adopt the rate Amazon says it applies (``x-amzn-RateLimit-Limit``)."""
        if not header:
            return
        try:
            rate = float(header)
        except ValueError:
            return
        with self._lock:
            b = self._buckets.get(op)
            if b is not None and rate > 0 and rate != b.rate:
                self._refill(b, self._clock())
                b.rate = rate

    def rate(self, op: str) -> float | None:
        b = self._buckets.get(op)
        return b.rate if b else None


class PacedTransport(httpx.BaseTransport):
    """Waits for a rate token, sends, retries 429 and 5xx with backoff; nothing else retries.

    A 401 or 403 from an SP-API operation raises ``httpx.HTTPStatusError``.
    """

    def __init__(self, limiter: RateLimiter | None = None, *, retries: int = 5,
                 backoff: float = 1.0, max_backoff: float = 60.0,
                 inner: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.limiter = limiter
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        self._inner = inner or httpx.HTTPTransport(verify=ssl_context())
        self._sleep = sleep

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        op = operation_of(request.method, request.url.path)
        request.read()  # a body must be re-sendable
        attempt = 0
        while True:
            if self.limiter is not None:
                self.limiter.acquire(op)
            try:
                response = self._inner.handle_request(request)
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise
                # The run's log keeps each retry; a terminal hears only of a final failure.
                log.info("%s: %s; retrying", op, type(exc).__name__)
                response = None
            if response is not None:
                if self.limiter is not None:
                    self.limiter.observe(op, response.headers.get("x-amzn-RateLimit-Limit"))
                if response.status_code in (401, 403) and op not in ("token", "other"):
                    # Refused, with or without a body (the library reads an empty one as
                    # an empty success): never retried, always raised.
                    response.read()
                    raise httpx.HTTPStatusError(f"{op} answered {response.status_code}",
                                                request=request, response=response)
                retryable = response.status_code == 429 or response.status_code >= 500
                if not retryable:
                    return response
                response.read()
                if attempt >= self.retries:
                    # The library would read an empty 429/5xx body as an empty success.
                    raise httpx.HTTPStatusError(
                        f"{op} answered {response.status_code} {self.retries + 1} times; "
                        "gave up", request=request, response=response)
                response.close()
                log.info("%s answered %d; retrying (attempt %d of %d)", op,
                            response.status_code, attempt + 1, self.retries)
            delay = min(self.max_backoff, self.backoff * 2 ** attempt)
            retry_after = response.headers.get("Retry-After") if response is not None else None
            if retry_after and retry_after.replace(".", "", 1).isdigit():
                delay = max(delay, float(retry_after))
            self._sleep(delay * random.uniform(0.5, 1.0))
            attempt += 1

    def close(self) -> None:
        self._inner.close()
