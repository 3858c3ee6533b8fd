"""Amazon's own fee forecast, from the Data Kiosk API 2023-11-15 through python-amazon-sp-api.

Data Kiosk answers GraphQL queries asynchronously: ``createQuery`` gives a query id,
``getQuery`` its status until it is DONE (with a ``dataDocumentId``, or without one when
there is no data), FATAL (with an ``errorDocumentId``) or CANCELLED, and
``getDocument`` a pre-signed URL that serves the result as JSON Lines, maybe gzip. ipi
asks the economics dataset's ``economicsPreview`` for one marketplace and a window of
coming days: per MSKU, the aged inventory surcharge, the low-inventory-level fee and the
storage utilization surcharge Amazon expects to charge.

The client is set up as the Reports API's (``ipi.sources.sp_api.sp_client``): the same
credentials, endpoint and token URL rules, every call paced by the seller's token buckets
and retried at the HTTP boundary (``ipi.sources.pacing``, which holds Data Kiosk's
published rates). The document is fetched with httpx as Amazon serves it: its raw bytes
(``iter_raw``: a gzip ``Content-Encoding`` is not undone by httpx, where no limit would
apply), capped in size, for the landing zone; ``ipi.fees.amazon`` decompresses it under
its limits and reads it.

Nothing here raises for what Amazon answers: ``preview`` returns a ``Preview`` whose
``outcome`` says what happened and whose ``reason`` says it in one line (never a
document's content, never a secret).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import httpx
from sp_api.api import DataKiosk
from sp_api.base.exceptions import SellingApiException, SellingApiNotFoundException

from ipi.errors import ConfigError
from ipi.fees.amazon import AMAZON_FEE_TYPES, LIMITS
from ipi.settings import Account
from ipi.sources.pacing import PacedTransport, RateLimiter, ssl_context
from ipi.sources.sp_api import (
    Credentials,
    describe,
    marketplace,
    poll_wait,
    refused,
    sp_client,
)

log = logging.getLogger(__name__)

SCHEMA = "analytics_economics_2024_03_15"
HORIZON_DAYS = 120  # how far ahead Amazon previews fees
# Amazon's roles page lists the economics dataset under this role; a 403 names it.
ROLE_HINT = ("the SP-API app needs the 'Finance and Accounting' role for Data Kiosk's "
             "economics dataset, and the seller must authorize it again after a role change "
             "(the reports work without it)")
_EXPIRED_TRIES = 3  # pre-signed URLs expire after five minutes: ask for a fresh one

Outcome = Literal["ok", "no_data", "fatal", "cancelled", "missing", "error"]


def preview_query(marketplace_id: str, start: date, end: date) -> str:
    """The GraphQL of an economicsPreview for one marketplace and window (both days in):
    per MSKU over the whole window, Amazon's three inventory fees."""
    fee_types = ", ".join(AMAZON_FEE_TYPES)
    return (
        f"query {{ {SCHEMA} {{ economicsPreview("
        f'startDate: "{start.isoformat()}", endDate: "{end.isoformat()}", '
        "aggregateBy: {date: RANGE, productId: MSKU}, "
        f'marketplaceIds: ["{marketplace_id}"], feeTypes: [{fee_types}]) '
        "{ startDate endDate marketplaceId msku fnsku fees { feeTypeName charges { "
        "aggregatedDetail { amount { amount currencyCode } totalAmount { amount "
        "currencyCode } quantity } } } } } }")


@dataclass(frozen=True)
class Preview:
    """What Amazon answered for one marketplace's preview.

    ``ok``: ``content`` is the data document as served; ``no_data``: DONE without one;
    ``fatal``: Amazon could not run the query (``content``: its error document, to keep,
    never to quote); ``cancelled``; ``missing``: the document was gone (getDocument or its
    URL answered 404, or the URL kept expiring); ``error``: anything else (refused,
    throttled past the retries, unreachable, timed out, too big), ``reason`` says which.
    """

    outcome: Outcome
    marketplace: str
    marketplace_id: str
    start: date
    end: date
    query_id: str | None = None
    content: bytes | None = None
    reason: str | None = None  # one line for the operator (None when ok or no data)


