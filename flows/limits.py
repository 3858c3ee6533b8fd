"""One run per account across every worker: a Prefect global concurrency limit.

``ipi.locks`` keeps two runs of an account apart on one machine; workers on
several machines share only the Prefect server. There, the global concurrency
limit ``ipi-account-<name>``, one slot, keeps them apart too. So an account's
SP-API calls always come from one process at a time, whose rate limiter paces
them within Amazon's published limits for that seller.

The limit is created on first use. A crashed holder's lease expires after
``LEASE_SECONDS``; until then the account's next run waits, then stops.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from ipi.errors import RunOverlap
from ipi.settings import Account, Settings

LEASE_SECONDS = 300  # renewed while the run lives; Prefect's minimum is 60


def limit_name(account: Account) -> str:
    return f"ipi-account-{account.name}"


@contextmanager
def account_slot(settings: Settings, account: Account, what: str) -> Iterator[None]:
    """Hold the account's slot; wait ``[store] run_lock_wait`` seconds for it, then raise
    RunOverlap, as the OS lock does."""
    name = limit_name(account)
    _ensure(name)
    acquired = False
    try:
        with concurrency(name, occupy=1, timeout_seconds=settings.run_lock_wait,
                         lease_duration=LEASE_SECONDS, strict=True):
            acquired = True
            yield
    except TimeoutError:
        if acquired:  # the run's own timeout, not the wait for the slot
            raise
        raise RunOverlap(
            f"account {account.name}: another run holds its Prefect concurrency limit "
            f"{name!r} (see the server's UI, Concurrency); {what} waited "
            f"{settings.run_lock_wait:.0f}s and stops without loading or sending anything"
        ) from None


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
