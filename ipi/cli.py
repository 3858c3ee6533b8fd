"""The ``ipi`` command: a thin shell over the library; errors become one clear line.

``run`` and ``demo`` start the Prefect flow in ``flows/``; that import happens
inside those commands, so the library itself never needs Prefect.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipi import __version__
from ipi.errors import ConfigError, IngestFailed, IpiError

if TYPE_CHECKING:
    from ipi.backfill import Progress

log = logging.getLogger("ipi")

SCORE_FIELDS = ("account", "marketplace", "date", "score", "score_low", "score_high",
                "excess_pct", "sell_through", "stranded_pct", "in_stock_rate", "status")


def _day(s: str) -> date:
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a date: use YYYY-MM-DD") from None


def _fmt(v: Any, field: str) -> str:
    if v is None:
        return "-"
    if field in ("score", "score_low", "score_high"):
        return f"{v:.0f}"
    if field in ("excess_pct", "stranded_pct"):
        return f"{v:.1f}%"
    if field == "in_stock_rate":
        return f"{100 * v:.0f}%"
    if field == "sell_through":
        return f"{v:.2f}"
    return str(v)


def print_table(rows: Sequence[dict[str, Any]], out: Any = None) -> None:
    out = out or sys.stdout
    heads = {"score_low": "low", "score_high": "high", "excess_pct": "excess",
             "sell_through": "sell-thru", "stranded_pct": "stranded", "in_stock_rate": "in-stock",
             "marketplace": "mkt"}
    cols = list(SCORE_FIELDS)
    cells = [[_fmt(r.get(c), c) for c in cols] for r in rows]
    titles = [heads.get(c, c) for c in cols]
    widths = [max([len(t)] + [len(row[i]) for row in cells]) for i, t in enumerate(titles)]
    print("  ".join(t.ljust(w) for t, w in zip(titles, widths, strict=True)), file=out)
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)), file=out)


def _settings(args: argparse.Namespace) -> Any:
    from ipi.settings import load_settings

    return load_settings(args.config)


def cmd_run(args: argparse.Namespace) -> int:
    from ipi import pipeline
    from ipi.alerts import Notifier

    settings = _settings(args)  # fail on a bad configuration before starting Prefect
    pipeline.open_store(settings).migrate()  # and on an unusable data folder or database
    if not Notifier.from_settings(settings).targets:
        log.warning("no alert target is configured: alerts are recorded (ipi alerts "
                    "history) but reach nobody; set IPI_APPRISE_URLS, [alerts] urls or "
                    "[[alerts.targets]], then `ipi alerts test`")
    from flows.daily import daily

    terminal_log(args.verbose)  # importing Prefect replaced the terminal's handlers
    try:
        runs = daily(config=args.config, day=args.date)
    except IngestFailed as exc:
        for name, run in exc.runs.items():
            print(run_line(name, run))
        raise
    for name, run in runs.items():
        print(run_line(name, run))
    return 0


def run_line(account: str, run: Any) -> str:
    """What a run did for one account, in one line: reports loaded, the estimate per
    marketplace with its band and status, alerts sent or held."""
    if not isinstance(run, dict):
        return f"{account}: {run}"
    if "error" in run or "overlap" in run:
        return f"{account}: not run: {run.get('error') or run['overlap']}"
    loaded = f"{run['loaded']} report(s) loaded" + "".join(
        f", {run[k]} {k}" for k in ("skipped", "failed", "warnings") if run.get(k))
    est = "; ".join(
        f"{e['marketplace']} {e['score']:.0f} (band {e['low']:.0f}-{e['high']:.0f}, "
        f"{e['status']})" if e["score"] is not None else f"{e['marketplace']} no estimate"
        for e in run.get("estimates", [])) or "no estimate for the day"
    sent = run["alerts"].count("sent")
    other = len(run["alerts"]) - sent
    alerts = (f"{sent} alert(s) sent" + (f", {other} not delivered (retried next run)"
                                          if other else "")
              + (f", {run['held']} held by a silence" if run.get("held") else ""))
    return f"{account} {run.get('day', '')}: {loaded}; {est}; {alerts}"


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)  # a bad configuration fails before any server starts
    from flows.serve import serve

    # A service: where the server is and what the runs do belongs in its journal.
    serve_log = logging.getLogger("ipi.serve")
    serve_log.addHandler(_stderr_handler())
    serve_log.setLevel(logging.INFO)
    serve_log.propagate = False
    serve(settings)
    return 0


def _stderr_handler() -> logging.Handler:
    h = logging.StreamHandler()
    h.setFormatter(logging.Formatter("ipi serve: %(message)s"))
    return h


def cmd_ingest(args: argparse.Namespace) -> int:
    from ipi import pipeline
    from ipi.sources.files import FileDrops

    settings = _settings(args)
    account = settings.account(args.account)
    day = args.date or date.today()
    missing = [p for p in args.paths if not p.exists()]
    if missing:
        raise IpiError(f"no such file or folder: {', '.join(map(str, missing))}")
    store = pipeline.open_store(settings)
    run = pipeline.ingest(store, account, FileDrops(args.paths[0], paths=list(args.paths),
                                                     move_done=False), day)
    for r in run.loaded:
        parts = ", ".join(f"{m} {d}" for m, d in r.partitions)
        print(f"loaded  {r.path}: {r.report_type}, {r.rows} rows ({parts}; date from "
              f"{r.date_source})")
    for r in run.skipped:
        print(f"skipped {r.path}: already loaded")
    if run.loaded:
        sc = pipeline.score(settings, account, day, run.days)
        print(f"rescored {sc.days} day(s) of {account.name}")
    if run.failed:  # the files are the user's: reported, never moved
        raise IngestFailed(run.failed, f"{len(run.failed)} file(s) could not be loaded (left "
                           "where they are; fix or download them again, then ingest them)")
    return 0


class _ProgressBar:
    """A bar with windows (or files) done, rows loaded and an ETA on a terminal; one line
    per step otherwise (logs, CI, a pipe), so progress is never lost in a redraw."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.task: Any = None

    def __call__(self, p: Progress) -> None:
        from ipi.backfill import duration

        if not sys.stderr.isatty():
            print(p.line(), file=sys.stderr, flush=True)
            return
        if self.bar is None:
            from rich import progress as rp

            self.bar = rp.Progress(
                rp.TextColumn("{task.description}"), rp.BarColumn(), rp.MofNCompleteColumn(),
                rp.TextColumn("{task.fields[unit]}s, {task.fields[rows]} rows, "
                              "ETA {task.fields[eta]}"))
            self.bar.start()
            self.task = self.bar.add_task(p.account, total=p.total, unit=p.unit, rows="0",
                                          eta="?")
        eta = p.eta
        self.bar.update(self.task, completed=p.done + p.failed, rows=f"{p.rows:,}",
                        eta=duration(eta) if eta is not None else "?")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def cmd_backfill(args: argparse.Namespace) -> int:
    from ipi import backfill

    settings = _settings(args)
    source = args.source or ("files" if args.paths else "sp-api")
    if source == "files":
        if not args.paths:
            raise IpiError("--source files needs the folders or archives to read: "
                           "ipi backfill --source files PATH ...")
        missing = [p for p in args.paths if not p.exists()]
        if missing:
            raise IpiError(f"no such file or folder: {', '.join(map(str, missing))}")
    elif args.paths:
        raise IpiError("PATH is for --source files; a backfill from the SP-API reads no files")
    elif args.start is None or args.end is None:
        raise IpiError("a backfill from the SP-API needs --start and --end (YYYY-MM-DD)")
    accounts = ([settings.account(args.account)] if args.account or source == "files"
                else [a for a in settings.accounts if a.source == "sp-api"])
    if not accounts:
        raise IpiError(f"no account with source = \"sp-api\" in {settings.config_path}; "
                       "backfill files with --source files PATH")
    failed: list[tuple[str, str]] = []
    for account in accounts:
        bar = _ProgressBar()
        try:
            if source == "files":
                run = backfill.backfill_files(settings, account, list(args.paths),
                                              start=args.start, end=args.end, progress=bar)
            else:
                run = backfill.backfill_sp_api(settings, account, args.start, args.end,
                                               progress=bar)
        finally:
            bar.close()
        for note in run.notes:
            print(f"note: {note}")
        p = run.progress
        print(f"{account.name}: {p.done} of {p.total} {p.unit}(s) loaded, {p.rows:,} rows"
              + (f", {p.failed} failed" if p.failed else "")
              + (f"; rescored {run.scored.days} day(s), {run.scored.changed} changed"
                 if run.scored else "; nothing new")
              + (f"; alerts looked at {run.alerts.day} only, {len(run.alerts.notices)} "
                 "notice(s)" if run.alerts else ""))
        failed += [(f"{account.name} {name}", why) for name, why in run.failed]
    if failed:
        raise IngestFailed(failed, f"{len(failed)} window(s) or file(s) failed; run the same "
                           "command again to retry only those (what loaded is kept)")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from ipi import pipeline
    from ipi.score import scores

    settings = _settings(args)
    account = settings.account(args.account).name if args.account else None
    rows = scores(pipeline.open_store(settings), account, start=args.date, end=args.date)
    if not args.date:
        keep = args.history
        by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in rows:
            by_key.setdefault((r["account"], r["marketplace"]), []).append(r)
        rows = [r for group in by_key.values() for r in group[-keep:]]
    if args.json:
        out = [{k: (str(r[k]) if k == "date" else r[k]) for k in SCORE_FIELDS} for r in rows]
        print(json.dumps(out, indent=2))
    elif not rows:
        print("no scores yet: drop reports and run `ipi run`, or `ipi ingest PATH`")
    else:
        print_table(rows)
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    from ipi import pipeline

    settings = _settings(args)
    account = settings.account(args.account)
    run = pipeline.forget(settings, account, args.date,
                          marketplace=args.marketplace.upper() if args.marketplace else None,
                          report_type=args.report_type.upper() if args.report_type else None,
                          reason=args.reason)
    for f in run.forgotten:
        print(f"forgot  {account.name} {f.marketplace} {f.report_type} {f.snapshot_date}: "
              f"{f.rows:,} rows (file {f.sha256[:12]}: its bytes are kept)")
    sc = run.rescored
    print(f"rescored {account.name} {run.start}..{run.end}: {sc.days} day(s), {sc.changed} "
          "changed" + (f", {sc.removed} estimate(s) removed: no data left for their day"
                       if sc.removed else ""))
    return 0


