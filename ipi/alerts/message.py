"""Alert text: what happened, how sure we are, and what to fix first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any

from ipi.score.drivers import Driver
from ipi.score.whatif import Plan


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{x:.1f}%"


def factors_line(row: Mapping[str, Any]) -> str:
    st = "n/a" if row.get("sell_through") is None else f"{row['sell_through']:.2f}"
    ins = "n/a" if row.get("in_stock_rate") is None else f"{100 * row['in_stock_rate']:.0f}%"
    return (f"excess {_pct(row.get('excess_pct'))} · sell-through {st} · "
            f"stranded {_pct(row.get('stranded_pct'))} · in-stock {ins}")


@dataclass(frozen=True)
class Notice:
    """One thing to tell about one marketplace: an alert firing, repeating or resolved."""

    marketplace: str
    kind: str  # firing | repeat | resolved
    row: Mapping[str, Any]  # the day's daily_score row
    threshold: float
    since: date | None = None
    rule: str = "below_threshold"
    detail: str = ""  # what the rule found: days to the check, the trend, the SKUs
    change: float | None = None  # the estimate's move since this alert's last message
    change_since: date | None = None

    @property
    def critical(self) -> bool:
        return self.rule == "below_threshold"


_LABEL = {
    ("below_threshold", "firing"): "[FIRING]", ("below_threshold", "repeat"): "[STILL FIRING]",
    ("below_threshold", "resolved"): "[RESOLVED]",
}


def _head(account: str, day: date, n: Notice) -> str:
    r = n.row
    est = f"IPI estimate {r['score']:.0f} (band {r['score_low']:.0f}-{r['score_high']:.0f})"
    where = f"{account} {n.marketplace}"
    label = _LABEL.get((n.rule, n.kind)) or {
        "firing": "[WARNING]", "repeat": "[STILL WARNING]",
        "resolved": "[WARNING RESOLVED]"}[n.kind]
    if n.rule == "below_threshold":
        check = f" The {n.detail}." if n.detail else ""
        if n.kind == "firing":
            return (f"{label} {where}: {est} is under the threshold {n.threshold:.0f} on "
                    f"{day}.{check}")
        if n.kind == "repeat":
            return (f"{label} {where}: {est} is still under the threshold {n.threshold:.0f} "
                    f"on {day}, since {n.since}.{check}")
        return f"{label} {where}: {est} is back over the threshold on {day}."
    if n.kind == "resolved":
        return f"{label} {where}: the {n.rule.replace('_', ' ')} warning is over ({est})."
    if n.rule == "check_window":
        return f"{label} {where}: {est} is near the threshold {n.threshold:.0f}, {n.detail}."
    if n.rule == "projected_crossing":
        return f"{label} {where}: {est} is falling: {n.detail}."
    return f"{label} {where}: {n.detail}."


@dataclass(frozen=True)
class Message:
    """One message in the three shapes targets take: full text (webhooks, files), short
    text (chat: Slack and the like), HTML (email, with the chart attached)."""

    title: str
    text: str
    short: str
    html: str


def render(account: str, day: date, notices: Sequence[Notice],
           drivers: Mapping[str, Sequence[Driver]],
           plans: Mapping[str, Plan] | None = None) -> Message:
    """One message for all of an account's notices in a run (``plans``: the recovery plan
    per marketplace, shown under the drivers)."""
    order = {"firing": 0, "repeat": 1, "resolved": 2}
    parts, shorts, htmls = [], [], []
    for n in sorted(notices, key=lambda n: (not n.critical, order[n.kind], n.marketplace)):
        r = n.row
        head = _head(account, day, n)
        if n.change is not None:
            head += f" ({n.change:+.0f} since the alert of {n.change_since})"
        facts = f"Factors: {factors_line(r)}."
        note = ""
        if r.get("status") not in (None, "ok"):
            note = f"The estimate is {r['status']}" + (
                f" ({r['notes']})." if r.get("notes") else ".")
        fixes = list(drivers.get(n.marketplace, ())) if n.kind != "resolved" and n.rule in (
            "below_threshold", "check_window", "projected_crossing") else []
        lines = [head, facts, *([note] if note else [])]
        if fixes:
            lines += ["Fix first:", *(f"  - {d.line()}" for d in fixes)]
        plan = (plans or {}).get(n.marketplace) if fixes else None
        if plan is not None:
            lines += [f"{plan.title}:",
                      *(f"  {line}" for line in plan.lines())]
        parts.append("\n".join(lines))
        shorts.append("\n".join([head, facts, *(f"• {d.line()}" for d in fixes[:3])]))
        items = "".join(f"<li>{escape(d.line())}</li>" for d in fixes)
        steps = "".join(f"<li>{escape(line)}</li>" for line in plan.lines()) if plan else ""
        htmls.append(f"<h3>{escape(head)}</h3><p>{escape(facts)}</p>"
                     + (f"<p><em>{escape(note)}</em></p>" if note else "")
                     + (f"<p><b>Fix first:</b></p><ul>{items}</ul>" if items else "")
                     + (f"<p><b>{escape(plan.title)}:</b></p><ul>{steps}</ul>"
                        if plan else ""))
    under = [n for n in notices if n.critical and n.kind != "resolved"]
    warnings = [n for n in notices if not n.critical and n.kind != "resolved"]
    if under:
        worst = min(under, key=lambda n: n.row["score"])
        title = (f"IPI {account}: {len(under)} marketplace(s) under the threshold "
                 f"({worst.marketplace} {worst.row['score']:.0f})")
    elif warnings:
        what = sorted({n.rule.replace("_", " ") for n in warnings})
        title = f"IPI {account}: warning: {', '.join(what)}"
    else:
        title = f"IPI {account}: back over the threshold" if any(
            n.critical for n in notices) else f"IPI {account}: warnings resolved"
    footer = ("The score is an estimate from Amazon's reports; Seller Central shows the "
              "official one. Record it (ipi official add) and ipi calibrates to it.")
    html = ("".join(htmls) + "<p>The attached chart shows the estimate, its band, the "
            f"threshold and Amazon's check dates.</p><p><small>{escape(footer)}</small></p>")
    return Message(title, "\n\n".join([*parts, footer]), "\n\n".join(shorts), html)


def unreliable_message(account: str, marketplace: str, day: Any,
                       row: Mapping[str, Any]) -> str:
    """The ops message for a day whose reports are not to be trusted."""
    return (f"[OPS] {account} {marketplace} on {day}: {row.get('notes')}.\n"
            f"Amazon sometimes returns a fraction of a report's rows. ipi asked again once "
            f"where it could; the rows are loaded but the day's estimate "
            f"({(row.get('score') or 0):.0f}) is marked unreliable and pages nobody. "
            f"Check the report in Seller Central; the next day's run usually recovers.")
