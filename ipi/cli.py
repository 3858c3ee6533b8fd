"""The ``ipi`` command: a thin shell over the library (``ipi.api``); errors become one
clear line, with the exit code the README's table gives.

The commands that run Prefect flows (``run``, ``serve``, ``demo``) are added by
``flows/cli.py``, the console script's entry point: the library never imports Prefect.

Built on argparse rather than typer or cyclopts (both come with Prefect): argparse is in
the standard library and starts in a few milliseconds, where typer brings click and rich
(about 0.1 s) into the 0.5 s that ``ipi score`` may take; global options in any position
come from giving every sub-command the same parent parser, and shell completion
(``ipi completion bash``) is written from the same parser by shtab.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipi import __version__, safe
from ipi.errors import ConfigError, IngestFailed, IpiError

if TYPE_CHECKING:
    from ipi.api import Rows
    from ipi.backfill import Progress

log = logging.getLogger("ipi")

SCORE_FIELDS = ("account", "marketplace", "date", "score", "score_low", "score_high",
                "score_recent", "excess_pct", "sell_through", "stranded_pct", "in_stock_rate",
                "status")

SecretLookup = Callable[[str], str]
Adder = Callable[["Commands"], None]  # adds commands to the parser (flows/cli.py's)


def day_arg(s: str) -> date:
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a date: use YYYY-MM-DD") from None


def _fmt(v: Any, field: str) -> str:
    if v is None:
        return "-"
    if field in ("score", "score_low", "score_high", "score_recent"):
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
    heads = {"score_low": "low", "score_high": "high", "score_recent": "recent",
             "excess_pct": "excess",
             "sell_through": "sell-thru", "stranded_pct": "stranded", "in_stock_rate": "in-stock",
             "marketplace": "mkt"}
    cols = list(SCORE_FIELDS)
    cells = [[_fmt(r.get(c), c) for c in cols] for r in rows]
    titles = [heads.get(c, c) for c in cols]
    widths = [max([len(t)] + [len(row[i]) for row in cells]) for i, t in enumerate(titles)]
    print("  ".join(t.ljust(w) for t, w in zip(titles, widths, strict=True)), file=out)
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)), file=out)


def print_json(value: Any) -> None:
    print(json.dumps(value, default=str, indent=2))


def settings_of(args: argparse.Namespace) -> Any:
    from ipi.settings import load_settings

    return load_settings(args.config)


def refuse_future(settings: Any, day: date | None, option: str = "--date") -> None:
    """A day that has not begun for an account has no reports and no official score:
    refused in one line, naming the account's today."""
    if day is None:
        return
    for account in settings.accounts:
        today = settings.today(account)
        if day > today:
            raise ConfigError(f"{option} {day} is in the future for account {account.name} "
                              f"(its today is {today}): give a day that has begun")


def rows_of(args: argparse.Namespace) -> Rows:
    """The library's questions over the configuration (checked whole first)."""
    from ipi.api import Rows

    return Rows(settings_of(args))


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
    why = f": {'; '.join(run['undelivered'])}" if run.get("undelivered") else ""
    alerts = (f"{sent} alert(s) sent" + (f", {other} not delivered{why} (retried next run)"
                                          if other else "")
              + (f", {run['held']} held by a silence" if run.get("held") else "")
              + (f", {run['inhibited']} warning(s) held while the critical alert fires"
                 if run.get("inhibited") else ""))
    quiet = "".join(
        f"; no report for {s['marketplace']} today (newest {s['newest'] or 'never'})"
        for s in run.get("silent", []))
    return f"{account} {run.get('day', '')}: {loaded}; {est}{quiet}; {alerts}"


def partly_done(runs: dict[str, Any]) -> int:
    """A run's exit code: 1 (partly done) when an account's alerts were not all delivered,
    naming the accounts; else 0. Every other account was loaded, scored and paged."""
    behind = [name for name, run in runs.items()
              if isinstance(run, dict) and run.get("undelivered")]
    if not behind:
        return 0
    print(f"ipi: partly done: alerts of {', '.join(behind)} not delivered (each line above "
          "says why); they wait in the outbox and go out on the next run", file=sys.stderr)
    return 1


def cmd_ingest(args: argparse.Namespace) -> int:
    from ipi import pipeline
    from ipi.sources.files import FileDrops

    settings = settings_of(args)
    account = settings.account(args.account)
    # As `ipi run`: the account's date, in its time zone, not the machine's.
    day = args.date or settings.today(account)
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
    for s in pipeline.silent_marketplaces(settings, account, day):
        print(f"no report for {account.name} {s['marketplace']} on {day} (newest "
              f"{s['newest'] or 'never'})")
    if run.failed:  # the files are the user's: reported, never moved
        raise IngestFailed(run.failed, f"{len(run.failed)} file(s) could not be loaded (left "
                           "where they are; fix or download them again, then ingest them)")
    return 0


