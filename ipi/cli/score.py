"""Reading the estimates: ``score`` (the table), ``whatif`` (after actions on SKUs, or the
recovery plan) and ``report`` (a self-contained HTML page per account)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipi.cli.common import (
    SCORE_FIELDS,
    cell,
    day_arg,
    print_json,
    print_table,
    rows_of,
    settings_of,
)
from ipi.errors import StoreBusy, UsageError

if TYPE_CHECKING:
    from ipi.cli import Commands
    from ipi.score import DailyScore



def register(c: Commands) -> None:
    sp = c.add("score", cmd_score, "show the estimates: latest day, or --history N days",
               json=True)
    sp.add_argument("--account", help="only this account")
    sp.add_argument("--marketplace", help="only this marketplace (with --account)")
    sp.add_argument("--date", type=day_arg, help="only this day")
    sp.add_argument("--history", type=int, default=1, metavar="N",
                    help="the last N days per account and marketplace (default 1)")

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


def cmd_score(args: argparse.Namespace) -> int:
    from ipi.score import held_line, partial_line

    lib = rows_of(args)
    rows = lib.scores(args.account, marketplace=args.marketplace, start=args.date,
                      end=args.date, last=None if args.date else args.history)
    if lib.updating:  # read across the accounts: those being written were left out
        names = ", ".join(lib.updating)
        if not rows:
            raise StoreBusy(f"the database of {names} is being written (a run or a load); "
                            "Retry when it has finished.")
        print(f"left out, being written right now (a run or a load): {names}",
              file=sys.stderr)
    if args.json:
        print_json([{k: getattr(r, k) for k in SCORE_FIELDS} for r in rows])
    elif not rows:
        print("no scores yet: drop reports and run `ipi run`, or `ipi ingest PATH`")
    else:  # a partial day shows what is known, never a bare number; "recent": only
        # where the long-term factors hold the estimate over today's (the 2020 rule)
        print_table([replace(r, score=None, status=line) if (line := partial_line(r))
                     else r if held_line(r) else replace(r, score_recent=None) for r in rows])
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
        raise UsageError("name the actions (--remove SKU:UNITS, --fix-stranded SKU, "
                          "--restock SKU), or ask for --plan")
    account, row = lib.day(args.account, marketplace=args.marketplace, day=args.date)
    out = lib.whatif(actions, account.name, marketplace=row.marketplace,
                     day=row.date).outcome if actions else None
    plan = lib.plan(account.name, marketplace=row.marketplace, day=row.date,
                    by=args.by)[1] if args.plan else None
    if args.json:
        doc: dict[str, Any] = {
            "account": account.name, "marketplace": row.marketplace, "date": row.date,
            "estimate": _estimate(row.score, row.score_low, row.score_high)}
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
    print(f"{account.name} {row.marketplace} on {row.date}: estimate {row.score:.0f} "
          f"(band {row.score_low:.0f}-{row.score_high:.0f})")
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


def _factor_changes(row: DailyScore, after: Mapping[str, float | None]) -> str:
    parts = []
    for factor, column in (("excess", "excess_pct"), ("sell_through", "sell_through"),
                           ("stranded", "stranded_pct"), ("in_stock", "in_stock_rate")):
        was, now = getattr(row, column), after.get(factor)
        if was is not None and now is not None and abs(now - was) > 1e-9:
            parts.append(f"{factor.replace('_', '-')} {cell(was, column)} -> "
                         f"{cell(now, column)}")
    return ", ".join(parts) or "no factor changed"


def cmd_report(args: argparse.Namespace) -> int:
    from ipi import page, pipeline

    settings = settings_of(args)
    accounts = [settings.account(args.account)] if args.account else settings.accounts
    if not accounts:
        settings.account(None)  # raises, naming the configuration
    for account in accounts:
        print(page.write(pipeline.open_store(settings, account), settings, account, args.out,
                         args.date))
    return 0