def cmd_whatif(args: argparse.Namespace) -> int:
    from ipi import pipeline
    from ipi.score import latest_row
    from ipi.score.drivers import recovery
    from ipi.score.whatif import Action, parse_remove, what_if
    from ipi.store import duck

    settings = _settings(args)
    account = settings.account(args.account)
    mp = (args.marketplace or account.marketplaces[0]).upper()
    actions = ([parse_remove(r) for r in args.remove]
               + [Action("fix-stranded", s) for s in args.fix_stranded]
               + [Action("restock", s) for s in args.restock])
    if not actions and not args.plan:
        raise ConfigError("name the actions (--remove SKU:UNITS, --fix-stranded SKU, "
                          "--restock SKU), or ask for --plan")
    with pipeline.open_store(settings).begin() as conn:
        con = duck(conn)
        row = latest_row(con, account.name, mp, args.date)
        if row is None:
            raise ConfigError(f"{account.name} {mp} has no estimate"
                              + (f" on or before {args.date}" if args.date else "")
                              + ": load reports first (ipi run, ipi ingest)")
        print(f"{account.name} {mp} on {row['date']}: estimate {row['score']:.0f} "
              f"(band {row['score_low']:.0f}-{row['score_high']:.0f})")
        if actions:
            out = what_if(con, account.name, row, actions)
            for a in actions:
                note = ("  (not in that day's reports: no effect)" if a.sku in out.unknown
                        else f"  (it has {out.capped[a.sku]:,.0f}: counted those)"
                        if a.sku in out.capped else "")
                print(f"  {a.label()}{note}")
            after, gain = out.after, out.gain or 0.0
            print(f"after: {after.score:.0f} (band {after.low:.0f}-{after.high:.0f}), "
                  f"{gain:+.1f} points; " + _factor_changes(row, out.values_after))
            later = out.later.score
            if later is not None and after.score is not None and abs(later - after.score) >= 0.5:
                print(f"in 90 days, once Amazon's sell-through window has passed over the "
                      f"removals: {later:.0f} ({out.gain_later or 0.0:+.1f} points)")
        if args.plan:
            policy = settings.policy_for(account)
            if args.by:
                policy = policy.model_copy(update={"plan_by": args.by})
            plan = recovery(con, account.name, row, policy)
            print(f"{plan.title} (the recovery threshold: the threshold plus its margin):")
            print("\n".join(f"  {line}" for line in plan.lines()))
    return 0


