"""The SP-API source: Amazon's Reports API 2021-06-30 through python-amazon-sp-api.

For one account, every report type of every marketplace is asked for up front
(reusing a report Amazon already has from the regeneration window, since a new
request inside it comes back FATAL), then all are polled together, so a run
takes about as long as the slowest report. Each finished document is
downloaded as Amazon serves it (gzip and the charset its Content-Type
declares) into a spool file, and loaded like any dropped file.

The document is fetched with httpx, not the library's ``download=True``: the
library decodes it, falling back to ISO-8859-1 when no charset is declared,
which garbles cp1252, and it drops the raw bytes the landing zone keeps.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr
from sp_api.api import ReportsV2
from sp_api.auth import AccessTokenClient
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base import Marketplaces
from sp_api.base._transport_httpx import HttpxTransport
from sp_api.base.exceptions import SellingApiException

from ipi.errors import BadFile, ConfigError
from ipi.settings import Account, SecretLookup, SpApi
from ipi.sources import Fetched, Problem
from ipi.sources.archive import Limits, inflate
from ipi.sources.files import move_aside
from ipi.sources.pacing import PacedTransport, RateLimiter, ssl_context

log = logging.getLogger(__name__)

# Amazon answers FATAL to a second request for the same report inside these windows.
REGENERATION_WINDOW = {
    "GET_FBA_INVENTORY_PLANNING_DATA": timedelta(hours=4),
    "GET_STRANDED_INVENTORY_UI_DATA": timedelta(minutes=30),
    "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA": timedelta(minutes=30),
}
_DEFAULT_WINDOW = timedelta(minutes=30)
_MARKETPLACE_ALIASES = {"UK": "GB"}  # the library spells the UK marketplace GB
_MAX_POLL_WAIT = 120.0
_POLL_SHARE = 0.25
# A FATAL report's failure document is a few lines of Amazon's explanation.
_FAILURE_BYTES = 64 << 10
_FAILURE_LIMITS = Limits(member_bytes=_FAILURE_BYTES, total_bytes=_FAILURE_BYTES)
_ROLE_HINT = ("the SP-API app needs the 'Amazon Fulfillment' and 'Inventory and Order "
              "Tracking' roles, and the seller must authorize it again after a role change")

T = TypeVar("T")


def marketplace(code: str) -> Marketplaces:
    try:
        return Marketplaces[_MARKETPLACE_ALIASES.get(code.upper(), code.upper())]
    except KeyError:
        raise ConfigError(f"unknown marketplace {code!r}; use a two-letter code such as "
                          "US, CA, UK, DE, JP") from None


@dataclass(frozen=True)
class Credentials:
    client_id: SecretStr
    client_secret: SecretStr
    refresh_token: SecretStr


def resolve_credentials(account: Account, env: Mapping[str, str] | None = None,
                        lookup: SecretLookup | None = None) -> Credentials:
    """The account's LWA credentials from Prefect Secret blocks (when named) or the environment."""
    env = os.environ if env is None else env
    cfg = account.sp_api
    values: dict[str, SecretStr] = {}
    for field, what, env_name, block in (
        ("client_id", "the LWA client id of your SP-API app", cfg.client_id_env,
         cfg.client_id_block),
        ("client_secret", "the LWA client secret of your SP-API app", cfg.client_secret_env,
         cfg.client_secret_block),
        ("refresh_token", "the seller's refresh token", account.refresh_token_env,
         cfg.refresh_token_block),
    ):
        if block:
            if lookup is None:
                raise ConfigError(f"account {account.name}: {field} comes from the Prefect Secret "
                                  f"block {block!r}, which only a Prefect flow can read; run "
                                  f"`ipi run`, or set {env_name} instead")
            try:
                values[field] = SecretStr(lookup(block))
            except Exception as exc:
                raise ConfigError(f"account {account.name}: cannot read the Prefect Secret "
                                  f"block {block!r} ({type(exc).__name__}); create it with "
                                  f"{what}") from None
        elif env.get(env_name):
            values[field] = SecretStr(env[env_name])
        else:
            raise ConfigError(f"account {account.name}: set the environment variable "
                              f"{env_name} to {what}")
    return Credentials(**values)