class _ProgressBar:
    """A bar with windows (or files) done, rows loaded and an ETA on a terminal; one line
    per step otherwise (logs, CI, a pipe), so progress is never lost in a redraw; nothing
    with -q."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.bar: Any = None
        self.task: Any = None

    def __call__(self, p: Progress) -> None:
        from ipi.backfill import duration

        if self.quiet:
            return
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

    settings = settings_of(args)
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
        bar = _ProgressBar(args.quiet)
        try:
            if source == "files":
                run = backfill.backfill_files(settings, account, list(args.paths),
                                              start=args.start, end=args.end, progress=bar)
            else:
                run = backfill.backfill_sp_api(settings, account, args.start, args.end,
                                               secrets=args.secrets, progress=bar)
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
    from ipi.score import held_line, partial_line

    lib = rows_of(args)
    rows = lib.scores(args.account, marketplace=args.marketplace, start=args.date,
                      end=args.date, last=None if args.date else args.history)
    if args.json:
        print_json([{k: r[k] for k in SCORE_FIELDS} for r in rows])
    elif not rows:
        print("no scores yet: drop reports and run `ipi run`, or `ipi ingest PATH`")
    else:  # a partial day shows what is known, never a bare number; "recent": only
        # where the long-term factors hold the estimate over today's (the 2020 rule)
        print_table([{**r, "score": None, "status": line} if (line := partial_line(r))
                     else r if held_line(r) else {**r, "score_recent": None} for r in rows])
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    from ipi import pipeline

    settings = settings_of(args)
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


def _estimate(score: Any, low: Any, high: Any) -> dict[str, Any]:
    return {"score": score, "low": low, "high": high}


def cmd_whatif(args: argparse.Namespace) -> int:
    from ipi.score import held_line
    from ipi.score.whatif import Action, parse_remove

    lib = rows_of(args)
    actions = ([parse_remove(r) for r in args.remove]
               + [Action("fix-stranded", s) for s in args.fix_stranded]
               + [Action("restock", s) for s in args.restock])
    if not actions and not args.plan:
        raise ConfigError("name the actions (--remove SKU:UNITS, --fix-stranded SKU, "
                          "--restock SKU), or ask for --plan")
    account, row = lib.day(args.account, marketplace=args.marketplace, day=args.date)
    out = lib.whatif(actions, account.name, marketplace=row["marketplace"],
                     day=row["date"]).outcome if actions else None
    plan = lib.plan(account.name, marketplace=row["marketplace"], day=row["date"],
                    by=args.by)[1] if args.plan else None
    if args.json:
        doc: dict[str, Any] = {
            "account": account.name, "marketplace": row["marketplace"], "date": row["date"],
            "estimate": _estimate(row["score"], row["score_low"], row["score_high"])}
        if out is not None:
            doc |= {"actions": [{"action": a.kind, "sku": a.sku, "units": a.units,
                                 "unknown": a.sku in out.unknown,
                                 "capped_at": out.capped.get(a.sku)} for a in actions],
                    "after": _estimate(out.after.score, out.after.low, out.after.high),
                    "gain": out.gain, "factors_after": dict(out.values_after),
                    "in_90_days": _estimate(out.later.score, out.later.low, out.later.high),
                    "gain_in_90_days": out.gain_later}
        if plan is not None:
            doc["plan"] = {"target": plan.target, "by": plan.costs.by, "reached": plan.reached,
                           "steps": [{"action": a.kind, "sku": a.sku, "units": a.units,
                                      "estimate": score, "cost": plan.spent[i]
                                      if plan.costs.by == "cost" else None}
                                     for i, (a, score) in enumerate(plan.steps)]}
        print_json(doc)
        return 0
    print(f"{account.name} {row['marketplace']} on {row['date']}: estimate {row['score']:.0f} "
          f"(band {row['score_low']:.0f}-{row['score_high']:.0f})")
    if (line := held_line(row)) is not None:
        print(f"  ({line})")
    if out is not None:
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
    if plan is not None:
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
    from ipi import page, pipeline

    settings = settings_of(args)
    accounts = [settings.account(args.account)] if args.account else settings.accounts
    if not accounts:
        settings.account(None)  # raises, naming the configuration
    store = pipeline.open_store(settings)
    for account in accounts:
        print(page.write(store, settings, account, args.out, args.date))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from ipi.alerts.deliver import Notifier
    from ipi.sources.files import not_dedicated, preflight, report_files
    from ipi.sources.sp_api import SpApiSource, resolve_credentials

    settings = settings_of(args)
    accounts = [settings.account(args.account)] if args.account else list(settings.accounts)
    if not accounts:
        raise ConfigError(f"no [[accounts]] in {settings.config_path}")
    report = []
    broken = Notifier.from_settings(settings).broken()
    for account in accounts:
        results: list[tuple[str, bool, str]] = []
        if account.source == "files":
            drop = settings.drop_dir(account)
            refused = not_dedicated(drop)
            ok = drop.is_dir() and refused is None
            waiting = list(report_files([drop])) if ok else []
            results.append(("drop folder", ok, refused or (
                f"{drop} ({len(waiting)} file(s) waiting)" if ok
                else f"{drop} does not exist: create it and drop reports there")))
            bad = [(p, why) for p in waiting if (why := preflight(p))]
            if bad:
                results.append(("drop files", False, f"{len(bad)} of {len(waiting)} will "
                                "not load: " + "; ".join(f"{p.name}: {why}"
                                                         for p, why in bad)))
        else:
            try:  # Prefect Secret blocks are read through the lookup flows/cli.py gives
                source = SpApiSource(account, resolve_credentials(account, lookup=args.secrets),
                                     settings.spool_dir)
            except ConfigError as exc:
                results.append(("credentials", False, str(exc)))
            else:
                try:
                    results += source.check()
                finally:
                    source.close()
        for t in broken:  # a variable unset, a URL refused: this account's alerts wait
            if t.wants(account.name, "inventory") or t.wants(account.name, "ops"):
                results.append((f"alert {t.name}", False, f"{t.problem}: this account's "
                                "alerts routed to it would wait in the outbox; fix it, or "
                                "remove the target"))
        report.append((account, results))
    failed = sum(not ok for _, results in report for _, ok, _ in results)
    if args.json:
        print_json([{"account": a.name, "source": a.source, "marketplaces": a.marketplaces,
                     "checks": [{"check": n, "ok": ok, "detail": d} for n, ok, d in results]}
                    for a, results in report])
        return 1 if failed else 0
    for account, results in report:
        print(f"{account.name} ({account.source}, {', '.join(account.marketplaces)})")
        for name, ok, detail in results:
            print(f"  {'ok  ' if ok else 'FAIL'}  {name}: {detail}")
    if failed:
        print(f"{failed} check(s) failed")
    return 1 if failed else 0


def cmd_alerts_test(args: argparse.Namespace) -> int:
    from ipi.alerts.deliver import Notifier
    from ipi.errors import DeliveryError

    settings = settings_of(args)
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
    lib = rows_of(args)
    changes = lib.alerts(args.account, limit=args.limit)
    sent = lib.messages(args.account, limit=args.limit)
    if args.json:
        print_json({"events": changes, "messages": sent})
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


def _marketplace(lib: Rows, account: Any, marketplace: str | None) -> str | None:
    return lib.marketplace(account, marketplace) if marketplace else None


def cmd_alerts_ack(args: argparse.Namespace) -> int:
    from ipi.alerts.control import acknowledge

    lib = rows_of(args)
    account = lib.account(args.account)
    mp = _marketplace(lib, account, args.marketplace)
    done = acknowledge(lib.store, account.name, mp)
    if not done:
        print(f"nothing is firing for {account.name}{' ' + mp if mp else ''}: nothing to "
              "acknowledge")
        return 0
    policy = lib.settings.policy_for(account)
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
    from ipi.alerts.control import add_silence

    lib = rows_of(args)
    account = lib.account(args.account)
    mp = _marketplace(lib, account, args.marketplace)
    sid = add_silence(lib.store, account.name, mp, args.until, args.reason,
                      lib.settings.today(account))
    print(f"silence {sid}: {account.name}{' ' + mp if mp else ''} until {args.until} "
          f"(inclusive): {args.reason}. Alerts keep their state; a still-firing one is sent "
          f"when the silence ends (or `ipi alerts silence expire {sid}`).")
    return 0


def cmd_alerts_silence_list(args: argparse.Namespace) -> int:
    rows = rows_of(args).silences(args.account, ended=args.all)
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no silences in force" + ("" if args.all else " (--all shows ended ones)"))
    for r in rows:
        print(f"  {r['id']:>4}  {r['status']:<7}  {r['account']} {r['marketplace']} until "
              f"{r['until']}: {r['reason']}")
    return 0


def cmd_alerts_silence_expire(args: argparse.Namespace) -> int:
    from ipi.alerts.control import expire_silence

    gone = expire_silence(rows_of(args).store, args.id)
    print(f"silence {gone['id']} ({gone['account']} {gone['marketplace'] or 'all'}, until "
          f"{gone['until']}) expired: the next run pages what is still firing")
    return 0


def cmd_alerts_check(args: argparse.Namespace) -> int:
    from ipi import pipeline
    from ipi.alerts.deliver import Notifier
    from ipi.alerts.engine import alert_account
    from ipi.score import latest_day
    from ipi.store import duck

    lib = rows_of(args)
    settings = lib.settings
    notifier = Notifier.from_settings(settings)
    accounts = [settings.account(args.account)] if args.account else list(settings.accounts)
    for account in accounts:
        today = args.date or settings.today(account)
        with lib.store.begin() as conn:
            latest = latest_day(duck(conn), account.name)
        run = alert_account(lib.store, notifier, account.name, latest or today,
                            settings.policy_for(account), settings.alerts.top_skus,
                            today=today, backoff_minutes=settings.alerts.retry_backoff_minutes,
                            link=settings.alerts.ui_url,
                            at_stake=pipeline.at_stake(settings, account))
        sent = ", ".join(f"{d.target} {d.status}" for d in run.deliveries) or "nothing to send"
        print(f"{account.name}: latest estimate {latest or 'none'}; {sent}")
    return 0


def cmd_official_record(args: argparse.Namespace) -> int:
    """``ipi official add`` and ``ipi official import``: record, refit, rescore."""
    from ipi.score import official, record_official

    lib = rows_of(args)
    account = lib.account(args.account)
    today = lib.settings.today(account)
    if args.official_command == "import":
        rows = official.read_csv(args.file, account, today)
    else:
        mp = (args.marketplace or account.marketplaces[0]).upper()
        rows = [official.Official(mp, args.date, args.score)]
        official.check(account, rows, ["--score/--marketplace/--date"], today)
    cal = record_official(lib.store, account, rows,
                          lib.settings.policy_for(account).carry_days)
    print(f"{account.name}: recorded {len(rows)} official score(s). {cal.summary()}")
    return 0


def cmd_official_remove(args: argparse.Namespace) -> int:
    """``ipi official remove``: one official score recorded by mistake; refit, rescore."""
    from ipi.score import remove_official

    lib = rows_of(args)
    account = lib.account(args.account)
    mp = (args.marketplace or account.marketplaces[0]).upper()
    cal = remove_official(lib.store, account, mp, args.date,
                          lib.settings.policy_for(account).carry_days)
    print(f"{account.name}: removed the official score of {mp} on {args.date}. "
          f"{cal.summary()}")
    return 0


def cmd_official_export(args: argparse.Namespace) -> int:
    """``ipi official export --anonymous``: official scores with their factor values, in
    the reference CSV format, for others to fit their default model with."""
    from ipi.score.calibrate import PAIR_DAYS
    from ipi.score.prior import export_anonymous

    if not args.anonymous:
        raise ConfigError("ipi official export writes anonymous rows only (no account, SKU "
                          "or money): add --anonymous")
    lib = rows_of(args)
    names = [lib.account(args.account).name] if args.account else \
        [a.name for a in lib.settings.accounts]
    text, skipped = export_anonymous(lib.store, names, PAIR_DAYS)
    rows = text.count("\n") - 1
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    left = (f" ({skipped} left out: no estimate with every factor on their day or up to "
            f"{PAIR_DAYS} days before)") if skipped else ""
    log.warning("%s", f"exported {rows} official score(s){left}"
                + (f" to {args.out}" if args.out else ""))
    return 0


def cmd_official_import_reference(args: argparse.Namespace) -> int:
    """``ipi official import-reference FILE``: add shared official scores to this
    installation's default model, refit it, rescore every account once."""
    from ipi.score import reference, upgrade
    from ipi.score.prior import import_rows

    lib = rows_of(args)
    got = import_rows(lib.store, reference.read(args.file))
    print(f"{args.file}: {got.added} official score(s) added, {got.already} already here. "
          f"The default model is now {got.name}. {got.judged.sentence()}")
    for account in lib.settings.accounts:
        note = upgrade(lib.store, account.name, lib.settings.policy_for(account).carry_days)
        if note:
            print(note)
    return 0


