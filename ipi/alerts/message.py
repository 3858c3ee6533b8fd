"""Alert text: what happened, how sure we are, what changed, and what to fix first.

Every title starts with one tag, the most important change in the message, so a
channel can be grepped and routed: ``[CRITICAL]`` (under the threshold),
``[RESOLVED]`` (the critical alert is over; it leads a message that also warns),
``[WARNING]`` (a warning, or an alert flapping), ``[OPS]`` (ipi itself). Webhooks
that take JSON also get the same facts as fields (``Message.event``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from html import escape
from typing import TYPE_CHECKING, Any

from ipi.alerts.rules import BELOW_THRESHOLD, CHECK_WINDOW, PROJECTED_CROSSING
from ipi.score import DailyScore
from ipi.score.drivers import Driver
from ipi.score.whatif import Plan

if TYPE_CHECKING:
    from ipi.capacity.usage import Outlook

TAGS = {"critical": "[CRITICAL]", "warning": "[WARNING]", "resolved": "[RESOLVED]",
        "ops": "[OPS]", "info": "[INFO]"}
_FIXABLE = (BELOW_THRESHOLD, CHECK_WINDOW, PROJECTED_CROSSING)  # rules a SKU list helps


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{x:.1f}%"


def factors_line(row: DailyScore) -> str:
    st = "n/a" if row.sell_through is None else f"{row.sell_through:.2f}"
    ins = "n/a" if row.in_stock_rate is None else f"{100 * row.in_stock_rate:.0f}%"
    return (f"excess {_pct(row.excess_pct)} · sell-through {st} · "
            f"stranded {_pct(row.stranded_pct)} · in-stock {ins}")


_CHANGES = (("excess_pct", "excess", "{:.1f}%", 0.5), ("sell_through", "sell-through",
                                                        "{:.2f}", 0.02),
            ("stranded_pct", "stranded", "{:.1f}%", 0.5),
            ("in_stock_rate", "in-stock", "{:.0%}", 0.01))


def changes(before: DailyScore, now: DailyScore) -> str:
    """What moved between two days' estimates: the estimate, then each factor that did."""
    parts = []
    if before.score is not None and now.score is not None:
        parts.append(f"estimate {before.score:.0f} -> {now.score:.0f} "
                     f"({now.score - before.score:+.0f})")
    for col, label, fmt, least in _CHANGES:
        a, b = getattr(before, col), getattr(now, col)
        if a is not None and b is not None and abs(b - a) >= least:
            parts.append(f"{label} {fmt.format(a)} -> {fmt.format(b)}")
        elif (a is None) != (b is None):
            parts.append(f"{label} {'n/a' if a is None else fmt.format(a)} -> "
                         f"{'n/a' if b is None else fmt.format(b)}")
    return "; ".join(parts) or "nothing material"


@dataclass(frozen=True)
class Notice:
    """One thing to tell about one marketplace: an alert firing, repeating, resolved, or
    flapping."""

    marketplace: str
    kind: str  # firing | repeat | resolved | flapping
    row: DailyScore  # the day's
    threshold: float
    since: date | None = None
    rule: str = BELOW_THRESHOLD
    detail: str = ""  # what the rule found: days to the check, the trend, the SKUs
    before: DailyScore | None = None  # the day of the last page
    last_page: date | None = None
    why: str = ""  # why it is paged (again) today
    next_check: date | None = None

    @property
    def critical(self) -> bool:
        return self.rule == BELOW_THRESHOLD

    @property
    def severity(self) -> str:
        if self.kind == "resolved":
            return "resolved"
        return "critical" if self.critical and self.kind != "flapping" else "warning"

    @property
    def rank(self) -> int:
        """Importance, most first: a critical page, a critical resolve (it leads over any
        warning), a warning or a flapping notice, a warning's resolve."""
        if self.critical and self.kind in ("firing", "repeat"):
            return 0
        if self.critical and self.kind == "resolved":
            return 1
        return 3 if self.kind == "resolved" else 2

    @property
    def words(self) -> str:
        return self.rule.replace("_", " ")


def _estimate(r: DailyScore) -> str:
    return f"IPI estimate {r.score:.0f} (band {r.score_low:.0f}-{r.score_high:.0f})"