def _factor_changes(row: dict[str, Any], after: Any) -> str:
    parts = []
    for factor, column in (("excess", "excess_pct"), ("sell_through", "sell_through"),
                           ("stranded", "stranded_pct"), ("in_stock", "in_stock_rate")):
        was, now = row.get(column), after.get(factor)
        if was is not None and now is not None and abs(now - was) > 1e-9:
            parts.append(f"{factor.replace('_', '-')} {_fmt(was, column)} -> "
                         f"{_fmt(now, column)}")
    return ", ".join(parts) or "no factor changed"


def cmd_report(args: argparse.Namespace) -> int:
    from ipi import pipeline, report

    settings = _settings(args)
    accounts = [settings.account(args.account)] if args.account else settings.accounts
    if not accounts:
        settings.account(None)  # raises, naming the configuration
    store = pipeline.open_store(settings)
    for account in accounts:
        print(report.write(store, settings, account, args.out, args.date))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from ipi.errors import ConfigError
    from ipi.sources.sp_api import SpApiSource, resolve_credentials

    settings = _settings(args)
    accounts = [settings.account(args.account)] if args.account else list(settings.accounts)
    if not accounts:
        raise ConfigError(f"no [[accounts]] in {settings.config_path}")
    failed = 0
    for account in accounts:
        print(f"{account.name} ({account.source}, {', '.join(account.marketplaces)})")
        results: list[tuple[str, bool, str]] = []
        if account.source == "files":
            drop = settings.drop_dir(account)
            ok = drop.is_dir()
            waiting = sum(1 for p in drop.iterdir() if p.is_file()) if ok else 0
            results.append(("drop folder", ok, f"{drop} ({waiting} file(s) waiting)" if ok
                            else f"{drop} does not exist: create it and drop reports there"))
        else:
            secrets: Callable[[str], str] | None = None
            cfg = account.sp_api
            if cfg.client_id_block or cfg.client_secret_block or cfg.refresh_token_block:
                from flows.daily import _secret_block  # Prefect Secret blocks

                secrets = _secret_block
            try:
                source = SpApiSource(account, resolve_credentials(account, lookup=secrets),
                                     settings.spool_dir)
            except ConfigError as exc:
                results.append(("credentials", False, str(exc)))
            else:
                try:
                    results += source.check()
                finally:
                    source.close()
        for name, ok, detail in results:
            print(f"  {'ok  ' if ok else 'FAIL'}  {name}: {detail}")
            failed += not ok
    if failed:
        print(f"{failed} check(s) failed")
    return 1 if failed else 0