def cmd_official_list(args: argparse.Namespace) -> int:
    lib = rows_of(args)
    account = lib.account(args.account)
    rows = lib.official(account.name)
    model = lib.model(account.name)
    if args.json:
        print_json({"official": rows, "calibration": lib.calibration(account.name),
                    "model": asdict(model)})
        return 0
    if rows:
        print("date        mkt  official  estimate  difference")
    for r in rows:
        est = "-" if r["estimate"] is None else f"{r['estimate']:.0f}"
        diff = "-" if r["estimate"] is None else f"{r['estimate'] - r['official']:+.0f}"
        print(f"{r['date']}  {r['marketplace']:<3}  {r['official']:>8.0f}  {est:>8}  {diff:>10}")
    print(f"{account.name}: {model.line()}")
    ask = model.ask(lib.settings.today(account))
    if ask:
        print(ask)
    return 0


def cmd_config_show(args: argparse.Namespace) -> int:
    from ipi.effective import as_json, as_text, effective
    from ipi.settings import read_config

    settings = settings_of(args)  # checked whole first: a bad file is refused, not shown
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


def cmd_web(args: argparse.Namespace) -> int:
    from ipi.web import TOKEN_ENV, serve

    settings = settings_of(args)
    token = os.environ.get(TOKEN_ENV) or None
    host = args.host or settings.web.host
    port = settings.web.port if args.port is None else args.port
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the way to stop it
        serve(settings, host=host, port=port, token=token, ready=lambda url: print(
            f"ipi web: the dashboard is at {url}"
            + (f" (every request needs the token in {TOKEN_ENV})" if token else "")
            + "; Ctrl-C stops it", flush=True))
    return 0