def token_client_class(token_url: str) -> type[AccessTokenClient]:
    """An AccessTokenClient that asks ``token_url`` (the library only knows Amazon's)."""
    parts = urlsplit(token_url)
    attrs = {"scheme": f"{parts.scheme}://", "host": parts.netloc, "path": parts.path}
    return type("IpiTokenClient", (AccessTokenClient,), attrs)


def sp_client(client_class: Any, code: str, cfg: SpApi, credentials: Credentials,
              limiter: RateLimiter, *, sleep: Callable[[float], None] = time.sleep) -> Any:
    """A python-amazon-sp-api client (``ReportsV2``, ``DataKiosk``...) for marketplace
    ``code``, its calls paced by ``limiter`` and retried by our transport."""
    mp = marketplace(code)
    client = client_class(
        marketplace=mp,
        refresh_token=credentials.refresh_token.get_secret_value(),
        credentials={
            "lwa_app_id": credentials.client_id.get_secret_value(),
            "lwa_client_secret": credentials.client_secret.get_secret_value(),
        },
        auth_token_client_class=token_client_class(cfg.token_url),
        verify=ssl_context(),  # its own clients, replaced below, build none either
    )
    client.endpoint = (cfg.endpoint or mp.endpoint).rstrip("/")
    paced = PacedTransport(limiter, retries=cfg.retries, backoff=cfg.backoff, sleep=sleep)
    # The library takes an httpx client here; ours paces and retries.
    client._transport.close()
    client._transport = HttpxTransport(client=httpx.Client(
        transport=paced, timeout=60, verify=ssl_context()))
    client._auth._transport._client.close()
    client._auth._transport = HttpxTransport(client=httpx.Client(
        transport=PacedTransport(retries=cfg.retries, backoff=cfg.backoff, sleep=sleep),
        timeout=60, verify=ssl_context()))
    return client


def refused(account: Account, code: str, what: str, call: Callable[[], T], *,
            role_hint: str = _ROLE_HINT) -> T:
    """``call()``, its refusals turned into configuration errors naming the account:
    the LWA credentials (AuthorizationError), or the app's roles (401/403)."""
    try:
        return call()
    except AuthorizationError as exc:
        raise ConfigError(
            f"account {account.name}: Amazon refused the LWA credentials "
            f"({exc.error_code or exc.status_code}): check the client id and secret, and "
            f"authorize the app again to get a new refresh token into "
            f"{account.refresh_token_env}") from None
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        if status not in (401, 403):
            raise
        raise ConfigError(
            f"account {account.name}: the SP-API refused {what} in {code} "
            f"({status}): {role_hint}") from None


def poll_wait(spent: float, interval: float) -> float:
    """The wait before the next status check, ``spent`` seconds into the wait: a quarter
    of the time so far, so that a result is noticed at most ~25 % after it is ready, in a
    number of checks that grows only with log(time); at least ``interval``/4, at most
    two minutes."""
    return min(max(_POLL_SHARE * spent, interval / 4), _MAX_POLL_WAIT)


@dataclass
class ReportJob:
    """One report asked of Amazon: a snapshot, or a date range (the ledger)."""

    marketplace: str
    report_type: str
    report_id: str | None = None
    reused: bool = False
    done: bool = False
    start: date | None = None  # the data range, both days included
    end: date | None = None
    options: dict[str, str] | None = None
    error: str | None = None  # why it failed, when it did

    @property
    def name(self) -> str:
        span = f" {self.start}..{self.end}" if self.start else ""
        return f"{self.marketplace} {self.report_type}{span}"


