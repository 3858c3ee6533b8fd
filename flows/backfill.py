"""The backfill flow: rebuild history for each account, from the ledger or from archives.

The windows themselves run inside ``ipi.backfill``, ``backfill.concurrency`` of
them in flight per account, every SP-API call paced by the account's own rate
limiter (Amazon's limits are per seller and app), so a flow can neither
overrun them nor lose track: a retried task resumes from the windows table.
Accounts run one after another: they share one DuckDB file, which has one
writer at a time.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.daily import secret_block
from flows.hooks import ops_alert
from flows.limits import account_slot
from ipi import backfill as bf
from ipi.errors import IngestFailed
from ipi.settings import Account, Settings, load_settings


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=60)
def backfill_account(settings: Settings, account: Account, start: date | None,
                     end: date | None, paths: list[Path] | None) -> bf.BackfillRun:
    log = get_run_logger()

    def progress(p: bf.Progress) -> None:  # each window or file, into the run log
        log.info("backfill %s", p.line())

    # The account's one slot on the Prefect server: its daily run waits meanwhile.
    with account_slot(settings, account, f"the backfill of {account.name}"):
        if paths:
            return bf.backfill_files(settings, account, paths, start=start, end=end,
                                     progress=progress)
        assert start is not None and end is not None  # checked by the flow
        return bf.backfill_sp_api(settings, account, start, end, secrets=secret_block,
                                  progress=progress)


@flow(name="ipi-backfill", on_failure=[ops_alert], on_crashed=[ops_alert])
def backfill(config: str | None = None, start: date | None = None, end: date | None = None,
             account: str | None = None, source: Literal["sp-api", "files"] = "sp-api",
             paths: list[str] | None = None) -> dict[str, object]:
    """Backfill ``account`` (default: every SP-API account) over [start, end], from the
    SP-API's ledger or, with ``source="files"``, from the folders or archives ``paths``."""
    settings = load_settings(config)
    log = get_run_logger()
    asked = bf.request(settings, source=source, account=account, paths=paths or (),
                       start=start, end=end)
    summary: dict[str, object] = {}
    failures: list[tuple[str, str]] = []
    for acc in asked.accounts:
        run = backfill_account(settings, acc, start, end, asked.paths or None)
        for note in run.notes:
            log.warning("%s: %s", acc.name, note)
        failures += [(f"{acc.name} {name}", why) for name, why in run.failed]
        summary[acc.name] = {
            "done": run.progress.done, "failed": run.progress.failed, "rows": run.progress.rows,
            "rescored": run.scored.days if run.scored else 0,
            "alerts_for": str(run.alerts.day) if run.alerts else None,
        }
        log.info("%s: %s", acc.name, summary[acc.name])
    if failures:
        raise IngestFailed(failures, f"{len(failures)} window(s) or file(s) failed; run the "
                           "backfill again to retry only those")
    return summary