def cmd_completion(args: argparse.Namespace) -> int:
    import shtab

    print(shtab.complete(args.parser, shell=args.shell))
    return 0


def cmd_capacity_set(args: argparse.Namespace) -> int:
    from ipi.capacity.limits import set_limit

    lib = rows_of(args)
    account = lib.account(args.account)
    row = set_limit(lib.store, account.name, args.storage_type, args.month, args.limit)
    print(f"recorded {account.name}'s {row['storage_type']} capacity limit for "
          f"{row['month']:%Y-%m}: {row['limit_cuft']:,.0f} cubic feet")
    return 0


def _finite(value: Any) -> Any:
    """JSON has no infinity: a utilization ratio with nothing shipped is written "inf"."""
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _cuft(v: float | None) -> str:
    return "no data" if v is None else f"{v:,.0f}"


def _share(v: float | None) -> str:
    return "" if v is None else f" ({v:.0%})"


def cmd_capacity_show(args: argparse.Namespace) -> int:
    from ipi.stakes import FEE_NAMES, fee_text, span_text

    at = rows_of(args).capacity(args.account, day=args.date)
    if args.json:
        print_json(_finite(at))
        return 0
    storage = at["storage"]
    if not storage:
        print(f"{at['account']}: no planning report stored, so no capacity figures yet "
              "(ipi run, ipi ingest)")
    else:
        first = storage[0]
        print(f"{at['account']}: capacity on {first['date']} (newest planning report), "
              f"projected to {first['month_end']}")
        cells = [(s["storage_type"], _cuft(s["used_cuft"]), _cuft(s["limit_cuft"])
                  + (" (config)" if s["limit_source"] == "config" else ""),
                  "" if s["share"] is None else f"{s['share']:.0%}",
                  _cuft(s["projected_cuft"]) + _share(s["projected_share"])
                  if s["used_cuft"] is not None else "no data", s["status"])
                 for s in storage]
        _table(("storage type", "used (cu ft)", "limit", "share", "month end", "status"),
               cells)
        if all(s["limit_cuft"] is None for s in storage):
            print("  no capacity limit recorded: `ipi capacity set --storage-type standard "
                  "--month YYYY-MM --limit CUFT` with what Seller Central's Capacity Monitor "
                  "shows")
    for f in at["fees"]:
        mp = f["marketplace"]
        if f.get("date") is None:
            print(f"{mp} fees: {f['note']}")
            continue
        cur, a, u, low = f["currency"], f["aged"], f["utilization"], f["low_inventory"]
        w = f["window"]
        print(f"{mp} fees from {w['start']} to the next assessment on {w['end']} "
              f"({w['days']} days, at the {f['rates']['period']}):")
        for row in f["compare"]:
            print(f"  {FEE_NAMES[row['fee']]}: {fee_text(row, cur)}"
                  + (f" ({row['note']})" if row["note"] else ""))
        if f["amazon"] is None:
            print("  (Amazon's own forecast: none stored; SP-API accounts fetch it daily)")
        if a["total"] is None and a["skus_unknown"]:
            print(f"  aged: at least, {len(a['skus_unknown'])} SKU(s) without a volume")
        if a["amazon_total"] is not None:
            print(f"  aged, the planning report's estimated-ais columns: "
                  f"{a['amazon_total']:,.2f} {cur}")
        def beside(amazon: float | None, cur: str = cur) -> str:
            return "" if amazon is None else f"; Amazon's forecast {amazon:,.2f} {cur}"

        for s in a["skus"][:5]:
            charge = "no data" if s["charge"] is None else f"{s['charge']:,.2f} {cur}"
            print(f"    aged {s['sku']}: {_cuft(s['units'])} units aged into a charged tier, "
                  f"{charge}{beside(s['amazon_forecast'])}")
        for kind, rows in (("utilization", u["skus"]), ("low-inventory", low["fee_skus"])):
            for r in rows[:5]:
                mine = "no data" if r["ipi"] is None else span_text(r["ipi"], cur)
                note = "" if not r["note"] or r["ipi"] is None else f" ({r['note']})"
                print(f"    {kind} {r['sku']}: {mine if r['ipi'] else 'no data: ' + r['note']}"
                      f"{note}{beside(r['amazon'])}")
        ratio = ("no data" if u["ratio"] is None else "nothing shipped" if
                 math.isinf(u["ratio"]) else f"{u['ratio']:.1f} weeks")
        note = f" ({u['note']})" if u["note"] else ""
        print(f"  storage utilization ratio: {ratio}, surcharge over "
              f"{u['threshold_weeks']:g} weeks{note}")
        print(f"  low-inventory-level fee: {low['at_risk']} SKU(s) at risk, {low['unknown']} "
              f"without both days-of-supply views (no data); Amazon applied it to "
              f"{low['amazon_applied_count']}")
    if at["lines"]:
        print("At risk:")
        for line in at["lines"]:
            print(f"  - {line}")
    return 0