class _Gone(Exception):
    """The document is not there any more."""


class _TooBig(Exception):
    """The document is past the size limit."""


class _Failed(Exception):
    """The document's URL answered an error."""


class DataKioskSource:
    """Amazon's fee preview for one SP-API account, one marketplace and window at a time.

    ``limiter``: the seller's token buckets, shared with its Reports API source when the
    run has one (Amazon's buckets are per seller and application); a new one otherwise.
    """

    def __init__(self, account: Account, credentials: Credentials, *,
                 limiter: RateLimiter | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.account = account
        self.cfg = account.sp_api
        self.credentials = credentials
        self._sleep, self._clock = sleep, clock
        self.limiter = limiter or RateLimiter(sleep=sleep, clock=clock)
        self._clients: dict[str, DataKiosk] = {}
        transport = PacedTransport(retries=self.cfg.retries, backoff=self.cfg.backoff,
                                   sleep=sleep)
        self._download = httpx.Client(transport=transport, timeout=300, verify=ssl_context())

    def _call(self, code: str, what: str, fn: Callable[[DataKiosk], Any]) -> Any:
        def call() -> Any:
            if code not in self._clients:
                self._clients[code] = sp_client(DataKiosk, code, self.cfg, self.credentials,
                                                self.limiter, sleep=self._sleep)
            return fn(self._clients[code])
        return refused(self.account, code, what, call, role_hint=ROLE_HINT)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._download.close()

    def preview(self, code: str, start: date, end: date) -> Preview:
        """Ask Amazon for ``code``'s fee preview over ``start``..``end`` and wait for it
        (at most ``sp_api.poll_deadline``); never raises for what Amazon answers."""
        try:
            mp_id = marketplace(code).marketplace_id
        except ConfigError as exc:
            return Preview("error", code, "", start, end, reason=str(exc))

        def answer(outcome: Outcome, reason: str | None = None, *,
                   query_id: str | None = None, content: bytes | None = None) -> Preview:
            if reason:
                log.warning("%s %s fee forecast: %s", self.account.name, code, reason)
            return Preview(outcome, code, mp_id, start, end, query_id, content, reason)

        if start > end or (end - start).days > HORIZON_DAYS:
            return answer("error", f"the window {start}..{end} is not one Amazon previews "
                                   f"(up to {HORIZON_DAYS} days ahead)")
        try:
            created = self._call(code, "createQuery", lambda c: c.create_query(
                query=preview_query(mp_id, start, end))).payload
            query_id = str(created["queryId"])
        except ConfigError as exc:
            return answer("error", str(exc))
        except (SellingApiException, httpx.HTTPError, KeyError, TypeError) as exc:
            return answer("error", f"could not ask for the fee forecast: {_one_line(exc)}")
        log.info("%s %s: fee forecast query %s for %s..%s", self.account.name, code,
                 query_id, start, end)
        try:
            query = self._wait(code, query_id)
        except ConfigError as exc:
            return answer("error", str(exc), query_id=query_id)
        except (SellingApiException, httpx.HTTPError) as exc:
            return answer("error", f"query {query_id}: {_one_line(exc)}", query_id=query_id)
        if query is None:
            return answer("error", f"query {query_id} still not done after "
                                   f"{self.cfg.poll_deadline:.0f}s (sp_api.poll_deadline); "
                                   "the next run asks again", query_id=query_id)
        status = query.get("processingStatus")
        if status == "CANCELLED":
            return answer("cancelled", f"Amazon cancelled query {query_id}; the next run "
                                       "asks again", query_id=query_id)
        if status == "FATAL":
            kept, error_id = None, query.get("errorDocumentId")
            if error_id:
                try:
                    kept = self._document(code, str(error_id))
                except (_Gone, _TooBig, _Failed, ConfigError, SellingApiException,
                        httpx.HTTPError):
                    kept = None  # the reason below says it was not kept
            return answer("fatal", f"Amazon could not run query {query_id} (FATAL); "
                          + ("its error document is kept in the landing zone" if kept
                             else "no error document could be kept"),
                          query_id=query_id, content=kept)
        data_id = query.get("dataDocumentId")
        if not data_id:
            return answer("no_data", query_id=query_id)
        try:
            content = self._document(code, str(data_id))
        except _Gone as exc:
            return answer("missing", f"query {query_id}: {exc}", query_id=query_id)
        except (_TooBig, _Failed) as exc:
            return answer("error", f"query {query_id}: {exc}", query_id=query_id)
        except ConfigError as exc:
            return answer("error", str(exc), query_id=query_id)
        except (SellingApiException, httpx.HTTPError) as exc:
            return answer("error", f"query {query_id}: the document could not be "
                                   f"downloaded: {_one_line(exc)}", query_id=query_id)
        return answer("ok", query_id=query_id, content=content)

    def _wait(self, code: str, query_id: str) -> dict[str, Any] | None:
        """getQuery until the query is DONE, FATAL or CANCELLED (its payload), or None once
        ``poll_deadline`` has passed; checks thin out as the wait grows."""
        started = self._clock()
        deadline = started + self.cfg.poll_deadline
        wait = self.cfg.poll_interval
        while True:
            query: dict[str, Any] = self._call(
                code, "getQuery", lambda c: c.get_query(query_id)).payload
            if query.get("processingStatus") in ("DONE", "FATAL", "CANCELLED"):
                return query
            left = deadline - self._clock()
            if left <= 0:
                return None
            self._sleep(min(wait, left))
            wait = poll_wait(self._clock() - started, self.cfg.poll_interval)

    def _document(self, code: str, document_id: str) -> bytes:
        """A document's bytes as served (gzip stays gzip), at most ``LIMITS.member_bytes``."""
        for attempt in range(_EXPIRED_TRIES):
            try:
                meta = self._call(code, "getDocument",
                                  lambda c: c.get_document(document_id)).payload
            except SellingApiNotFoundException:
                raise _Gone(f"Amazon has no document {document_id} (404)") from None
            url = meta.get("documentUrl")
            if not isinstance(url, str) or not url:
                raise _Gone(f"Amazon gave no URL for document {document_id}")
            with self._download.stream("GET", url) as response:
                if response.status_code == 403 and attempt < _EXPIRED_TRIES - 1:
                    log.warning("%s %s: the document URL expired; asking for a new one",
                                self.account.name, code)
                    continue
                if response.status_code == 403:
                    raise _Gone(f"the URL of document {document_id} kept expiring")
                if response.status_code in (404, 410):
                    raise _Gone(f"document {document_id} is gone from its URL "
                                f"({response.status_code})")
                if response.status_code >= 400:
                    # Not raise_for_status: its message holds the pre-signed URL, whose
                    # signature must not reach a log or a message.
                    raise _Failed(f"the URL of document {document_id} answered "
                                  f"{response.status_code}")
                return _capped(response, LIMITS.member_bytes)
        raise _Gone(f"the URL of document {document_id} kept expiring")  # pragma: no cover


def _capped(response: httpx.Response, limit: int) -> bytes:
    """The response's raw bytes (no Content-Encoding undone), refused past ``limit``."""
    chunks, size = [], 0
    for chunk in response.iter_raw():
        size += len(chunk)
        if size > limit:
            raise _TooBig(f"the document is over {limit >> 20} MB; a fee preview is a few "
                          "MB: not read")
        chunks.append(chunk)
    return b"".join(chunks)


def _one_line(exc: Exception) -> str:
    """``describe``, on one line: Amazon's messages may hold newlines."""
    return " ".join(describe(exc).split())[:300]