def cmd_alerts_test(args: argparse.Namespace) -> int:
    from ipi.alerts import Notifier
    from ipi.errors import DeliveryError

    settings = _settings(args)
    notifier = Notifier.from_settings(settings)
    if not notifier.targets:
        print("no alert targets: set alerts.urls, [[alerts.targets]], alerts.apprise_config "
              "or IPI_APPRISE_URLS")
        return 1
    failed = 0
    for t in notifier.targets:
        scope = ", ".join(sorted(t.kinds)) + (f"; accounts {', '.join(sorted(t.accounts))}"
                                              if t.accounts else "")
        try:
            notifier.send(t, "IPI test alert", "A test message from `ipi alerts test`: this "
                          "target will receive " + scope + " alerts.", severity="info")
            print(f"  ok    {t.name} ({scope})")
        except DeliveryError as exc:
            failed += 1
            print(f"  FAIL  {t.name} ({scope}): {exc}")
    return 1 if failed else 0


def cmd_alerts_history(args: argparse.Namespace) -> int:
    from ipi import pipeline
    from ipi.alerts.control import events, messages

    store = pipeline.open_store(_settings(args))
    changes = events(store, args.account, args.limit)
    sent = messages(store, args.account, args.limit)
    if args.json:
        print(json.dumps({"events": changes, "messages": sent}, default=str, indent=2))
        return 0
    print("State changes (newest first):" if changes else "No alert state changes yet.")
    for e in changes:
        value = f" at {e['value']:.0f}" if e["value"] is not None else ""
        note = f" ({e['note']})" if e["note"] else ""
        print(f"  {e['date']}  {e['account']} {e['marketplace']} {e['rule']}: "
              f"{e['from_state']} -> {e['to_state']}{value}{note}")
    print("\nMessages (newest first):" if sent else "\nNo messages yet.")
    for m in sent:
        print(f"  {m['date']}  {m['title']}  -> {m['deliveries'] or m['status']}")
    return 0


def _marketplace(account: Any, marketplace: str | None) -> str | None:
    if marketplace and marketplace.upper() not in account.marketplaces:
        raise IpiError(f"--marketplace {marketplace} is not one of {account.name}'s "
                       f"marketplaces ({', '.join(account.marketplaces)})")
    return marketplace.upper() if marketplace else None


def cmd_alerts_ack(args: argparse.Namespace) -> int:
    from ipi import pipeline
    from ipi.alerts.control import acknowledge

    settings = _settings(args)
    account = settings.account(args.account)
    mp = _marketplace(account, args.marketplace)
    done = acknowledge(pipeline.open_store(settings), account.name, mp)
    if not done:
        print(f"nothing is firing for {account.name}{' ' + mp if mp else ''}: nothing to "
              "acknowledge")
        return 0
    policy = settings.policy_for(account)
    for a in done:
        score = f" at {a.score:.0f}" if a.score is not None else ""
        print(f"acknowledged {account.name} {a.marketplace} {a.rule.replace('_', ' ')} "
              f"(firing since {a.since}; estimate{score} on {a.as_of})")
    print(f"No repeats until it resolves, or the estimate falls "
          f"{policy.repeat_worse_points:.0f} points more"
          + (f" or its whole band goes under {policy.threshold:.0f}"
             if policy.repeat_band_under else "") + ".")
    return 0