def cmd_fees_calendar(args: argparse.Namespace) -> int:
    markets = rows_of(args).fee_calendar(args.account, day=args.date)
    if args.json:
        print_json(markets)
        return 0
    for m in markets:
        if m["date"] is None:
            print(f"{m['marketplace']}: {m['note']}")
            continue
        rows = m["rows"] if args.all else [r for r in m["rows"]
                                           if r["charge"] or r["zone"] != "safe"]
        cur = m["currency"]
        print(f"{m['marketplace']}: the assessment on {m['assessment']} (planning report of "
              f"{m['date']}), what it costs and what avoids it")
        if not rows:
            print("  nothing charged and every SKU in the safe zone (28 to 180 days of "
                  "supply)")
            continue

        def money(v: float | None) -> str:
            return "no data" if v is None else f"{v:,.2f}"

        _table(("SKU", "tier", "units", f"if none sell, {cur}", "sales by then",
                f"at pace, {cur}", "sell or remove", "days of supply", "zone"),
               [(r["sku"], r["tier"] or "-", _cuft(r["units"]), money(r["charge"]),
                 _cuft(r["expected_sales"]), money(r["charge_at_pace"]), _cuft(r["to_act"]),
                 _cuft(r["days_of_supply"]), r["zone"]) for r in rows],
               right=(2, 3, 4, 5, 6, 7))
        left = len(m["rows"]) - len(rows)
        if left:
            print(f"  and {left} SKU(s) with nothing charged, in the safe zone (--all lists "
                  "them)")
    return 0


def _table(titles: Sequence[str], cells: Sequence[Sequence[str]],
           right: Sequence[int] = ()) -> None:
    """Columns as wide as their widest cell; those in ``right`` (numbers) right-aligned."""
    widths = [max(len(t), *(len(c[i]) for c in cells)) for i, t in enumerate(titles)]
    for line in (titles, *cells):
        print("  ".join(v.rjust(w) if i in right else v.ljust(w)
                        for i, (v, w) in enumerate(zip(line, widths, strict=True))).rstrip())


def cmd_capacity_list(args: argparse.Namespace) -> int:
    rows = [{**r, "month": f"{r['month']:%Y-%m}"}  # as typed in `capacity set`
            for r in rows_of(args).capacity_limits(args.account)]
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no capacity limits recorded: `ipi capacity set --storage-type T --month "
              "YYYY-MM --limit CUFT` with what Seller Central's Capacity Monitor shows")
        return 0
    cells = [(r["account"], r["storage_type"], r["month"], f"{r['limit_cuft']:,.0f}")
             for r in rows]
    _table(("account", "storage type", "month", "limit (cu ft)"), cells, right=(3,))
    return 0


