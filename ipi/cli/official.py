"""The official IPI from Seller Central: ``official add``, ``import``, ``list``,
``remove`` (each refits the score model and rescores), ``export --anonymous`` and
``import-reference`` (official scores shared between installations)."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from ipi.cli.common import day_arg, print_json, rows_of
from ipi.errors import UsageError

if TYPE_CHECKING:
    from ipi.cli import Commands

log = logging.getLogger("ipi")


def register(c: Commands) -> None:
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
    with lib.store(account.name).write() as con:
        cal = record_official(con, account, rows, lib.settings.policy_for(account).carry_days)
    print(f"{account.name}: recorded {len(rows)} official score(s). {cal.summary()}")
    return 0


def cmd_official_remove(args: argparse.Namespace) -> int:
    """``ipi official remove``: one official score recorded by mistake; refit, rescore."""
    from ipi.score import remove_official

    lib = rows_of(args)
    account = lib.account(args.account)
    mp = (args.marketplace or account.marketplaces[0]).upper()
    with lib.store(account.name).write() as con:
        cal = remove_official(con, account, mp, args.date,
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
        raise UsageError("ipi official export writes anonymous rows only (no account, SKU "
                          "or money): add --anonymous")
    lib = rows_of(args)
    names = [lib.account(args.account).name] if args.account else \
        [a.name for a in lib.settings.accounts]
    with lib.reading(names[0] if args.account else None) as con:
        text, skipped = export_anonymous(con, names, PAIR_DAYS)
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
    from ipi.store import Store
    from ipi.store.accounts import share_house

    lib = rows_of(args)
    rows = reference.read(args.file)
    with Store.for_settings(lib.settings).write() as con:  # the installation's file
        got = import_rows(con, rows)
    print(f"{args.file}: {got.added} official score(s) added, {got.already} already here. "
          f"The default model is now {got.name}. {got.judged.sentence()}")
    for account in lib.settings.accounts:
        store = lib.store(account.name)
        share_house(lib.settings, store)  # each account's file scores with its own copy
        note = upgrade(store, account.name, lib.settings.policy_for(account).carry_days)
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
        est = "-" if r.estimate is None else f"{r.estimate:.0f}"
        diff = "-" if r.estimate is None else f"{r.estimate - r.official:+.0f}"
        print(f"{r.date}  {r.marketplace:<3}  {r.official:>8.0f}  {est:>8}  {diff:>10}")
    print(f"{account.name}: {model.line()}")
    ask = model.ask(lib.settings.today(account))
    if ask:
        print(ask)
    return 0
