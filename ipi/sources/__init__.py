"""Where reports come from: one small protocol, so flows never branch on the source.

A source yields ``Fetched`` files for an account and day, then hears whether
each one loaded (``done``) or not (``failed``), so it can move it aside,
acknowledge it, or ask again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

from ipi.settings import Account


@dataclass(frozen=True)
class Fetched:
    path: Path
    marketplace: str  # used when the report itself names none
    charset: str | None = None  # as declared by the source (e.g. a Content-Type)
    source: str = "file"


class ReportSource(Protocol):
    def fetch(self, account: Account, day: date) -> Iterable[Fetched]: ...

    def done(self, fetched: Fetched) -> None: ...

    def failed(self, fetched: Fetched, reason: str) -> None: ...