class Commands:
    """Adds sub-commands, each with the global options (``--config``, ``-v``, ``-q``), so
    they work before or after the command's name."""

    def __init__(self, sub: Any, parent: argparse.ArgumentParser,
                 parser: argparse.ArgumentParser | None = None) -> None:
        self.sub = sub
        self.parent = parent
        self.parser = parser  # a group's own parser: the options of the group alone

    def add(self, name: str, func: Callable[[argparse.Namespace], int], help: str, *,
            json: bool = False, answer: bool = False) -> argparse.ArgumentParser:
        """``json``: it has --json; ``answer``: what it prints is what was asked for, so
        -q keeps it (a listing); else -q silences it (a summary of work done)."""
        p: argparse.ArgumentParser = self.sub.add_parser(name, help=help, description=help,
                                                         parents=[self.parent])
        p.set_defaults(func=func, answer=answer or json)
        if json:
            p.add_argument("--json", action="store_true", help="print JSON")
        return p

    def group(self, name: str, help: str,
              default: Callable[[argparse.Namespace], int] | None = None) -> Commands:
        """Sub-commands under ``name``; ``default``: what ``name`` alone does (else it
        needs a sub-command)."""
        p = self.sub.add_parser(name, help=help, description=help, parents=[self.parent])
        if default is not None:
            p.set_defaults(func=default, answer=True)
        return Commands(p.add_subparsers(dest=f"{name}_command", required=default is None,
                                         metavar="COMMAND"), self.parent, p)


def _global_options(parser: argparse.ArgumentParser, *, default: Any) -> None:
    """Sub-commands take the options with SUPPRESS as default, so one left out after the
    command does not undo one given before it."""
    parser.add_argument("--config", default=default,
                        help="TOML configuration file (default: $IPI_CONFIG)")
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="log what every step does, tracebacks included")
    parser.add_argument("-q", "--quiet", action="store_true", default=default,
                        help="print only what was asked for (listings, JSON) and errors")