def cmd_alerts_silence(args: argparse.Namespace) -> int:
    from ipi import pipeline
    from ipi.alerts.control import add_silence

    settings = _settings(args)
    account = settings.account(args.account)
    mp = _marketplace(account, args.marketplace)
    sid = add_silence(pipeline.open_store(settings), account.name, mp, args.until,
                      args.reason, settings.today(account))
    print(f"silence {sid}: {account.name}{' ' + mp if mp else ''} until {args.until} "
          f"(inclusive): {args.reason}. Alerts keep their state; a still-firing one is sent "
          f"when the silence ends (or `ipi alerts silence expire {sid}`).")
    return 0


def cmd_alerts_silence_list(args: argparse.Namespace) -> int:
    from ipi import pipeline
    from ipi.alerts.control import silences

    settings = _settings(args)
    today = settings.today(settings.account(args.account)) if args.account else date.today()
    rows = silences(pipeline.open_store(settings), args.account, today=today, ended=args.all)
    if args.json:
        print(json.dumps(rows, default=str, indent=2))
        return 0
    if not rows:
        print("no silences in force" + ("" if args.all else " (--all shows ended ones)"))
    for r in rows:
        print(f"  {r['id']:>4}  {r['status']:<7}  {r['account']} {r['marketplace']} until "
              f"{r['until']}: {r['reason']}")
    return 0


def cmd_alerts_silence_expire(args: argparse.Namespace) -> int:
    from ipi import pipeline
    from ipi.alerts.control import expire_silence

    gone = expire_silence(pipeline.open_store(_settings(args)), args.id)
    print(f"silence {gone['id']} ({gone['account']} {gone['marketplace'] or 'all'}, until "
          f"{gone['until']}) expired: the next run pages what is still firing")
    return 0


def cmd_alerts_check(args: argparse.Namespace) -> int:
    from ipi import pipeline
    from ipi.alerts import Notifier, alert_account
    from ipi.score import latest_day
    from ipi.store import duck

    settings = _settings(args)
    notifier = Notifier.from_settings(settings)
    store = pipeline.open_store(settings)
    today = args.date or date.today()
    accounts = [settings.account(args.account)] if args.account else list(settings.accounts)
    for account in accounts:
        with store.begin() as conn:
            latest = latest_day(duck(conn), account.name)
        run = alert_account(store, notifier, account.name, latest or today,
                            settings.policy_for(account), settings.alerts.top_skus,
                            today=today, backoff_minutes=settings.alerts.retry_backoff_minutes,
                            link=settings.alerts.ui_url)
        sent = ", ".join(f"{d.target} {d.status}" for d in run.deliveries) or "nothing to send"
        print(f"{account.name}: latest estimate {latest or 'none'}; {sent}")
    return 0


def cmd_official_record(args: argparse.Namespace) -> int:
    """``ipi official add`` and ``ipi official import``: record, refit, rescore."""
    from ipi import pipeline
    from ipi.score import official

    settings = _settings(args)
    account = settings.account(args.account)
    if args.official_command == "import":
        rows = official.read_csv(args.file, account)
    else:
        mp = (args.marketplace or account.marketplaces[0]).upper()
        rows = [official.Official(mp, args.date, args.score)]
        official.check(account, rows, ["--score/--marketplace"])
    cal = official.record(pipeline.open_store(settings), account, rows)
    print(f"{account.name}: recorded {len(rows)} official score(s). {cal.summary()}")
    return 0


def cmd_official_list(args: argparse.Namespace) -> int:
    from ipi import pipeline
    from ipi.score import official

    settings = _settings(args)
    account = settings.account(args.account)
    store = pipeline.open_store(settings)
    rows = official.listing(store, account.name)
    if not rows:
        print(f"{account.name}: no official scores yet: `ipi official add --date D --score S` "
              "with the IPI Seller Central shows")
        return 0
    print("date        mkt  official  estimate  difference")
    for r in rows:
        est = "-" if r["estimate"] is None else f"{r['estimate']:.0f}"
        diff = "-" if r["estimate"] is None else f"{r['estimate'] - r['official']:+.0f}"
        print(f"{r['date']}  {r['marketplace']:<3}  {r['official']:>8.0f}  {est:>8}  {diff:>10}")
    cal = official.calibration(store, account.name)
    if cal:
        print(f"model: {'calibrated' if cal['used'] else 'default weights'}, band "
              f"±{cal['model_error']:.0f}" + (f", held-out error {cal['mae']:.1f}"
                                              if cal["mae"] is not None else ""))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from flows.demo import run_demo

    return run_demo(args.dir, days=args.days, flow_days=args.flow_days)