class SpApiSource:
    """The ReportSource for an account on the SP-API."""

    def __init__(self, account: Account, credentials: Credentials, spool: Path, *,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.account = account
        self.cfg = account.sp_api
        self.credentials = credentials
        self.spool = spool / account.name
        self.problems: list[Problem] = []
        self._sleep, self._clock = sleep, clock
        self.limiter = RateLimiter(sleep=sleep, clock=clock)
        self._clients: dict[str, ReportsV2] = {}
        self._jobs: dict[Path, ReportJob] = {}  # spool file -> the job that fetched it
        transport = PacedTransport(retries=self.cfg.retries, backoff=self.cfg.backoff,
                                   sleep=sleep)
        self._download = httpx.Client(transport=transport, timeout=300, verify=ssl_context())

    # -- the library, behind our transport -------------------------------------------

    def _client(self, code: str) -> ReportsV2:
        if code not in self._clients:
            self._clients[code] = sp_client(ReportsV2, code, self.cfg, self.credentials,
                                            self.limiter, sleep=self._sleep)
        return self._clients[code]

    def _call(self, code: str, what: str, fn: Callable[[ReportsV2], Any]) -> Any:
        """Call the library; turn refusals into configuration errors naming the account."""
        return refused(self.account, code, what, lambda: fn(self._client(code)))

    # -- the ReportSource protocol ---------------------------------------------------

    def fetch(self, account: Account, day: date) -> Iterator[Fetched]:
        jobs = [ReportJob(mp, rt) for mp in account.marketplaces for rt in self.cfg.report_types]
        self._existing(jobs)
        for job in jobs:
            self.request(job)
        yield from self._run(jobs)

    def collect(self, jobs: list[ReportJob]) -> Iterator[Fetched]:
        """Poll requested jobs together, yielding each document as it is ready;
        ``job_of`` says which job a file answers, a failed job has ``error``."""
        yield from self._run(jobs)

    def job_of(self, fetched: Fetched) -> ReportJob | None:
        return self._jobs.get(fetched.path)

    def refetch(self, fetched: Fetched) -> Fetched | None:
        """Ask for the same report again, ``row_retry_after`` seconds later (its rows
        collapsed). Inside Amazon's regeneration window the answer may be FATAL: then None."""
        old = self._jobs.get(fetched.path)
        if old is None:
            return None
        self._sleep(self.cfg.row_retry_after)
        job = ReportJob(old.marketplace, old.report_type)
        self.request(job)
        got = list(self._run([job]))
        return got[0] if got else None

    def _run(self, jobs: list[ReportJob]) -> Iterator[Fetched]:
        """Poll the started jobs together until each is done or the deadline passes."""
        started = self._clock()
        deadline = started + self.cfg.poll_deadline
        wait = self.cfg.poll_interval
        pending = [j for j in jobs if j.report_id]
        while pending:
            still = []
            for job in pending:
                fetched = self._poll(job)
                if fetched is not None:
                    yield fetched
                if not job.done:
                    still.append(job)
            pending = still
            if not pending:
                break
            left = deadline - self._clock()
            if left <= 0:
                for job in pending:
                    self._problem(job, f"report {job.report_id} still not ready after "
                                       f"{self.cfg.poll_deadline:.0f}s (sp_api.poll_deadline)")
                break
            self._sleep(min(wait, left))
            wait = poll_wait(self._clock() - started, self.cfg.poll_interval)

    def done(self, fetched: Fetched) -> None:
        fetched.path.unlink(missing_ok=True)

    def failed(self, fetched: Fetched, reason: str) -> None:
        move_aside(fetched.path, reason)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._download.close()

    def check(self) -> list[tuple[str, bool, str]]:
        """Can we get a token and list each report type in each marketplace? (name, ok, detail)"""
        results: list[tuple[str, bool, str]] = []
        first = self.account.marketplaces[0]
        try:
            self._call(first, "the token", lambda c: c.auth)
            results.append(("LWA token", True, f"refresh token from "
                            f"{self.cfg.refresh_token_block or self.account.refresh_token_env}"))
        except ConfigError as exc:
            return [("LWA token", False, str(exc))]
        except (SellingApiException, httpx.HTTPError) as exc:
            host = urlsplit(self.cfg.token_url).netloc
            return [("LWA token", False, f"cannot reach {host} ({describe(exc)}): check the "
                     "network or proxy, and [accounts.sp_api] token_url")]
        for code in self.account.marketplaces:
            mp_id = marketplace(code).marketplace_id
            for rt in self.cfg.report_types:
                try:
                    self._call(code, rt, partial(_list_one, report_type=rt, mp_id=mp_id))
                    results.append((f"{code} {rt}", True, "report access"))
                except ConfigError as exc:
                    results.append((f"{code} {rt}", False, str(exc)))
                except (SellingApiException, httpx.HTTPError) as exc:
                    results.append((f"{code} {rt}", False, describe(exc)))
        return results

    # -- steps -----------------------------------------------------------------------

    def _problem(self, job: ReportJob, reason: str, *, fatal: bool = True) -> None:
        job.done, job.error = True, reason
        self.problems.append(Problem(job.name, reason, fatal))
        (log.error if fatal else log.warning)("%s %s: %s", self.account.name, job.name, reason)

    def _existing(self, jobs: list[ReportJob]) -> None:
        """Point jobs at reports Amazon already has from their regeneration window.

        One getReports per regional endpoint covers every report type and marketplace:
        the operation allows one call per 45 s, too slow to ask per report.
        """
        now = datetime.now(UTC)
        groups: dict[str, list[ReportJob]] = {}
        for job in jobs:
            groups.setdefault(marketplace(job.marketplace).endpoint, []).append(job)
        for group in groups.values():
            types = sorted({j.report_type for j in group})
            mp_ids = sorted({marketplace(j.marketplace).marketplace_id for j in group})
            since = now - max(REGENERATION_WINDOW.get(t, _DEFAULT_WINDOW) for t in types)
            try:
                found = self._call(group[0].marketplace, "the report list", partial(
                    _list_recent, report_types=types, mp_ids=mp_ids, since=since,
                )).payload.get("reports") or []
            except (SellingApiException, httpx.HTTPError) as exc:
                log.warning("%s: could not list existing reports (%s); requesting new ones",
                            self.account.name, describe(exc))
                continue
            for job in group:
                mp_id = marketplace(job.marketplace).marketplace_id
                window = REGENERATION_WINDOW.get(job.report_type, _DEFAULT_WINDOW)
                mine = [r for r in found if r.get("reportType") == job.report_type
                        and r.get("marketplaceIds") == [mp_id]
                        and _created(r) >= now - window]
                if mine:
                    newest = max(mine, key=_created)
                    job.report_id, job.reused = newest["reportId"], True
                    log.info("%s %s: reusing report %s (%s)", self.account.name, job.name,
                             job.report_id, newest.get("processingStatus"))

    def request(self, job: ReportJob) -> None:
        """Ask Amazon for the job's report, unless it has a report id already (an
        existing report found, or one an earlier run asked for); on failure the job is
        done with an ``error``."""
        if job.report_id or job.done:
            return
        request: dict[str, Any] = {"reportType": job.report_type,
                                   "marketplaceIds": [marketplace(job.marketplace).marketplace_id]}
        if job.start and job.end:
            request["dataStartTime"] = f"{job.start}T00:00:00Z"
            request["dataEndTime"] = f"{job.end}T23:59:59Z"
        if job.options:
            request["reportOptions"] = job.options
        try:
            created = self._call(job.marketplace, job.report_type,
                                 lambda c: c.create_report(**request))
            job.report_id = created.payload["reportId"]
        except (SellingApiException, httpx.HTTPError, KeyError) as exc:
            self._problem(job, f"could not request the report: {describe(exc)}")

    def _poll(self, job: ReportJob) -> Fetched | None:
        try:
            report = self._call(job.marketplace, job.report_type,
                                lambda c: c.get_report(job.report_id)).payload
            status = report.get("processingStatus")
            if status == "DONE":
                job.done = True
                return self._fetch_document(job, report["reportDocumentId"])
            if status == "CANCELLED":
                self._problem(job, f"Amazon cancelled report {job.report_id}: no data for this "
                                   "day (Amazon does this when there is nothing to report)",
                              fatal=False)
            elif status == "FATAL":
                why = ""
                if report.get("reportDocumentId"):
                    why = ": " + self._failure_text(job, report["reportDocumentId"])
                self._problem(job, f"Amazon could not generate report {job.report_id} "
                                   f"(FATAL){why}")
        except (SellingApiException, httpx.HTTPError) as exc:
            self._problem(job, f"report {job.report_id}: {describe(exc)}")
        return None

    def _document(self, job: ReportJob, document_id: str) -> tuple[bytes, str | None, bool]:
        """The document's bytes as served, its declared charset, and whether it is gzip."""
        for attempt in range(3):
            meta = self._call(job.marketplace, job.report_type,
                              lambda c: c.get_report_document(document_id)).payload
            response = self._download.get(meta["url"])
            if response.status_code == 403 and attempt < 2:
                # Pre-signed URLs expire after five minutes: ask for a fresh one.
                log.warning("%s: the document URL expired; asking for a new one", job.name)
                continue
            if response.is_error:  # not raise_for_status(): its text carries the signed URL
                raise httpx.HTTPError(f"the document download answered HTTP "
                                      f"{response.status_code}")
            return (response.content, response.charset_encoding,
                    meta.get("compressionAlgorithm") == "GZIP")
        raise httpx.HTTPError("the document URL kept expiring")

    def _failure_text(self, job: ReportJob, document_id: str) -> str:
        try:
            content, charset, gz = self._document(job, document_id)
        except (SellingApiException, httpx.HTTPError) as exc:
            return f"(its failure document could not be read: {describe(exc)})"
        try:  # Amazon's few lines of explanation: a document that expands past that is not one
            content = inflate(content, _FAILURE_LIMITS) if gz else content[:_FAILURE_BYTES]
        except BadFile as exc:
            return f"(its failure document could not be read: {exc})"
        return " ".join(content.decode(charset or "utf-8", "replace").split())[:500]

    def _fetch_document(self, job: ReportJob, document_id: str) -> Fetched | None:
        try:
            content, charset, gz = self._document(job, document_id)
        except (SellingApiException, httpx.HTTPError) as exc:
            self._problem(job, f"report {job.report_id}: the document could not be "
                               f"downloaded: {describe(exc)}")
            return None
        self.spool.mkdir(parents=True, exist_ok=True)
        span = f".{job.start}_{job.end}" if job.start else ""
        path = self.spool / f"{job.report_type}.{job.marketplace}{span}.{job.report_id}.txt"
        if gz:
            path = path.with_name(path.name + ".gz")
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(content)
        tmp.replace(path)
        self._jobs[path] = job
        return Fetched(path=path, marketplace=job.marketplace, charset=charset,
                       source=f"sp-api:{job.report_id}")


def _created(report: Mapping[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(report.get("createdTime", "")))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def _list_recent(client: ReportsV2, *, report_types: list[str], mp_ids: list[str],
                 since: datetime) -> Any:
    return client.get_reports(
        reportTypes=report_types, marketplaceIds=mp_ids, pageSize=100,
        processingStatuses=["DONE", "IN_QUEUE", "IN_PROGRESS"],
        createdSince=since.isoformat(timespec="seconds").replace("+00:00", "Z"))


def _list_one(client: ReportsV2, *, report_type: str, mp_id: str) -> Any:
    return client.get_reports(reportTypes=[report_type], marketplaceIds=[mp_id], pageSize=1)


def describe(exc: Exception) -> str:
    """One line for a failed call: the exception's kind and Amazon's message."""
    if isinstance(exc, SellingApiException):
        code = getattr(exc, "code", None)
        return f"{type(exc).__name__}{f' ({code})' if code else ''}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"

