"""What the commands share: the configuration they read, dates as options, the score
table, JSON, and a run's one-line summary (flows/cli.py's ``run`` and ``serve`` print it).
``ipi.cli`` re-exports all of it: import from there."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipi import safe
from ipi.errors import UsageError

if TYPE_CHECKING:
    from ipi.api import Rows
    from ipi.pipeline import DayRun
    from ipi.score import DailyScore

SCORE_FIELDS = ("account", "marketplace", "date", "score", "score_low", "score_high",
                "score_recent", "excess_pct", "sell_through", "stranded_pct", "in_stock_rate",
                "status")


def day_arg(s: str) -> date:
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a date: use YYYY-MM-DD") from None


def cell(v: Any, field: str) -> str:
    """A value of a score row as the table shows it."""
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


def print_table(rows: Sequence[DailyScore], out: Any = None) -> None:
    out = out or sys.stdout
    heads = {"score_low": "low", "score_high": "high", "score_recent": "recent",
             "excess_pct": "excess",
             "sell_through": "sell-thru", "stranded_pct": "stranded", "in_stock_rate": "in-stock",
             "marketplace": "mkt"}
    cols = list(SCORE_FIELDS)
    cells = [[cell(getattr(r, c), c) for c in cols] for r in rows]
    titles = [heads.get(c, c) for c in cols]
    widths = [max([len(t)] + [len(row[i]) for row in cells]) for i, t in enumerate(titles)]
    print("  ".join(t.ljust(w) for t, w in zip(titles, widths, strict=True)), file=out)
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)), file=out)


def print_json(value: Any) -> None:
    """``value`` as JSON, the library's typed results made plain (``ipi.plain``)."""
    from ipi.plain import plain

    print(json.dumps(plain(value), default=str, indent=2))


LOCAL_CONFIG = "ipi.toml"  # what `ipi init` writes: found in the folder a command runs in


def settings_of(args: argparse.Namespace) -> Any:
    """The configuration: --config, else $IPI_CONFIG, else ./ipi.toml when there is one
    (said on stderr, so that nobody wonders which file answered)."""
    from ipi.settings import CONFIG_ENV, load_settings

    if args.config is None and not os.environ.get(CONFIG_ENV) and Path(LOCAL_CONFIG).is_file():
        args.config = str(Path(LOCAL_CONFIG).resolve())
        if not args.quiet:
            print(f"ipi: reading {args.config} (found here; --config or {CONFIG_ENV} name "
                  "another)", file=safe.Terminal(sys.stderr))
    return load_settings(args.config)


def refuse_future(settings: Any, day: date | None, option: str = "--date") -> None:
    """A day that has not begun for an account has no reports and no official score:
    refused in one line, naming the account's today."""
    if day is None:
        return
    for account in settings.accounts:
        today = settings.today(account)
        if day > today:
            raise UsageError(f"{option} {day} is in the future for account {account.name} "
                              f"(its today is {today}): give a day that has begun")


def rows_of(args: argparse.Namespace) -> Rows:
    """The library's questions over the configuration (checked whole first)."""
    from ipi.api import Rows

    return Rows(settings_of(args))


def partly_done(runs: Mapping[str, DayRun]) -> int:
    """A run's exit code: 1 (partly done) when an account's alerts were not all delivered,
    naming the accounts; else 0. Every other account was loaded, scored and paged."""
    behind = [name for name, run in runs.items() if run.undelivered]
    if not behind:
        return 0
    print(f"ipi: partly done: alerts of {', '.join(behind)} not delivered (each line above "
          "says why); they wait in the outbox and go out on the next run", file=sys.stderr)
    return 1