def cmd_config_show(args: argparse.Namespace) -> int:
    import os

    from ipi.effective import as_json, as_text, effective
    from ipi.settings import read_config

    settings = _settings(args)  # checked whole first: a bad file is refused, not shown
    _, raw = read_config(settings.config_path)
    tree = effective(settings, raw, os.environ)
    sys.stdout.write(json.dumps(as_json(tree), indent=2) + "\n" if args.json
                     else as_text(tree))
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    import shlex

    from ipi.starter import init

    config, settings = init(args.dir)
    cfg = shlex.quote(str(config))
    drops = ", ".join(str(settings.drop_dir(a)) for a in settings.accounts)
    print(f"wrote {config} and created the drop folder {drops}\n"
          "Next:\n"
          f"  1. Edit {config}: name your account and list its marketplaces (the drop\n"
          "     folder follows the name: <data_dir>/drops/<name>/).\n"
          "  2. Download from Seller Central Manage Inventory Health, Stranded inventory and\n"
          "     Manage FBA Inventory (active listings) into the drop folder, under any names.\n"
          f"  3. ipi check --config {cfg}    says what is missing\n"
          f"  4. ipi run --config {cfg}      loads, scores and alerts once (ipi serve: daily)\n"
          "  5. export IPI_APPRISE_URLS='<apprise URLs>' (URLs with tokens stay out of the\n"
          f"     file), then ipi alerts test --config {cfg}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ipi", description="Watch Amazon's Inventory Performance "
                                "Index every day: reports, factors, an estimate, alerts.")
    p.add_argument("--version", action="version", version=f"ipi {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log what every step does")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--config", help="TOML configuration file (default: $IPI_CONFIG)")

    sp = sub.add_parser("demo", help="run a synthetic seller end to end, no set-up needed")
    sp.add_argument("--dir", type=Path, default=Path("ipi-demo"),
                    help="folder for the demo's data, drops and alerts (default: ./ipi-demo)")
    sp.add_argument("--days", type=int, default=120, help="days of history (default 120)")
    sp.add_argument("--flow-days", type=int, default=42,
                    help="of those, the last days run through the daily flow (default 42)")
    sp.set_defaults(func=cmd_demo)

    sp = sub.add_parser("run", help="run the daily flow once: ingest drops, score, alert")
    common(sp)
    sp.add_argument("--date", type=_day,
                    help="the day to run for (default: today, in each account's time zone)")
    sp.set_defaults(func=cmd_run)

    sp = sub.add_parser("serve", help="run every account's day on its schedule until "
                        "stopped (starts a local Prefect server unless PREFECT_API_URL is set)")
    common(sp)
    sp.set_defaults(func=cmd_serve)

    sp = sub.add_parser("ingest", help="load report files or folders into the store")
    common(sp)
    sp.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    sp.add_argument("--account", help="the account the files belong to (default: the only one)")
    sp.add_argument("--date", type=_day,
                    help="the day for files that name none in content or file name "
                         "(default: today)")
    sp.set_defaults(func=cmd_ingest)

    sp = sub.add_parser("backfill", help="rebuild history: the ledger from the SP-API, or "
                        "archives of old downloads; resumable")
    common(sp)
    sp.add_argument("--start", type=_day, help="first day (YYYY-MM-DD)")
    sp.add_argument("--end", type=_day, help="last day (YYYY-MM-DD)")
    sp.add_argument("--account", help="only this account (default: every SP-API account)")
    sp.add_argument("--source", choices=("sp-api", "files"),
                    help="where history comes from (default: files when PATHs are given, "
                         "else the SP-API's ledger)")
    sp.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                    help="folders or zip/tar archives of reports (with --source files)")
    sp.set_defaults(func=cmd_backfill)

    sp = sub.add_parser("check", help="verify each account's drop folder, or its SP-API "
                        "credentials and report access, and say what is missing")
    common(sp)
    sp.add_argument("--account", help="only this account")
    sp.set_defaults(func=cmd_check)

    sp = sub.add_parser("alerts", help="test targets, show history, silence, check")
    alerts = sp.add_subparsers(dest="alerts_command", required=True, metavar="ALERTS_COMMAND")
    ap = alerts.add_parser("test", help="send a test message to every target; report each")
    common(ap)
    ap.set_defaults(func=cmd_alerts_test)
    ap = alerts.add_parser("history", help="alert state changes and messages, newest first")
    common(ap)
    ap.add_argument("--account", help="only this account")
    ap.add_argument("--limit", type=int, default=20, help="how many of each (default 20)")
    ap.add_argument("--json", action="store_true", help="print JSON")
    ap.set_defaults(func=cmd_alerts_history)
    ap = alerts.add_parser("ack", help="acknowledge what fires: no repeats until it "
                           "resolves or gets materially worse")
    common(ap)
    ap.add_argument("account", metavar="ACCOUNT")
    ap.add_argument("--marketplace", help="only this marketplace (default: all)")
    ap.set_defaults(func=cmd_alerts_ack)
    sp = alerts.add_parser("silence", help="mute an account's alerts until a date; list or "
                           "expire silences")
    silence = sp.add_subparsers(dest="silence_command", required=True,
                                metavar="add|list|expire")
    ap = silence.add_parser("add", help="mute an account's alerts through a date (`ipi "
                            "alerts silence ACCOUNT ...` is short for this)")
    common(ap)
    ap.add_argument("account", metavar="ACCOUNT")
    ap.add_argument("--until", type=_day, required=True, help="last muted day, YYYY-MM-DD")
    ap.add_argument("--reason", required=True, help="why (shown in the history)")
    ap.add_argument("--marketplace", help="only this marketplace (default: all)")
    ap.set_defaults(func=cmd_alerts_silence)
    ap = silence.add_parser("list", help="silences in force, with their ids")
    common(ap)
    ap.add_argument("--account", help="only this account")
    ap.add_argument("--all", action="store_true", help="also those ended or expired")
    ap.add_argument("--json", action="store_true", help="print JSON")
    ap.set_defaults(func=cmd_alerts_silence_list)
    ap = silence.add_parser("expire", help="end a silence now")
    common(ap)
    ap.add_argument("id", metavar="ID", type=int, help="the silence's id (silence list)")
    ap.set_defaults(func=cmd_alerts_silence_expire)
    ap = alerts.add_parser("check", help="evaluate the alerts without ingesting: retries "
                           "pending deliveries and checks that data is fresh")
    common(ap)
    ap.add_argument("--account", help="only this account")
    ap.add_argument("--date", type=_day, help="today, for the freshness check")
    ap.set_defaults(func=cmd_alerts_check)

    sp = sub.add_parser("whatif", help="the estimate after actions on SKUs, or the smallest "
                        "recovery plan back over the threshold")
    common(sp)
    sp.add_argument("--account", help="the account (default: the only one)")
    sp.add_argument("--marketplace", help="default: the account's first")
    sp.add_argument("--date", type=_day, help="the day (default: the latest estimate)")
    sp.add_argument("--remove", action="append", default=[], metavar="SKU:UNITS",
                    help="a removal order or liquidation of UNITS units (repeatable)")
    sp.add_argument("--fix-stranded", action="append", default=[], metavar="SKU",
                    help="the SKU's stranded listing fixed (repeatable)")
    sp.add_argument("--restock", action="append", default=[], metavar="SKU",
                    help="the SKU back in stock (repeatable)")
    sp.add_argument("--plan", action="store_true",
                    help="also print the recovery plan: the cheapest actions back over the "
                         "threshold plus its margin")
    sp.add_argument("--by", choices=("units", "cost"),
                    help="the plan keeps units moved or estimated cost small "
                         "(default: [policy] plan_by)")
    sp.set_defaults(func=cmd_whatif)

    sp = sub.add_parser("report", help="write a self-contained HTML page per account: "
                        "score history, factors, what to fix, the recovery plan")
    common(sp)
    sp.add_argument("--account", help="only this account (default: each)")
    sp.add_argument("--out", type=Path, default=Path("."), help="folder (default: here)")
    sp.add_argument("--date", type=_day, help="as of this day (default: the latest)")
    sp.set_defaults(func=cmd_report)

    sp = sub.add_parser("official", help="record the official IPI from Seller Central; "
                        "calibrates the score model")
    off = sp.add_subparsers(dest="official_command", required=True, metavar="OFFICIAL_COMMAND")
    ap = off.add_parser("add", help="record one official score, refit, rescore")
    common(ap)
    ap.add_argument("--account", help="the account (default: the only one)")
    ap.add_argument("--date", type=_day, required=True, help="the day Seller Central showed it")
    ap.add_argument("--score", type=float, required=True, help="the IPI, 0-1000")
    ap.add_argument("--marketplace", help="default: the account's first")
    ap.set_defaults(func=cmd_official_record)
    ap = off.add_parser("import", help="record official scores from a CSV (date,score"
                        "[,marketplace]), refit, rescore")
    common(ap)
    ap.add_argument("file", type=Path, metavar="FILE")
    ap.add_argument("--account", help="the account (default: the only one)")
    ap.set_defaults(func=cmd_official_record)
    ap = off.add_parser("list", help="official scores beside ipi's estimates, and the fit")
    common(ap)
    ap.add_argument("--account", help="the account (default: the only one)")
    ap.set_defaults(func=cmd_official_list)

    sp = sub.add_parser("score", help="show the estimates: latest day, or --history N days")
    common(sp)
    sp.add_argument("--account", help="only this account")
    sp.add_argument("--date", type=_day, help="only this day")
    sp.add_argument("--history", type=int, default=1, metavar="N",
                    help="the last N days per account and marketplace (default 1)")
    sp.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sp.set_defaults(func=cmd_score)

    sp = sub.add_parser("forget", help="take a day's loads back out (the raw bytes stay), "
                        "then rescore the days they fed")
    common(sp)
    sp.add_argument("--account", required=True, help="the account")
    sp.add_argument("--date", type=_day, required=True, help="the snapshot day, YYYY-MM-DD")
    sp.add_argument("--marketplace", help="only this marketplace (default: all)")
    sp.add_argument("--report-type", metavar="T",
                    help="only this report type, e.g. GET_FBA_INVENTORY_PLANNING_DATA "
                         "(default: all)")
    sp.add_argument("--reason", default="ipi forget", help="why (recorded with the removal)")
    sp.set_defaults(func=cmd_forget)

    sp = sub.add_parser("init", help="write a commented ipi.toml and the drop folder to "
                        "start from, and say what to do next")
    sp.add_argument("dir", nargs="?", type=Path, default=Path("."), metavar="DIR",
                    help="where to write ipi.toml (default: here); never overwrites")
    sp.set_defaults(func=cmd_init)
    sp = sub.add_parser("config", help="show the effective configuration")
    config = sp.add_subparsers(dest="config_command", required=True, metavar="CONFIG_COMMAND")
    ap = config.add_parser("show", help="every setting, defaults included, with where it "
                           "comes from; secrets never shown")
    common(ap)
    ap.add_argument("--json", action="store_true", help="print JSON")
    ap.set_defaults(func=cmd_config_show)
    return p


