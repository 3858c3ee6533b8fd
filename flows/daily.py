"""The daily flow: for each account, ingest -> score -> alert.

Each task is one call into ``ipi.pipeline``; the account's source (drop folder
or SP-API) is the library's business, not the flow's. A file or report that
fails is set aside and the rest of the run goes on; the flow then fails,
naming them, so a scheduler or the ``ipi run`` exit code shows it.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.hooks import ops_alert
from ipi import pipeline
from ipi.alerts import AlertRun
from ipi.errors import IngestFailed, IpiError, RunOverlap
from ipi.score import ScoreRun
from ipi.settings import Account, Settings, load_settings


def _secret_block(name: str) -> str:
    """Read a Prefect Secret block: how credentials reach workers without files."""
    from prefect.blocks.system import Secret

    block = Secret.load(name, _sync=True)  # type: ignore[call-arg]
    return str(block.get())  # type: ignore[union-attr]


@task(cache_policy=NO_CACHE)
def ingest(settings: Settings, account: Account, day: date) -> pipeline.IngestRun:
    return pipeline.ingest_account(settings, account, day, secrets=_secret_block)


@task(cache_policy=NO_CACHE)
def score(settings: Settings, account: Account, day: date, loaded_days: list[date]) -> ScoreRun:
    return pipeline.score(settings, account, day, loaded_days)


@task(cache_policy=NO_CACHE)
def alert(settings: Settings, account: Account, day: date,
          ingested: pipeline.IngestRun) -> AlertRun:
    return pipeline.alert(settings, account, day, ingested)


@task(cache_policy=NO_CACHE)
def report_failure(settings: Settings, account: Account, day: date, what: str) -> None:
    pipeline.report_failure(settings, account, day, what)


@flow(name="ipi-daily", on_failure=[ops_alert], on_crashed=[ops_alert])
def daily(config: str | None = None, day: date | None = None) -> dict[str, object]:
    """Run the day for every configured account (``config``: a TOML file, else $IPI_CONFIG)."""
    settings = load_settings(config)
    day = day or date.today()
    log = get_run_logger()
    failures: list[tuple[str, str]] = []
    summary: dict[str, object] = {}
    for account in settings.accounts:
        try:
            # One run per account at a time: a second one waits, then stops, sending nothing.
            with pipeline.run_lock(settings, account, f"the daily run for {day}"):
                summary[account.name], failed = _account_day(settings, account, day)
        except RunOverlap as exc:
            log.warning("%s", exc)
            summary[account.name] = {"overlap": str(exc)}
            continue
        failures += failed
        log.info("%s on %s: %s", account.name, day, summary[account.name])
    publish(settings, day, summary)
    if failures:
        raise IngestFailed(failures)
    return summary


def _account_day(settings: Settings, account: Account,
                 day: date) -> tuple[dict[str, object], list[tuple[str, str]]]:
    """Ingest, score and alert one account; its summary, and what failed."""
    log = get_run_logger()
    try:
        ing = ingest(settings, account, day)
    except IpiError as exc:  # e.g. refused credentials: the other accounts still run
        log.error("%s: %s", account.name, exc)
        report_failure(settings, account, day, str(exc))
        return {"error": str(exc)}, [(account.name, str(exc))]
    if not ing.loaded:
        log.warning("%s: no new reports for %s; the day has no fresh estimate",
                    account.name, day)
    for name, why in ing.warnings:
        log.warning("%s %s: %s", account.name, name, why)
    sc = score(settings, account, day, ing.days)
    al = alert(settings, account, day, ing)
    return {
        "loaded": len(ing.loaded), "skipped": len(ing.skipped), "failed": len(ing.failed),
        "scored": sc.days,
        "notices": [f"{n.rule.replace('_', ' ')}: {n.kind}" for n in al.notices],
        "alerts": [d.status for d in al.deliveries],
    }, [(f"{account.name}/{name}", why) for name, why in ing.failed]


def publish(settings: Settings, day: date, summary: dict[str, object]) -> None:
    """The run's artifacts: the estimates and factors per account and marketplace, and
    what each account loaded and which alerts went out."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    from ipi.score import scores

    store = pipeline.open_store(settings)
    table = [{k: r[k] for k in ARTIFACT_COLUMNS}
             for a in settings.accounts for r in scores(store, a.name, start=day, end=day)]
    create_table_artifact(table=table, key="ipi-daily-scores",
                          description=f"IPI estimates and factors on {day}")
    lines = [f"# IPI daily run, {day}", "",
             "| account | loaded | failed | notices | alerts sent |", "|---|---|---|---|---|"]
    for name, s in summary.items():
        s = s if isinstance(s, dict) else {}
        if "error" in s or "overlap" in s:
            lines.append(f"| {name} | - | {s.get('error') or s['overlap']} | - | - |")
            continue
        lines.append(f"| {name} | {s['loaded']} | {s['failed']} | "
                     f"{', '.join(s['notices']) or 'none'} | "
                     f"{sum(d == 'sent' for d in s['alerts'])} |")
    create_markdown_artifact(markdown="\n".join(lines), key="ipi-daily-summary",
                             description=f"IPI daily run on {day}")


ARTIFACT_COLUMNS = ("account", "marketplace", "score", "score_low", "score_high", "status",
                    "excess_pct", "sell_through", "stranded_pct", "in_stock_rate", "notes")