def library_commands(c: Commands) -> None:
    """The commands that need no Prefect: loading, reading, alert levers, set-up."""
    sp = c.add("ingest", cmd_ingest, "load report files or folders into the store")
    sp.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    sp.add_argument("--account", help="the account the files belong to (default: the only one)")
    sp.add_argument("--date", type=day_arg,
                    help="the day for files that name none in content or file name "
                         "(default: today, in the account's time zone)")

    sp = c.add("backfill", cmd_backfill, "rebuild history: the ledger from the SP-API, or "
               "archives of old downloads; resumable")
    sp.add_argument("--start", type=day_arg, help="first day (YYYY-MM-DD)")
    sp.add_argument("--end", type=day_arg, help="last day (YYYY-MM-DD)")
    sp.add_argument("--account", help="only this account (default: every SP-API account)")
    sp.add_argument("--source", choices=("sp-api", "files"),
                    help="where history comes from (default: files when PATHs are given, "
                         "else the SP-API's ledger)")
    sp.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                    help="folders or zip/tar archives of reports (with --source files)")

    sp = c.add("check", cmd_check, "verify each account's drop folder, or its SP-API "
               "credentials and report access, and say what is missing", json=True)
    sp.add_argument("--account", help="only this account")

    alerts = c.group("alerts", "test targets, show history, acknowledge, silence, check")
    alerts.add("test", cmd_alerts_test, "send a test message to every target; report each",
               answer=True)
    ap = alerts.add("history", cmd_alerts_history, "alert state changes and messages, newest "
                    "first", json=True)
    ap.add_argument("--account", help="only this account")
    ap.add_argument("--limit", type=int, default=20, help="how many of each (default 20)")
    ap = alerts.add("ack", cmd_alerts_ack, "acknowledge what fires: no repeats until it "
                    "resolves or gets materially worse")
    ap.add_argument("account", metavar="ACCOUNT")
    ap.add_argument("--marketplace", help="only this marketplace (default: all)")
    silence = alerts.group("silence", "mute an account's alerts until a date; list or expire "
                           "silences")
    ap = silence.add("add", cmd_alerts_silence, "mute an account's alerts through a date "
                     "(`ipi alerts silence ACCOUNT ...` is short for this)")
    ap.add_argument("account", metavar="ACCOUNT")
    ap.add_argument("--until", type=day_arg, required=True, help="last muted day, YYYY-MM-DD")
    ap.add_argument("--reason", required=True, help="why (shown in the history)")
    ap.add_argument("--marketplace", help="only this marketplace (default: all)")
    ap = silence.add("list", cmd_alerts_silence_list, "silences in force, with their ids",
                     json=True)
    ap.add_argument("--account", help="only this account")
    ap.add_argument("--all", action="store_true", help="also those ended or expired")
    ap = silence.add("expire", cmd_alerts_silence_expire, "end a silence now")
    ap.add_argument("id", metavar="ID", type=int, help="the silence's id (silence list)")
    ap = alerts.add("check", cmd_alerts_check, "evaluate the alerts without ingesting: "
                    "retries pending deliveries and checks that data is fresh")
    ap.add_argument("--account", help="only this account")
    ap.add_argument("--date", type=day_arg, help="today, for the freshness check "
                    "(default: each account's today, in its time zone)")

    sp = c.add("whatif", cmd_whatif, "the estimate after actions on SKUs, or the smallest "
               "recovery plan back over the threshold", json=True)
    sp.add_argument("--account", help="the account (default: the only one)")
    sp.add_argument("--marketplace", help="default: the account's first")
    sp.add_argument("--date", type=day_arg,
                    help="the day (default: the latest estimate; else the latest on or before)")
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

    sp = c.add("report", cmd_report, "write a self-contained HTML page per account: score "
               "history, factors, what to fix, the recovery plan")
    sp.add_argument("--account", help="only this account (default: each)")
    sp.add_argument("--out", type=Path, default=Path("."), help="folder (default: here)")
    sp.add_argument("--date", type=day_arg, help="as of this day (default: the latest)")

    off = c.group("official", "record the official IPI from Seller Central; calibrates the "
                  "score model")
    ap = off.add("add", cmd_official_record, "record one official score, refit, rescore")
    ap.add_argument("--account", help="the account (default: the only one)")
    ap.add_argument("--date", type=day_arg, required=True, help="the day Seller Central showed it")
    ap.add_argument("--score", type=float, required=True, help="the IPI, 0-1000")
    ap.add_argument("--marketplace", help="default: the account's first")
    ap = off.add("import", cmd_official_record, "record official scores from a CSV "
                 "(date,score[,marketplace]), refit, rescore")
    ap.add_argument("file", type=Path, metavar="FILE")
    ap.add_argument("--account", help="the account (default: the only one)")
    ap = off.add("list", cmd_official_list, "official scores beside ipi's estimates, and the "
                 "fit", json=True)
    ap.add_argument("--account", help="the account (default: the only one)")
    ap = off.add("remove", cmd_official_remove, "remove an official score recorded by "
                 "mistake, refit, rescore")
    ap.add_argument("--account", help="the account (default: the only one)")
    ap.add_argument("--date", type=day_arg, required=True, help="the day it was recorded for")
    ap.add_argument("--marketplace", help="default: the account's first")
    ap = off.add("export", cmd_official_export, "official scores with ipi's factor values of "
                 "their day, as reference CSV rows to share (no account, SKU or money)",
                 answer=True)
    ap.add_argument("--anonymous", action="store_true",
                    help="required: rows carry marketplace, week, score and factors only")
    ap.add_argument("--account", help="only this account (default: every account)")
    ap.add_argument("--out", type=Path, help="write to this file (default: standard output)")
    ap = off.add("import-reference", cmd_official_import_reference, "add shared official "
                 "scores (reference CSV) to this installation's default model; rescores")
    ap.add_argument("file", type=Path, metavar="FILE")

    sp = c.add("score", cmd_score, "show the estimates: latest day, or --history N days",
               json=True)
    sp.add_argument("--account", help="only this account")
    sp.add_argument("--marketplace", help="only this marketplace (with --account)")
    sp.add_argument("--date", type=day_arg, help="only this day")
    sp.add_argument("--history", type=int, default=1, metavar="N",
                    help="the last N days per account and marketplace (default 1)")

    sp = c.add("forget", cmd_forget, "take a day's loads back out (the raw bytes stay), then "
               "rescore the days they fed")
    sp.add_argument("--account", required=True, help="the account")
    sp.add_argument("--date", type=day_arg, required=True, help="the snapshot day, YYYY-MM-DD")
    sp.add_argument("--marketplace", help="only this marketplace (default: all)")
    sp.add_argument("--report-type", metavar="T",
                    help="only this report type, e.g. GET_FBA_INVENTORY_PLANNING_DATA "
                         "(default: all)")
    sp.add_argument("--reason", default="ipi forget", help="why (recorded with the removal)")

    sp = c.add("init", cmd_init, "write a commented ipi.toml and the drop folder to start "
               "from, and say what to do next")
    sp.add_argument("dir", nargs="?", type=Path, default=Path("."), metavar="DIR",
                    help="where to write ipi.toml (default: here); never overwrites")
    config = c.group("config", "show the effective configuration")
    config.add("show", cmd_config_show, "every setting, defaults included, with where it "
               "comes from; secrets never shown", json=True)
    sp = c.add("web", cmd_web, "serve the dashboard alone, read-only (`ipi serve` serves it "
               "too): every account, its score, factors, drivers, what-if")
    sp.add_argument("--host", help="address to listen on (default: [web] host, 127.0.0.1); "
                    "any other than this machine's loopback needs IPI_WEB_TOKEN")
    sp.add_argument("--port", type=int, help="port (default: [web] port, 8450; 0: any free)")
    capacity = c.group("capacity", "what is at stake beyond the score: capacity use per "
                       "storage type against its limit, projected to the month's end, and "
                       "the fees at risk (alone: `ipi capacity show`)", default=cmd_capacity_show)
    assert capacity.parser is not None
    for p in (capacity.parser, capacity.add(
            "show", cmd_capacity_show, "capacity use per storage type against its limit, "
            "projected to the month's end, and the fees at risk", json=True)):
        p.add_argument("--account", help="the account (default: the only one)")
        p.add_argument("--date", help="as of this day (default: the newest report)")
    capacity.parser.add_argument("--json", action="store_true", help="print JSON")
    ap = capacity.add("set", cmd_capacity_set, "record (or replace) a month's capacity limit "
                      "for a storage type")
    ap.add_argument("--account", help="the account (default: the only one)")
    # Taken as text and checked by ipi.capacity: a refusal is one line naming the fix.
    ap.add_argument("--storage-type", required=True, metavar="TYPE",
                    help="standard, oversize, apparel or footwear")
    ap.add_argument("--month", required=True, metavar="YYYY-MM", help="the month, e.g. 2026-12")
    ap.add_argument("--limit", required=True, metavar="CUFT",
                    help="the limit in cubic feet, 0 or more")
    ap = capacity.add("list", cmd_capacity_list, "the capacity limits recorded", json=True)
    ap.add_argument("--account", help="only this account")

    fees = c.group("fees", "Amazon's capacity fees per SKU")
    ap = fees.add("calendar", cmd_fees_calendar, "each SKU's next aged-surcharge assessment: "
                  "what it costs, the units to sell or remove to avoid it, and where its days "
                  "of supply sit between the low-inventory floor and the surcharge",
                  json=True)
    ap.add_argument("--account", help="the account (default: the only one)")
    ap.add_argument("--date", help="as of this day (default: the newest report)")
    ap.add_argument("--all", action="store_true",
                    help="list every SKU, the safe ones with nothing charged too")

    sp = c.add("completion", cmd_completion, "print a shell completion script, e.g. "
               "`ipi completion bash > /etc/bash_completion.d/ipi`", answer=True)
    sp.add_argument("shell", choices=("bash", "zsh", "tcsh"))


