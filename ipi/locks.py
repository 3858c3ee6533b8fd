"""One run per account at a time: an OS file lock per account under the data folder.

A daily run and a second one started by hand, a retry, a backfill, or a schedule
firing while the last run still polls Amazon: two runs for one account would load
the same reports and page twice. Each takes ``<data_dir>/locks/<account>.lock``
with ``flock`` for its whole ingest, score and alert. The OS drops the lock when
its holder exits, even on ``kill -9``: a crashed run never leaves the account
locked. The file says who holds it, for the message the second run gives.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ipi.errors import RunOverlap


@contextmanager
def account_lock(data_dir: Path, account: str, *, wait: float, what: str = "a run",
                 poll: float = 0.5) -> Iterator[None]:
    """Hold ``account``'s run lock; wait up to ``wait`` seconds for it, then raise
    RunOverlap naming the holder."""
    path = data_dir / "locks" / f"{account}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = path.read_text(encoding="utf-8").strip() or "another process"
                    raise RunOverlap(
                        f"account {account}: {holder} is still under way; {what} waited "
                        f"{wait:.0f}s and stops without loading or sending anything. Let "
                        "that one finish (its log says where it is), then run again if "
                        "needed") from None
                time.sleep(poll)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{what} (pid {os.getpid()}, since "
                      f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC)".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