class _OneLine(logging.Formatter):
    """ipi's own warnings on a terminal: one line each, without the logger's name or a
    traceback (the run's log keeps both; -v shows everything)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"ipi: {record.levelname.lower()}: {record.getMessage()}"


def _ours(record: logging.LogRecord) -> bool:
    return record.name == "ipi" or record.name.startswith("ipi.")


def terminal_log(verbose: bool) -> None:
    """What the terminal shows: with ``verbose`` every log line, names and tracebacks
    included; else ipi's own warnings, one line each. Prefect's handlers (set when it is
    imported) give way to ours; other handlers (a test's capture) stay."""
    root = logging.getLogger()
    if verbose:
        if not root.handlers:
            logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
        for h in root.handlers:
            h.setLevel(logging.INFO)
        return
    for h in list(root.handlers):
        if type(h) is logging.StreamHandler or type(h).__name__ == "PrefectConsoleHandler":
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.addFilter(_ours)
    handler.setFormatter(_OneLine())
    root.addHandler(handler)


def os_error(exc: OSError) -> str:
    """An operating-system failure (disk, folder, permissions) as one line with the fix."""
    where = f"{exc.filename}: " if exc.filename else ""
    fixes = {
        errno.ENOSPC: "no space left on the device: free space under [store] data_dir, then "
                      "run again (loads are atomic: nothing was half-written)",
        errno.EACCES: "permission denied: make it writable for this user, or point "
                      "[store] data_dir elsewhere",
        errno.EPERM: "operation not permitted: make it writable for this user, or point "
                     "[store] data_dir elsewhere",
        errno.EROFS: "read-only file system: point [store] data_dir at a writable folder",
        errno.ENOENT: "no such file or folder: check the path",
        errno.ENOTDIR: "a file stands where a folder is needed: check [store] data_dir and "
                       "the paths given",
        errno.EEXIST: "a file stands where a folder is needed: check [store] data_dir",
    }
    return where + fixes.get(exc.errno or 0, exc.strerror or str(exc))


_SILENCE_VERBS = {"add", "list", "expire", "-h", "--help"}


def main(argv: Sequence[str] | None = None) -> int:
    """The ``ipi`` command. Exit codes (the README's table): 0 done; 1 partly done, each
    failure listed (files, accounts, checks); 2 nothing done: configuration, usage or the
    machine (a busy or unwritable database, a full disk); 130 interrupted."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # `ipi alerts silence ACCOUNT ...` (the older form) is `silence add ACCOUNT ...`.
    for i in range(len(argv) - 2):
        if argv[i:i + 2] == ["alerts", "silence"] and argv[i + 2] not in _SILENCE_VERBS:
            argv.insert(i + 2, "add")
            break
    args = build_parser().parse_args(argv)
    terminal_log(args.verbose)
    try:
        return int(args.func(args))
    except IngestFailed as exc:
        print(f"ipi: {exc}", file=sys.stderr)
        return 1
    except IpiError as exc:
        print(f"ipi: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the machine's, not ipi's: said in one line, with the fix
        print(f"ipi: error: {os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ipi: interrupted; loads are atomic, nothing was half-written (a backfill "
              "resumes where it stopped when run again)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