def _head(account: str, day: date, n: Notice) -> str:
    """The notice's first line, tagged like a title."""
    where, est = f"{account} {n.marketplace}", _estimate(n.row)
    tag = TAGS[n.severity]
    if n.kind == "flapping":
        return (f"{tag} {where}: the {n.words} alert is flapping ({n.why}): {n.detail}.")
    if n.critical:
        check = f" The {n.detail}." if n.detail else ""
        if n.kind == "firing":
            text = f"{est} is under the threshold {n.threshold:.0f} on {day}.{check}"
        elif n.kind == "repeat":
            text = (f"{est} is still under the threshold {n.threshold:.0f} on {day}, since "
                    f"{n.since}.{check}")
        else:
            text = f"{est} is back over the threshold {n.threshold:.0f} on {day}."
    elif n.kind == "resolved":
        text = f"the {n.words} warning is over ({est})."
    elif n.rule == CHECK_WINDOW:
        text = f"{est} is near the threshold {n.threshold:.0f}, {n.detail}."
    elif n.rule == PROJECTED_CROSSING:
        text = f"{est} is falling: {n.detail}."
    else:
        text = f"{n.detail}."
    if n.kind == "repeat" and not n.critical:
        text += f" Still so since {n.since}."
    return f"{tag} {where}: {text}"


def _summary(n: Notice) -> str:
    """The notice in a title's few words."""
    mp, score, thr = n.marketplace, n.row.score, n.threshold
    if n.kind == "flapping":
        return f"{mp} {n.words} flapping, pages held"
    if n.critical:
        if n.kind == "firing":
            return f"{mp} {score:.0f} under the threshold {thr:.0f}"
        if n.kind == "repeat":
            moved = (f" ({score - n.before.score:+.0f} since {n.last_page})"
                     if score is not None and n.before and n.before.score is not None
                     else "")
            return f"{mp} {score:.0f} still under the threshold {thr:.0f}{moved}"
        return f"{mp} {score:.0f} back over the threshold {thr:.0f}"
    if n.kind == "resolved":
        return f"{mp} {n.words} over"
    return f"{mp} {'still ' if n.kind == 'repeat' else ''}{n.words} ({score:.0f})"


@dataclass(frozen=True)
class Message:
    """One message in the shapes targets take: full text (webhooks, files), short text
    (chat: Slack and the like), HTML (email, with the chart attached), and the facts as
    fields for webhooks that take JSON (``event``)."""

    title: str
    text: str
    short: str
    html: str
    severity: str = "critical"  # critical | warning | resolved | info | ops
    event: dict[str, Any] = field(default_factory=dict)


def _num(x: Any, nd: int = 1) -> float | None:
    return None if x is None else round(float(x), nd)


def dedup_key(account: str, marketplace: str, rule: str) -> str:
    """One incident's key, the same on every message about it: incident tools group by
    it."""
    return f"ipi/{account}/{marketplace}/{rule}"


def event_fields(account: str, day: date, n: Notice, link: str | None) -> dict[str, Any]:
    """A notice as fields an incident tool can route on."""
    r = n.row
    return {
        "dedup_key": dedup_key(account, n.marketplace, n.rule), "state": n.kind,
        "severity": n.severity, "account": account, "marketplace": n.marketplace,
        "rule": n.rule, "date": day.isoformat(), "estimate": _num(r.score),
        "band": [_num(r.score_low), _num(r.score_high)],
        "threshold": n.threshold, "status": r.status,
        "factors": {k: _num(getattr(r, k), 4) for k in ("excess_pct", "sell_through",
                                                   "stranded_pct", "in_stock_rate")},
        "next_check": n.next_check.isoformat() if n.next_check else None,
        "since": n.since.isoformat() if n.since else None, "why": n.why or None,
        "link": link,
    }


_FOOTER = ("The score is an estimate from Amazon's reports; Seller Central shows the "
           "official one. Record it (ipi official add) and ipi calibrates to it. "
           "Amazon has moved its published IPI threshold over the years (350, 400, 500, "
           "450, 400); the threshold here is this setup's, and since 2023 the IPI feeds "
           "monthly capacity limits rather than one storage cliff.")


def _capacity_summary(s: Outlook) -> str:
    """A storage type's capacity page in a title's few words."""
    now = f"{s.share:.0%}" if s.share is not None else "no data"
    if s.status == "over":
        return f"{s.storage_type} storage over its capacity limit ({now})"
    ahead = (f", {s.projected_share:.0%} by {s.month_end:%b %d}"
             if s.projected_share is not None else "")
    return f"{s.storage_type} storage at {now} of its capacity limit{ahead}"