def build_parser(extra: Sequence[Adder] = ()) -> argparse.ArgumentParser:
    """The whole command line: ``extra`` adds commands first (flows/cli.py: demo, run,
    serve), then the library's own."""
    p = argparse.ArgumentParser(prog="ipi", description="Watch Amazon's Inventory Performance "
                                "Index every day: reports, factors, an estimate, alerts.")
    p.add_argument("--version", action="version", version=f"ipi {__version__}")
    _global_options(p, default=None)
    p.set_defaults(verbose=False, quiet=False)
    parent = argparse.ArgumentParser(add_help=False)
    _global_options(parent, default=argparse.SUPPRESS)
    c = Commands(p.add_subparsers(dest="command", required=True, metavar="COMMAND"), parent)
    for add in extra:
        add(c)
    library_commands(c)
    return p


class _OneLine(logging.Formatter):
    """ipi's own warnings on a terminal: one line each, without the logger's name or a
    traceback (the run's log keeps both; -v shows everything)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"ipi: {record.levelname.lower()}: {safe.text(record.getMessage())}"


def _ours(record: logging.LogRecord) -> bool:
    return record.name == "ipi" or record.name.startswith("ipi.")


def terminal_log(verbose: bool, quiet: bool = False) -> None:
    """What the terminal shows: with ``verbose`` every log line, names and tracebacks
    included; else ipi's own warnings, one line each (``quiet``: errors only). Prefect's
    handlers (set when it is imported) give way to ours; other handlers (a test's
    capture) stay."""
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
    handler.setLevel(logging.ERROR if quiet else logging.WARNING)
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


def main(argv: Sequence[str] | None = None, *, extra: Sequence[Adder] = (),
         secrets: SecretLookup | None = None) -> int:
    """The ``ipi`` command (``extra``: more commands; ``secrets``: how Prefect Secret
    blocks are read, both given by flows/cli.py). Exit codes (the README's table): 0 done;
    1 partly done, each failure listed (files, accounts, checks); 2 nothing done:
    configuration, usage or the machine (a busy or unwritable database, a full disk);
    130 interrupted."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # `ipi alerts silence ACCOUNT ...` (the older form) is `silence add ACCOUNT ...`.
    for i in range(len(argv) - 2):
        if argv[i:i + 2] == ["alerts", "silence"] and argv[i + 2] not in _SILENCE_VERBS:
            argv.insert(i + 2, "add")
            break
    parser = build_parser(extra)
    args = parser.parse_args(argv)
    if args.verbose and args.quiet:
        parser.error("-v and -q ask for opposite things: give one")
    args.parser, args.secrets = parser, secrets
    # Everything ipi and the Prefect server it starts create (the database, stored reports,
    # pages, Prefect's own database) is this user's alone: 0600 files, 0700 folders.
    os.umask(0o077)
    terminal_log(args.verbose, args.quiet)
    # Every print reaches the terminal as text: a SKU, product or file name holding an
    # escape sequence cannot move the cursor, recolour or retitle it (ipi.safe).
    err = safe.Terminal(sys.stderr)
    try:
        with contextlib.ExitStack() as stack:
            if args.quiet and not args.answer:  # -q keeps listings; summaries of work go
                devnull = stack.enter_context(open(os.devnull, "w", encoding="utf-8"))
                stack.enter_context(contextlib.redirect_stdout(devnull))
            else:
                stack.enter_context(contextlib.redirect_stdout(safe.Terminal(sys.stdout)))
            return int(args.func(args))
    except IngestFailed as exc:
        print(f"ipi: {exc}", file=err)
        return 1
    except IpiError as exc:
        print(f"ipi: error: {exc}", file=err)
        return 2
    except OSError as exc:  # the machine's, not ipi's: said in one line, with the fix
        print(f"ipi: error: {os_error(exc)}", file=err)
        return 2
    except KeyboardInterrupt:
        print("ipi: interrupted; loads are atomic, nothing was half-written (a backfill "
              "resumes where it stopped when run again)", file=sys.stderr)
        return 130
