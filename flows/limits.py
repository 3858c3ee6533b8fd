"""One run per account across every worker: a Prefect global concurrency limit.

``ipi.locks`` keeps two runs of an account apart on one machine; workers on
several machines share only the Prefect server. There, the global concurrency
limit ``ipi-account-<name>``, one slot, keeps them apart too. So an account's
SP-API calls always come from one process at a time, whose rate limiter paces
them within Amazon's published limits for that seller.

The limit is created on first use. A crashed holder's lease expires after
``LEASE_SECONDS``; until then the account's next run waits, then stops. A server too
busy to grant a free slot in time (its database locked: it answers 503 and Prefect's
client backs off for a minute) is not another run: the run asks again, ``ATTEMPTS``
times, then stops with ServerUnavailable, which the daily run reports as a failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from typing import Any

import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from ipi.errors import RunOverlap, ServerUnavailable
from ipi.settings import Account, Settings

LEASE_SECONDS = 300  # renewed while the run lives; Prefect's minimum is 60
ATTEMPTS = 3  # waits for a slot the server leaves free, or asks of a server that errs

log = logging.getLogger("ipi.flows")


def limit_name(account: Account) -> str:
    return f"ipi-account-{account.name}"


@contextmanager
def account_slot(settings: Settings, account: Account, what: str) -> Iterator[None]:
    """Hold the account's slot. Another run holds it: wait ``[store] run_lock_wait``
    seconds, then raise RunOverlap, as the OS lock does. The slot is free but the server
    did not grant it in time, or the server errs: ask again, then raise ServerUnavailable."""
    name = limit_name(account)
    wait = settings.run_lock_wait
    with ExitStack() as held:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                _ensure(name)
                slot = concurrency(name, occupy=1, timeout_seconds=wait,
                                   lease_duration=LEASE_SECONDS, strict=True)
                slot.__enter__()
                held.push(_given_back(slot.__exit__, account, name))
                break
            except TimeoutError:
                if _taken(name):
                    raise RunOverlap(
                        f"account {account.name}: another run holds its Prefect concurrency "
                        f"limit {name!r} (see the server's UI, Concurrency); {what} waited "
                        f"{wait:.0f}s and stops without loading or sending anything"
                    ) from None
                why = f"left its slot {name!r} free but did not grant it within {wait:.0f}s"
            except httpx.HTTPError as exc:  # Prefect's own status errors included
                why = f"failed the request for its slot {name!r} ({_short(exc)})"
            log.warning("account %s: the Prefect server %s; asking again (%d of %d)",
                        account.name, why, attempt, ATTEMPTS)
        else:
            raise ServerUnavailable(
                f"account {account.name}: the Prefect server {why}, {ATTEMPTS} times; {what} "
                "stops without loading or sending anything (see the server's log: a busy or "
                "failing server); the next run tries again")
        yield


def _given_back(exit_: Callable[..., bool | None], account: Account, name: str
                ) -> Callable[..., bool]:
    """The slot's exit, where a server that fails to take the slot back does not undo
    the run's work (nor hide its error): the lease lapses by itself."""

    def give_back(*exc: Any) -> bool:
        try:
            return bool(exit_(*exc))
        except httpx.HTTPError as err:
            log.warning("account %s: the Prefect server did not take back the slot %r (%s); "
                        "it comes back when its lease runs out, within %d minutes",
                        account.name, name, _short(err), LEASE_SECONDS // 60)
            return False

    return give_back


def _taken(name: str) -> bool:
    """Whether another holder has the limit's slot (not only a server slow to grant it)."""
    try:
        with get_client(sync_client=True) as client:
            limit = client.read_global_concurrency_limit_by_name(name)
    except (httpx.HTTPError, ObjectNotFound):  # a server that cannot say: ask again
        return False
    return limit.active_slots >= limit.limit


def _short(exc: httpx.HTTPError) -> str:
    """The error's kind and status, never the response's body."""
    response = getattr(exc, "response", None)
    return (f"HTTP {response.status_code}" if isinstance(response, httpx.Response)
            else type(exc).__name__)


_ENSURED: set[str] = set()  # this process made sure of these (a run's accounts, each day)


def _ensure(name: str) -> None:
    # Each Prefect client loads the CA bundle (~20 ms of CPU): once per limit and process.
    if name in _ENSURED:
        return
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            with suppress(ObjectAlreadyExists):  # another worker created it meanwhile
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1))
    _ENSURED.add(name)
