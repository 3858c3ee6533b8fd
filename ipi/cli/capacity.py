"""What is at stake beyond the score: ``capacity`` (use per storage type against its
limit, and the fees at risk; ``set`` and ``list`` the limits) and ``fees calendar`` (each
SKU's next aged-surcharge assessment)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ipi.cli.common import print_json, rows_of

if TYPE_CHECKING:
    from ipi.cli import Commands


def register(c: Commands) -> None:
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


def cmd_capacity_set(args: argparse.Namespace) -> int:
    from ipi.capacity.limits import set_limit

    lib = rows_of(args)
    account = lib.account(args.account)
    with lib.store(account.name).write() as con:
        row = set_limit(con, account.name, args.storage_type, args.month, args.limit)
    print(f"recorded {account.name}'s {row.storage_type} capacity limit for "
          f"{row.month:%Y-%m}: {row.limit_cuft:,.0f} cubic feet")
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
    from ipi.plain import plain
    from ipi.stakes import FEE_NAMES, FeeNote, fee_text, span_text

    at = rows_of(args).capacity(args.account, day=args.date)
    if args.json:
        print_json(_finite(plain(at)))
        return 0
    storage = at.storage
    if not storage:
        print(f"{at.account}: no planning report stored, so no capacity figures yet "
              "(ipi run, ipi ingest)")
    else:
        first = storage[0]
        print(f"{at.account}: capacity on {first.day} (newest planning report), "
              f"projected to {first.month_end}")
        cells = [(s.storage_type, _cuft(s.used_cuft), _cuft(s.limit_cuft)
                  + (" (config)" if s.limit_source == "config" else ""),
                  "" if s.share is None else f"{s.share:.0%}",
                  _cuft(s.projected_cuft) + _share(s.projected_share)
                  if s.used_cuft is not None else "no data", s.status)
                 for s in storage]
        _table(("storage type", "used (cu ft)", "limit", "share", "month end", "status"),
               cells)
        if all(s.limit_cuft is None for s in storage):
            print("  no capacity limit recorded: `ipi capacity set --storage-type standard "
                  "--month YYYY-MM --limit CUFT` with what Seller Central's Capacity Monitor "
                  "shows")
    for f in at.fees:
        mp = f.marketplace
        if isinstance(f, FeeNote):
            print(f"{mp} fees: {f.note}")
            continue
        cur, a, u, low = f.currency, f.aged, f.utilization, f.low_inventory
        w = f.window
        print(f"{mp} fees from {w.start} to the next assessment on {w.end} "
              f"({w.days} days, at the {f.rates['period']}):")
        for row in f.compare:
            print(f"  {FEE_NAMES[row.fee]}: {fee_text(row, cur)}"
                  + (f" ({row.note})" if row.note else ""))
        if f.amazon is None:
            print("  (Amazon's own forecast: none stored; SP-API accounts fetch it daily)")
        if a.total is None and a.skus_unknown:
            print(f"  aged: at least, {len(a.skus_unknown)} SKU(s) without a volume")
        if a.amazon_total is not None:
            print(f"  aged, the planning report's estimated-ais columns: "
                  f"{a.amazon_total:,.2f} {cur}")
        def beside(amazon: float | None, cur: str = cur) -> str:
            return "" if amazon is None else f"; Amazon's forecast {amazon:,.2f} {cur}"

        for s in a.skus[:5]:
            charge = "no data" if s.charge is None else f"{s.charge:,.2f} {cur}"
            print(f"    aged {s.sku}: {_cuft(s.units)} units aged into a charged tier, "
                  f"{charge}{beside(s.amazon_forecast)}")
        for kind, rows in (("utilization", u.skus), ("low-inventory", low.fee_skus)):
            for r in rows[:5]:
                mine = "no data" if r.ipi is None else span_text(r.ipi, cur)
                note = "" if not r.note or r.ipi is None else f" ({r.note})"
                print(f"    {kind} {r.sku}: {mine if r.ipi else 'no data: ' + r.note}"
                      f"{note}{beside(r.amazon)}")
        ratio = ("no data" if u.ratio is None else "nothing shipped" if
                 math.isinf(u.ratio) else f"{u.ratio:.1f} weeks")
        note = f" ({u.note})" if u.note else ""
        print(f"  storage utilization ratio: {ratio}, surcharge over "
              f"{u.threshold_weeks:g} weeks{note}")
        print(f"  low-inventory-level fee: {low.at_risk} SKU(s) at risk, {low.unknown} "
              f"without both days-of-supply views (no data); Amazon applied it to "
              f"{low.amazon_applied_count}")
    if at.lines:
        print("At risk:")
        for line in at.lines:
            print(f"  - {line}")
    return 0


def cmd_fees_calendar(args: argparse.Namespace) -> int:
    from ipi.plain import plain

    markets = rows_of(args).fee_calendar(args.account, day=args.date)
    if args.json:
        print_json(plain(markets))
        return 0
    for m in markets:
        if m.date is None:
            print(f"{m.marketplace}: {m.note}")
            continue
        rows = m.rows if args.all else [r for r in m.rows if r.charge or r.zone != "safe"]
        cur = m.currency
        print(f"{m.marketplace}: the assessment on {m.assessment} (planning report of "
              f"{m.date}), what it costs and what avoids it")
        if not rows:
            print("  nothing charged and every SKU in the safe zone (28 to 180 days of "
                  "supply)")
            continue

        def money(v: float | None) -> str:
            return "no data" if v is None else f"{v:,.2f}"

        _table(("SKU", "tier", "units", f"if none sell, {cur}", "sales by then",
                f"at pace, {cur}", "sell or remove", "days of supply", "zone"),
               [(r.sku, r.tier or "-", _cuft(r.units), money(r.charge),
                 _cuft(r.expected_sales), money(r.charge_at_pace), _cuft(r.to_act),
                 _cuft(r.days_of_supply), r.zone) for r in rows],
               right=(2, 3, 4, 5, 6, 7))
        left = len(m.rows) - len(rows)
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
    from ipi.plain import plain

    rows = rows_of(args).capacity_limits(args.account)
    if args.json:  # the month as typed in `capacity set`
        print_json([{**plain(r), "month": f"{r.month:%Y-%m}"} for r in rows])
        return 0
    if not rows:
        print("no capacity limits recorded: `ipi capacity set --storage-type T --month "
              "YYYY-MM --limit CUFT` with what Seller Central's Capacity Monitor shows")
        return 0
    cells = [(r.account, r.storage_type, f"{r.month:%Y-%m}", f"{r.limit_cuft:,.0f}")
             for r in rows]
    _table(("account", "storage type", "month", "limit (cu ft)"), cells, right=(3,))
    return 0