def _listed(heading: str, short_heading: str, lines: Sequence[str]) -> tuple[str, str, str]:
    """Lines under a heading in a message's three shapes: text, short (the first line and
    how many more), HTML."""
    more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
    return ("\n".join([heading, *(f"  - {x}" for x in lines)]),
            f"{short_heading} {lines[0]}{more}",
            f"<p><b>{escape(heading)}</b></p><ul>"
            + "".join(f"<li>{escape(x)}</li>" for x in lines) + "</ul>")


def render(account: str, day: date, notices: Sequence[Notice],
           drivers: Mapping[str, Sequence[Driver]],
           plans: Mapping[str, Plan] | None = None, link: str | None = None,
           stakes: Sequence[str] = (),
           capacity: Sequence[Outlook] = (), ask: str | None = None) -> Message:
    """One message for all of an account's notices in a run, most important first
    (``plans``: the recovery plan per marketplace, shown under the drivers; ``link``:
    where to look at the account; ``stakes``: capacity and fees at risk, a line each;
    ``capacity``: storage types paging today, named in the title too; ``ask``: the
    request for this week's official score, which a page or its repeat carries)."""
    ordered = sorted(notices, key=lambda n: (n.rank, n.marketplace, n.rule))
    parts, shorts, htmls = [], [], []
    for n in ordered:
        r = n.row
        head = _head(account, day, n)
        facts = f"Factors: {factors_line(r)}."
        extra = []
        if n.kind == "repeat":
            if n.before is not None:
                extra.append(f"Since the last page ({n.last_page}): {changes(n.before, r)}.")
            extra.append(f"Paged again: {n.why}.")
        elif n.why and n.kind != "flapping":
            extra.append(f"Paged now: {n.why}.")
        if r.status not in (None, "ok"):
            extra.append(f"The estimate is {r.status}"
                         + (f" ({r.notes})." if r.notes else "."))
        fixes = list(drivers.get(n.marketplace, ())) \
            if n.kind in ("firing", "repeat") and n.rule in _FIXABLE else []
        lines = [head, facts, *extra]
        if fixes:
            lines += ["Fix first:", *(f"  - {d.line()}" for d in fixes)]
        plan = (plans or {}).get(n.marketplace) if fixes else None
        if plan is not None:
            lines += [f"{plan.title}:", *(f"  {line}" for line in plan.lines())]
        parts.append("\n".join(lines))
        shorts.append("\n".join([head, facts, *extra, *(f"• {d.line()}" for d in fixes[:3])]))
        items = "".join(f"<li>{escape(d.line())}</li>" for d in fixes)
        steps = "".join(f"<li>{escape(line)}</li>" for line in plan.lines()) if plan else ""
        htmls.append(f"<h3>{escape(head)}</h3><p>{escape(facts)}</p>"
                     + "".join(f"<p><em>{escape(e)}</em></p>" for e in extra)
                     + (f"<p><b>Fix first:</b></p><ul>{items}</ul>" if items else "")
                     + (f"<p><b>{escape(plan.title)}:</b></p><ul>{steps}</ul>"
                        if plan else ""))
    lead = ordered[0]
    same = [n for n in ordered if n.rank == lead.rank]
    title = f"{TAGS[lead.severity]} IPI {account}: " + "; ".join(_summary(n) for n in same)
    if len(ordered) > len(same):
        title += f" (and {len(ordered) - len(same)} more)"
    title += "".join(f"; {_capacity_summary(s)}" for s in capacity)
    if stakes:
        text, short, html = _listed("At stake beyond the score:", "At stake:", stakes)
        parts.append(text)
        shorts.append(short)
        htmls.append(html)
    if ask and any(n.kind in ("firing", "repeat") for n in ordered):
        parts.append(ask)
        shorts.append(ask)
        htmls.append(f"<p>{escape(ask)}</p>")
    opened = f"Open: {link}" if link else ""
    html = ("".join(htmls) + "<p>The attached chart shows the estimate, its band, the "
            "threshold and Amazon's check dates.</p>"
            + (f"<p><a href=\"{escape(link)}\">{escape(opened)}</a></p>" if link else "")
            + f"<p><small>{escape(_FOOTER)}</small></p>")
    # apprise's JSON body already has title, message and type: these go beside them.
    event = {**event_fields(account, day, lead, link),
             "alerts": [event_fields(account, day, n, link) for n in ordered],
             "at_stake": list(stakes)}
    return Message(title, "\n\n".join([*parts, *([opened] if link else []), _FOOTER]),
                   "\n\n".join([*shorts, *([opened] if link else [])]), html,
                   lead.severity, event)


