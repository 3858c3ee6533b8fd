"""Every error ipi raises on purpose, grouped by what the operator should do.

    IpiError
    ├── ConfigError            fix the configuration (file, environment, credentials)
    ├── UsageError             ask differently: arguments that cannot go together or miss
    ├── BadInput               fix or replace an input file; other files still load
    │   ├── UnknownReport      the header matches no report type ipi knows
    │   ├── MissingColumn      a required column is absent
    │   ├── BadValue           a value does not have the column's type, or cannot be true
    │   │                      (a negative count, a snapshot dated after tomorrow)
    │   └── BadFile            empty, truncated, undecodable, duplicated keys
    ├── NotFound               the command named something the store does not hold
    ├── StoreBusy              retry later: another ipi process holds the database
    ├── StoreUnavailable       fix the data folder: not writable, full, not a database
    ├── RunOverlap             another run for the account is under way; this one stopped
    ├── ServerUnavailable      the Prefect server ipi runs on is down or did not start
    ├── IngestFailed           some files were moved aside; the rest loaded (lists them)
    └── DeliveryError          an alert could not be delivered; it stays in the outbox

Messages name the input and the fix, and never contain a secret. The CLI turns
``IngestFailed`` into exit code 1 (partly done) and every other one into 2 (nothing
done: configuration, usage or the machine); see the exit codes in docs/guide/commands.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a run's summary: carried, never built here
    from ipi.pipeline import DayRun


class IpiError(Exception):
    """Base of every error ipi raises on purpose."""


class ConfigError(IpiError):
    """The configuration is wrong or incomplete; the message says which key."""


class UsageError(IpiError):
    """What was asked cannot be done as asked (arguments missing or at odds); the message
    says what to give. Library messages name the argument's meaning, not a CLI flag."""


class BadInput(IpiError):
    """An input file cannot be loaded as it is."""

    def __init__(self, message: str, *, path: Path | str | None = None) -> None:
        self.path = str(path) if path is not None else None
        super().__init__(f"{self.path}: {message}" if self.path else message)


class UnknownReport(BadInput):
    """The header matches no report type ipi knows."""


class MissingColumn(BadInput):
    """A required column is absent from the header."""


class BadValue(BadInput):
    """A value cannot be read as its column's type, or cannot be true."""


class BadFile(BadInput):
    """The file is empty, truncated, undecodable or inconsistent."""


class NotFound(IpiError):
    """Nothing in the store matches what the command named; the message says how to list
    what it holds."""


class StoreBusy(IpiError):
    """Another process holds the DuckDB file; retry when it has finished."""


class StoreUnavailable(IpiError):
    """The database cannot be opened or created: the folder, the disk or the file."""


class RunOverlap(IpiError):
    """Another run holds the account's lock; this one loaded and sent nothing."""


class ServerUnavailable(IpiError):
    """The Prefect server the runs need is gone or would not start; the message says
    where to look (its log) and how to bring it back."""


class IngestFailed(IpiError):
    """Some files failed and were moved aside; everything else loaded."""

    def __init__(self, failures: list[tuple[str, str]], summary: str | None = None, *,
                 runs: Mapping[str, DayRun] | None = None) -> None:
        self.failures = failures
        self.runs = runs or {}  # what each account's run did, for its one-line summary
        lines = "\n".join(f"  {name}: {reason}" for name, reason in failures)
        summary = summary or f"{len(failures)} file(s) failed and were moved aside"
        super().__init__(f"{summary}:\n{lines}")


class DeliveryError(IpiError):
    """An alert could not be delivered; it stays in the outbox for the next run."""
