"""Where reports come from: one small protocol, so flows never branch on the source.

A source yields ``Fetched`` files for an account and day, then hears whether
each one loaded (``done``) or not (``failed``), so it can move it aside,
acknowledge it, or ask again. What it could not deliver at all it lists in
``problems``.
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
    # The day to assume when neither the file name nor the content gives one (an
    # archive member's own time); None: the day being ingested.
    default_date: date | None = None
    # What messages call it when ``path`` is a temporary copy that is gone after the
    # run, e.g. "downloads.zip:UK/planning.txt"; None: the file's own name.
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.path.name


@dataclass(frozen=True)
class Problem:
    """A report the source could not deliver (FATAL, CANCELLED, timed out, refused)."""

    name: str  # e.g. "US GET_FBA_INVENTORY_PLANNING_DATA"
    reason: str
    fatal: bool  # fails the run; else a warning (no data for that report today)


class ReportSource(Protocol):
    problems: list[Problem]

    def fetch(self, account: Account, day: date) -> Iterable[Fetched]: ...

    def done(self, fetched: Fetched) -> None: ...

    def failed(self, fetched: Fetched, reason: str) -> None: ...