def capacity_message(account: str, day: date, storage: Sequence[Outlook],
                     stakes: Sequence[str] = (), link: str | None = None) -> Message:
    """The page for storage types newly past their capacity warning or over their limit
    (``storage``: their outlooks, as ``ipi.stakes`` gives them), with everything else at
    stake that day (``stakes``: a line each)."""
    severity = "critical" if any(s.status == "over" for s in storage) else "warning"
    title = f"{TAGS[severity]} IPI {account}: " + "; ".join(map(_capacity_summary, storage))
    heads = [f"{TAGS[severity]} {account} on {day}: {s.describe()}." for s in storage]
    todo = ("Before the month ends: sell down or remove excess and aged units, fix stranded "
            "listings, hold back inbound shipments, or ask for more in Seller Central's "
            "Capacity Monitor. Over the limit, Amazon refuses new shipments until there is "
            "room.")
    paged = {s.describe() for s in storage}
    others = [x for x in stakes if x not in paged]
    also = _listed("Also at stake:", "Also at stake:", others) if others else ("", "", "")
    opened = [f"Open: {link}"] if link else []
    text = "\n\n".join(x for x in ["\n".join(heads), todo, also[0], *opened, _FOOTER] if x)
    short = "\n".join(x for x in [*heads, also[1], *opened] if x)
    html = ("".join(f"<h3>{escape(h)}</h3>" for h in heads) + f"<p>{escape(todo)}</p>"
            + also[2]
            + (f"<p><a href=\"{escape(link)}\">{escape(opened[0])}</a></p>" if link else "")
            + f"<p><small>{escape(_FOOTER)}</small></p>")
    event = {"dedup_key": f"ipi/{account}/capacity", "state": "firing", "severity": severity,
             "account": account, "rule": "capacity", "date": day.isoformat(),
             "storage": [{"storage_type": s.storage_type, "status": s.status,
                          "used_cuft": s.used_cuft, "limit_cuft": s.limit_cuft,
                          "share": s.share, "projected_cuft": s.projected_cuft,
                          "projected_share": s.projected_share,
                          "month_end": s.month_end.isoformat()} for s in storage],
             "at_stake": list(stakes), "link": link}
    return Message(title, text, short, html, severity, event)


def unreliable_message(account: str, marketplace: str, day: Any,
                       row: DailyScore) -> str:
    """The ops message for a day whose reports are not to be trusted."""
    return (f"[OPS] {account} {marketplace} on {day}: {row.notes}.\n"
            f"Amazon sometimes returns a fraction of a report's rows. ipi asked again once "
            f"where it could; the rows are loaded but the day's estimate "
            f"({(row.score or 0):.0f}) is marked unreliable and pages nobody. "
            f"Check the report in Seller Central; the next day's run usually recovers.")


def gap_message(account: str, marketplace: str, report: str, description: str,
                last: date, day: date, factors: Sequence[str], carry_days: int,
                ) -> tuple[str, str]:
    """The ops message for a report that stopped arriving: one per gap (its title and
    body)."""
    missing = (day - last).days
    until = last + timedelta(days=carry_days)
    carried = (f"carried from {last} until {until}, then unknown: the estimate is partial "
               "from then on, and no threshold page goes out on it"
               if until >= day else "unknown: the estimate is partial, and no threshold "
               "page goes out on it")
    title = f"[OPS] IPI {account} {marketplace}: no {description} report since {last}"
    body = (f"[OPS] {account} {marketplace}: the {description} report ({report}) last "
            f"arrived for {last}; {missing} day(s) missing by {day}. The "
            f"{' and '.join(factors)} factor(s) it feeds are {carried}.\n"
            f"Download it from Seller Central into the account's drop folder, or check the "
            f"SP-API run's log and `ipi check`. This message is sent once per gap.")
    return title, body
