"""The ``ipi`` console script: the library's commands (``ipi.cli``) plus those that run
Prefect flows (``demo``, ``run``, ``serve``), and the reading of Prefect Secret blocks
for ``check`` and ``backfill``. Prefect is imported only inside these commands, so
``ipi score`` and ``ipi --help`` never load it.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from ipi import cli
from ipi.errors import IngestFailed

if TYPE_CHECKING:
    from ipi.settings import Settings

log = logging.getLogger("ipi")


def cmd_run(args: argparse.Namespace) -> int:
    from ipi import pipeline
    from ipi.alerts.deliver import Notifier
    from ipi.store.accounts import prepare

    settings = cli.settings_of(args)  # fail on a bad configuration before starting Prefect
    cli.refuse_future(settings, args.date)
    prepare(settings)  # and on an unusable data folder or database
    notifier = Notifier.from_settings(settings)
    for target in notifier.broken():  # its accounts' alerts wait; every other runs
        log.warning("alert %s cannot be used: %s; the alerts routed to it wait in the "
                    "outbox", target.name, target.problem)
    if not notifier.targets:
        log.warning("no alert target is configured: alerts are recorded (ipi alerts "
                    "history) but reach nobody; set IPI_APPRISE_URLS, [alerts] urls or "
                    "[[alerts.targets]], then `ipi alerts test`")
    if not os.environ.get("PREFECT_API_URL"):
        # A temporary Prefect API takes 15-20 s to start: use `ipi serve`'s server when
        # it runs (the run shows in its UI), and start none when there is nothing to load.
        api = f"http://127.0.0.1:{settings.server_port}/api"
        from flows.probe import healthy

        if healthy(api, timeout=1):
            log.info("running on ipi serve's Prefect server, %s", api)
            os.environ["PREFECT_API_URL"] = api
        elif _nothing_new(settings):
            return _run_without_prefect(settings, args.date)
    from flows.daily import daily

    cli.terminal_log(args.verbose, args.quiet)  # importing Prefect replaced our handlers
    try:
        records = daily(config=args.config, day=args.date)
    except IngestFailed as exc:
        for name, run in exc.runs.items():
            print(run.line(name))
        raise
    runs = {name: pipeline.DayRun.from_record(r) for name, r in records.items()}
    for name, run in runs.items():
        print(run.line(name))
    return cli.partly_done(runs)


def _nothing_new(settings: Settings) -> bool:
    """Every account reads a drop folder, and none holds a file."""
    from ipi.sources.files import report_files

    folders = [settings.drop_dir(a) for a in settings.accounts]
    return all(a.source == "files" for a in settings.accounts) and not any(
        next(report_files([f]), None) for f in folders if f.exists())


def _run_without_prefect(settings: Settings, day: date | None) -> int:
    """The day's steps for accounts with nothing to load: score the day, evaluate and
    deliver the alerts (the dead man's switch included), as the daily flow would."""
    from ipi import pipeline

    runs: dict[str, pipeline.DayRun] = {}
    for account in settings.accounts:
        on = day or settings.today(account)
        with pipeline.run_lock(settings, account, f"the daily run for {on}"):
            pipeline.score(settings, account, on)
            al = pipeline.alert(settings, account, on)
        runs[account.name] = pipeline.DayRun.of(settings, account, on, al)
        print(runs[account.name].line(account.name)
              + f" (nothing new in {settings.drop_dir(account)}: Prefect not started)")
    return cli.partly_done(runs)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = cli.settings_of(args)  # a bad configuration fails before any server starts
    from flows.serve import serve

    # A service: where the server is and what the runs do belongs in its journal.
    serve_log = logging.getLogger("ipi.serve")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("ipi serve: %(message)s"))
    serve_log.addHandler(handler)
    serve_log.setLevel(logging.WARNING if args.quiet else logging.INFO)
    serve_log.propagate = False
    from ipi.web import TOKEN_ENV, start

    web = start(settings, settings.web.host, settings.web.port,
                os.environ.get(TOKEN_ENV) or None)
    serve_log.info("the dashboard is at %s", web.url)
    try:
        serve(settings)
    finally:
        web.stop()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from flows.demo import run_demo

    return run_demo(args.dir, days=args.days, flow_days=args.flow_days)


def flow_commands(c: cli.Commands) -> None:
    sp = c.add("demo", cmd_demo, "run a synthetic seller end to end, no set-up needed")
    sp.add_argument("--dir", type=Path, default=Path("ipi-demo"),
                    help="folder for the demo's data, drops and alerts (default: ./ipi-demo)")
    sp.add_argument("--days", type=int, default=120, help="days of history (default 120)")
    sp.add_argument("--flow-days", type=int, default=14,
                    help="of those, the last days run through the daily flow (default 14)")
    sp = c.add("run", cmd_run, "run the daily flow once: ingest drops, score, alert")
    sp.add_argument("--date", type=cli.day_arg,
                    help="the day to run for (default: today, in each account's time zone)")
    c.add("serve", cmd_serve, "run every account's day on its schedule until stopped "
          "(starts a local Prefect server unless PREFECT_API_URL is set)")


def secret_block(name: str) -> str:
    from flows.daily import secret_block

    return secret_block(name)


def reference() -> str:
    """The whole command line's reference, as docs/reference/cli.md holds it."""
    return cli.reference_markdown(cli.build_parser([flow_commands]))


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(argv, extra=[flow_commands], secrets=secret_block)


def script() -> NoReturn:
    """The console script. Python's teardown of sqlalchemy's, pydantic's and duckdb's
    modules takes ~0.1 s, a fifth of what `ipi score` may take; a command that did not
    start Prefect has nothing left to finish once its output is flushed (its database
    connections are closed, its transactions committed), so it leaves at once. Prefect's
    exit handlers (logs sent to its API, a temporary server stopped) always run."""
    # Imports allocate ~10^6 objects that live as long as the process: collecting after
    # every 700 new ones (the default) is wasted start-up time.
    gc.set_threshold(50_000, 20, 20)
    code = main()
    if "prefect" in sys.modules:
        sys.exit(code)
    logging.shutdown()
    with contextlib.suppress(BrokenPipeError):  # the reader left as the last lines went
        sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
