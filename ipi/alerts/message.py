"""Alert text: what happened, how sure we are, and what to fix first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ipi.alerts.rules import Transition
from ipi.score.drivers import Driver


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{x:.1f}%"


def factors_line(row: Mapping[str, Any]) -> str:
    st = "n/a" if row.get("sell_through") is None else f"{row['sell_through']:.2f}"
    ins = "n/a" if row.get("in_stock_rate") is None else f"{100 * row['in_stock_rate']:.0f}%"
    return (f"excess {_pct(row.get('excess_pct'))} · sell-through {st} · "
            f"stranded {_pct(row.get('stranded_pct'))} · in-stock {ins}")


def render(account: str, transitions: Sequence[Transition],
           rows: Mapping[str, Mapping[str, Any]],
           drivers: Mapping[str, Sequence[Driver]]) -> tuple[str, str]:
    """One message (title, body) for all of an account's transitions in a run."""
    firing = [t for t in transitions if t.kind == "firing"]
    parts = []
    for t in sorted(transitions, key=lambda t: (t.kind != "firing", t.marketplace)):
        row = rows[t.marketplace]
        if t.kind == "firing":
            head = (f"[FIRING] {account} {t.marketplace}: IPI estimate {t.score:.0f} "
                    f"(band {t.low:.0f}-{t.high:.0f}) is under the threshold {t.threshold:.0f} "
                    f"on {t.day}.")
        else:
            head = (f"[RESOLVED] {account} {t.marketplace}: IPI estimate {t.score:.0f} "
                    f"(band {t.low:.0f}-{t.high:.0f}) is back at or over the threshold "
                    f"{t.threshold:.0f} on {t.day}.")
        lines = [head, f"Factors: {factors_line(row)}."]
        if row.get("status") not in (None, "ok"):
            notes = f" ({row['notes']})" if row.get("notes") else ""
            lines.append(f"The estimate is {row['status']}{notes}.")
        if t.kind == "firing" and drivers.get(t.marketplace):
            lines.append("Fix first:")
            lines += [f"  - {d.line()}" for d in drivers[t.marketplace]]
        parts.append("\n".join(lines))
    n = len(firing)
    if n:
        worst = min(firing, key=lambda t: t.score)
        title = (f"IPI {account}: {n} marketplace(s) under the threshold "
                 f"({worst.marketplace} {worst.score:.0f})")
    else:
        title = f"IPI {account}: back over the threshold"
    footer = ("The score is an estimate from Amazon's reports; Seller Central shows the "
              "official one.")
    return title, "\n\n".join([*parts, footer])


def unreliable_message(account: str, marketplace: str, day: Any,
                       row: Mapping[str, Any]) -> str:
    """The ops message for a day whose reports are not to be trusted."""
    return (f"[OPS] {account} {marketplace} on {day}: {row.get('notes')}.\n"
            f"Amazon sometimes returns a fraction of a report's rows. ipi asked again once "
            f"where it could; the rows are loaded but the day's estimate "
            f"({(row.get('score') or 0):.0f}) is marked unreliable and pages nobody. "
            f"Check the report in Seller Central; the next day's run usually recovers.")
