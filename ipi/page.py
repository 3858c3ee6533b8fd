"""``ipi report``: the seller's page, one self-contained HTML file per account (Amazon's
reports, the data ipi reads, are parsed in ``ipi/reports/``).

Per marketplace, at a glance: the latest estimate with its band against the
threshold and the next check, the score history (threshold, checks and the
official scores recorded), the four factor trends, the SKUs to fix first with
the points each would win, and the recovery plan. Then, for the account, what the
score costs (``ipi.stakes``): each storage type's capacity use against its limit and
where it is heading by the month's end, and each marketplace's fees at risk. Charts are
inline SVG (``ipi.svg``); the page needs no network and no other file.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from html import escape
from pathlib import Path

from ipi.alerts.calendar import next_checkpoint, quarter_end
from ipi.capacity.usage import Outlook
from ipi.fees.exposure import AgedExposure, FeeExposure, UtilizationExposure
from ipi.safe import markdown as md
from ipi.score import DailyScore, held_line, partial_line, scores
from ipi.score.drivers import Driver, recovery, top_drivers
from ipi.score.official import ModelState, Recorded, listing, state
from ipi.score.projection import Projection, projection
from ipi.score.whatif import Plan
from ipi.settings import Account, Policy, Settings
from ipi.stakes import FEE_NAMES, FeeNote, Stakes, span_text, stakes
from ipi.store import Store
from ipi.svg import factor_svg, score_svg

DRIVERS = 10  # SKUs in a report's table
_ALT = {"score": "IPI estimate, band, threshold, checks and official scores",
        "factors": "The four factors over time"}


@dataclass
class Section:
    """One marketplace of the report: what the page shows, before it is HTML."""

    marketplace: str
    latest: DailyScore | None
    history: list[DailyScore]
    official: list[Recorded]
    drivers: list[Driver] = field(default_factory=list)
    plan: Plan | None = None
    check: date | None = None
    projection: Projection | None = None
    charts: dict[str, str] = field(default_factory=dict)  # SVG
    # The account's capacity and fees (``ipi.stakes``): storage adds up across an
    # account's marketplaces, so every section of an account holds the same one.
    stakes: Stakes | None = None


def sections(store: Store, settings: Settings, account: Account,
             day: date | None = None, *, known: Stakes | None = None) -> list[Section]:
    """Each marketplace's section, as of ``day`` (default: its latest estimate);
    ``known``: what is at stake on ``day``, already worked out (by the day's alerts)."""
    policy = settings.policy_for(account)
    with store.read() as con:
        recorded = listing(con, account.name)
        histories = {mp: scores(con, account.name, marketplace=mp, end=day)
                     for mp in account.marketplaces}
    out = []
    with store.write() as con:
        for mp, history in histories.items():
            scored = [r for r in history if r.score is not None]
            latest = scored[-1] if scored else None
            sec = Section(mp, latest, history, [o for o in recorded if o.marketplace == mp
                                                and (day is None or o.date <= day)])
            if latest is not None and latest.score is not None:
                sec.check = next_checkpoint(policy, latest.date)
                sec.projection = projection(con, account.name, mp, latest.date, sec.check,
                                            policy)
                sec.drivers = top_drivers(con, account.name, mp, latest.date, DRIVERS,
                                          latest)
                if latest.score < policy.recovery:
                    sec.plan = recovery(con, account.name, latest, policy)
            out.append(sec)
        # Worked out in the same transaction (one snapshot), unless the day's alerts did.
        at = known if known is not None else stakes(con, settings, account, day)
    for sec in out:
        sec.stakes = at
    for sec in out:  # drawn after the transaction: no one waits on the database for it
        scored = [r for r in sec.history if r.score is not None]
        if scored:
            sec.charts = _charts(account.name, sec.marketplace, scored, sec.history,
                                 sec.official, policy)
    return out


def _charts(account: str, mp: str, scored: list[DailyScore], history: list[DailyScore],
            official: list[Recorded], policy: Policy) -> dict[str, str]:
    first, last = scored[0].date, scored[-1].date
    dates = set(policy.checkpoints)
    if policy.checkpoint_rule == "quarter-end":
        dates |= set(_quarter_ends(first, last))
    checks = sorted(c for c in dates if first <= c <= last + timedelta(days=45))
    return {
        "score": score_svg(
            [(r.date, r.score, r.score_low, r.score_high) for r in scored
             if r.score is not None and r.score_low is not None and r.score_high is not None],
            policy.threshold, checks, f"{account} {mp}: IPI estimate and band",
            [(o.date, o.official) for o in official]),
        "factors": factor_svg(history, f"{account} {mp}: the four factors"),
    }


def _quarter_ends(first: date, last: date) -> list[date]:
    out, d = [], quarter_end(first)
    while d <= last + timedelta(days=92):
        out.append(d)
        d = quarter_end(d + timedelta(days=1))
    return out


def render(account: Account, settings: Settings, secs: Sequence[Section],
           model: ModelState | None) -> str:
    threshold = settings.policy_for(account).threshold
    body = [f"<h1>IPI report: {escape(account.name)}</h1>",
            f"<p class=sub>Estimates from Amazon's reports, recomputed by ipi. Threshold "
            f"{threshold:.0f}. {escape(model.line()) if model else ''}</p>"]
    if model and (ask := model.ask(settings.today(account))):
        body.append(f"<p class=note>{escape(ask)}</p>")
    for sec in secs:
        body.append(_section(sec, threshold))
    if (at := _stakes(secs)) is not None:
        body.append(_capacity(at))
    return _PAGE.format(title=escape(f"IPI report: {account.name}"), body="\n".join(body))


def _section(sec: Section, threshold: float) -> str:
    r = sec.latest
    if r is None or r.score is None:
        return (f"<h2>{escape(sec.marketplace)}</h2><p>No estimate yet: load reports "
                "(<code>ipi run</code>, <code>ipi ingest</code>).</p>")
    under = r.score < threshold
    verdict = ("under the threshold" if under else "over the threshold")
    check = (f" Amazon's next check: {sec.check} ({(sec.check - r.date).days} days)."
             if sec.check else "")
    p = sec.projection
    if p is not None:
        check += f" Trend: {escape(p.describe())}."
    lead = (f"<div class='card'><span class=big>{escape(line)}</span> <span>on {r.date}"
            f" ({escape(r.notes or '')}).{check}</span></div>"
            if (line := partial_line(r)) else
            f"<div class='card {'bad' if under else 'ok'}'><span class=big>{r.score:.0f}"
            f"</span> <span>band {r.score_low:.0f}&ndash;{r.score_high:.0f}, {verdict} "
            f"on {r.date}{' (' + escape(r.status) + ')' if r.status != 'ok' else ''}."
            f"{check}{' ' + escape(held) + '.' if (held := held_line(r)) else ''}</span></div>")
    parts = [
        f"<h2>{escape(sec.marketplace)}</h2>",
        lead,
        _figure(sec.charts["score"], _ALT["score"]),
        _figure(sec.charts["factors"], _ALT["factors"]),
        "<h3>Fix first</h3>",
    ]
    if sec.drivers:
        rows = "".join(
            f"<tr><td>{escape(d.factor.replace('_', '-'))}</td><td>{escape(d.sku)}</td>"
            f"<td>{escape(d.name or '')}</td><td>{escape(d.detail)}</td>"
            f"<td>{escape(d.action)}</td>"
            f"<td class=num>{_num(d.gain, '+.1f')}</td>"
            f"<td class=num>{_num(d.later, '+.1f')}</td></tr>"
            for d in sec.drivers)
        parts.append("<table><tr><th>factor</th><th>SKU</th><th>product</th><th>problem</th>"
                     "<th>action</th><th class=num>points won</th>"
                     f"<th class=num>in 90 days</th></tr>{rows}</table>"
                     "<p class=note>Points won: the estimate with that one fix done. In 90 "
                     "days: a removal's points once Amazon's 90-day sell-through window "
                     "has passed over it.</p>")
    else:
        parts.append("<p>No SKU stands out in the day's reports.</p>")
    if sec.plan is not None:
        plan = sec.plan
        steps = "".join(f"<li>{escape(a.label())} &rarr; {score:.0f}{plan.cost_of(i)}</li>"
                        for i, (a, score) in enumerate(plan.steps))
        short = "" if plan.reached else f"<p>{escape(plan.lines()[-1].strip('()'))}.</p>"
        basis = ("The fewest units moved" if plan.costs.by == "units"
                 else "The least estimated cost")
        parts.append(f"<h3>Recovery plan to {plan.target:.0f}</h3><p>{basis}, each step "
                     "with the estimate once it and those before are done:</p>"
                     f"<ol>{steps}</ol>"
                     + (f"<p>{escape(plan.summary())}</p>" if plan.steps else "") + short)
    if sec.official:
        rows = "".join(
            f"<tr><td>{o.date}</td><td class=num>{o.official:.0f}</td>"
            f"<td class=num>{_num(o.estimate)}</td></tr>" for o in sec.official)
        parts.append("<h3>Official scores</h3><table><tr><th>date</th>"
                     "<th class=num>official</th><th class=num>estimate</th></tr>"
                     f"{rows}</table>")
    return "\n".join(parts)


def markdown(account: Account, settings: Settings, secs: Sequence[Section],
             model: ModelState | None) -> str:
    """The report as markdown, for a Prefect artifact: the same words and tables, and
    the charts as data-URI images, which the Prefect UI draws without fetching anything."""
    threshold = settings.policy_for(account).threshold
    ask = model.ask(settings.today(account)) if model else None
    out = [f"# IPI report: {account.name}", "", *([model.line(), ""] if model else []),
           *([ask, ""] if ask else [])]
    for sec in secs:
        r = sec.latest
        out.append(f"## {sec.marketplace}")
        if r is None or r.score is None:
            out += ["No estimate yet.", ""]
            continue
        verdict = "under" if r.score < threshold else "over"
        out += [(f"**{line}** on {r.date}" if (line := partial_line(r)) else
                 f"**{r.score:.0f}** (band {r.score_low:.0f}-{r.score_high:.0f}), "
                 f"{verdict} the threshold {threshold:.0f} on {r.date}")
                + (f"; Amazon's next check {sec.check}." if sec.check else ".")
                + (f" Trend: {sec.projection.describe()}." if sec.projection else "")
                + (f" {held}." if (held := held_line(r)) else ""), ""]
        out += [f"![{alt}](data:image/svg+xml;base64,{base64.b64encode(svg.encode()).decode()})"
                "\n" for key, alt in _ALT.items() if (svg := sec.charts.get(key))]
        if sec.drivers:
            out += ["| factor | SKU | problem | action | points won | in 90 days |",
                    "|---|---|---|---|---|---|"]
            # SKUs, reasons and actions come from reports: shown as text, never markup
            out += [f"| {d.factor.replace('_', '-')} | {md(d.sku)} | {md(d.detail)} | "
                    f"{md(d.action)} | {_num(d.gain, '+.1f')} | {_num(d.later, '+.1f')} |"
                    for d in sec.drivers]
            out.append("")
        if sec.plan is not None:
            out += [f"{sec.plan.title}:", "", *(md(x) for x in sec.plan.lines()), ""]
    if (at := _stakes(secs)) is not None:
        out += _capacity_markdown(at)
    return "\n".join(out)


def _num(v: float | None, fmt: str = ".0f") -> str:
    return "-" if v is None else format(v, fmt)


# -- capacity and fees -------------------------------------------------------------------

CONTEXT = ("Since March 2023 Amazon sets monthly capacity limits per storage type, with the "
           "IPI as one input; over a limit, Amazon refuses new shipments. The fees below "
           "follow the same habits the IPI grades.")
SET_LIMIT = "ipi capacity set --storage-type standard --month YYYY-MM --limit CUFT"
_TONE = {"over": "bad", "warning": "warn", "ok": "ok"}  # no limit, no data: plain
_SOURCE = {"recorded": "recorded", "config": "from config"}


def _stakes(secs: Sequence[Section]) -> Stakes | None:
    return next((s.stakes for s in secs if s.stakes is not None), None)


def _nd(v: float | None, fmt: str = ",.0f") -> str:
    """A figure, or "no data": a missing one must never read as 0."""
    return "no data" if v is None else format(v, fmt)


def _money(v: float | None, currency: str) -> str:
    return "no data" if v is None else f"{v:,.2f} {currency}"


def _aged_due(a: AgedExposure, currency: str) -> str:
    """The surcharge ipi forecasts; a lower bound when some SKUs lack a volume."""
    if a.total is not None:
        return _money(a.total, currency)
    unknown = f"{len(a.skus_unknown)} SKU(s) without a volume"
    if not a.total_known:
        return f"no data ({unknown})"
    return f"at least {_money(a.total_known, currency)} ({unknown})"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _ratio(u: UtilizationExposure) -> str:
    r = u.ratio
    if r is None:
        return "no data"
    return "nothing shipped in 13 weeks" if math.isinf(r) else f"{r:.1f} weeks"


def _capacity(at: Stakes) -> str:
    storage = at.storage
    parts = ["<h2 id=capacity>Capacity and fees</h2>", f"<p class=sub>{CONTEXT}</p>"]
    if at.lines:
        tone = "bad" if any(s.status == "over" for s in storage) else "warn"
        items = "".join(f"<li>{escape(line)}</li>" for line in at.lines)
        parts.append(f"<div class='card {tone}'><strong>At risk</strong><ul>{items}</ul></div>")
    parts.append("<h3>Storage capacity</h3>")
    if not storage:
        parts.append("<p>No data: no planning report stored, so no capacity figures yet "
                     "(<code>ipi run</code>, <code>ipi ingest</code>).</p>")
    else:
        rows = "".join(_storage_row(s) for s in storage)
        parts.append(
            f"<table><tr><th>storage type</th><th class=num>used, cu ft</th>"
            f"<th class=num>limit, cu ft</th><th class=num>share</th>"
            f"<th class=num>by {storage[0].month_end}</th><th>status</th></tr>{rows}"
            f"</table><p class=note>On {storage[0].day}, the newest planning report: "
            f"on hand plus inbound, as Amazon counts it; warning from "
            f"{storage[0].warn_share:.0%} of the limit, now or by the month's end.</p>")
        if all(s.limit_cuft is None for s in storage):
            parts.append(f"<p>No capacity limit recorded: type in what Seller Central's "
                         f"Capacity Monitor shows, <code>{SET_LIMIT}</code>.</p>")
    parts += [_fees(f) for f in at.fees]
    return "\n".join(parts)


def _storage_row(s: Outlook) -> str:
    used = _nd(s.used_cuft)
    if s.used_cuft is not None:
        used += (f"<br><span class=note>{_nd(s.on_hand_cuft)} on hand + "
                 f"{_nd(s.inbound_cuft)} inbound</span>")
    if s.skus_unknown:
        used += f"<br><span class=note>{s.skus_unknown} SKU(s) without a volume</span>"
    limit = ("none recorded" if s.limit_cuft is None else
             f"{s.limit_cuft:,.0f} <span class=note>"
             f"({_SOURCE.get(s.limit_source or '', s.limit_source)})</span>")
    if s.projected_cuft is None:
        ahead = "no data" + (f"<br><span class=note>{escape(s.projection_note)}</span>"
                             if s.projection_note else "")
    else:
        ahead = (f"{s.projected_cuft:,.0f}"
                 + (f" ({s.projected_share:.0%})" if s.projected_share is not None else "")
                 + f"<br><span class=note>range {_nd(s.projected_low)}&ndash;"
                 f"{_nd(s.projected_high)}</span>")
    tone = _TONE.get(s.status, "none")
    return (f"<tr class=st-{tone}><td>{escape(s.storage_type)}</td>"
            f"<td class=num>{used}</td><td class=num>{limit}</td>"
            f"<td class=num>{_nd(s.share, '.0%')}</td><td class=num>{ahead}</td>"
            f"<td><span class='status {tone}'>{escape(s.status)}</span></td></tr>")


def _fees(f: FeeExposure | FeeNote) -> str:
    mp = escape(f.marketplace)
    if isinstance(f, FeeNote):
        return f"<h3>{mp} fees</h3><p>{escape(_sentence(f.note))}.</p>"
    cur, a, u, low = f.currency, f.aged, f.utilization, f.low_inventory
    amazon = a.amazon_total is not None
    parts = [f"<h3>{mp} fees on {f.date}</h3>", _compare_html(f), _beside_html(f),
             _calendar_html(f),
             f"<p><strong>Aged inventory surcharge</strong> at the assessment on "
             f"{a.assessment_day}: about {escape(_aged_due(a, cur))} if nothing sells "
             "before" + (f"; Amazon's own estimate: {_money(a.amazon_total, cur)}"
                         if amazon else "") + ".</p>"]
    if a.tiers:
        parts.append("<p class=note>By age on the assessment day: " + "; ".join(
            f"{escape(t.tier)} days: {t.units:,.0f} units, {_nd(t.cuft, ',.1f')} cu ft, "
            f"{_money(t.charge, cur)}" for t in a.tiers) + ".</p>")
    if a.skus:
        rows = "".join(
            f"<tr><td>{escape(s.sku)}</td><td class=num>{_nd(s.units)}</td>"
            f"<td class=num>{_money(s.charge, cur)}</td>"
            + (f"<td class=num>{_money(s.amazon, cur)}</td>" if amazon else "") + "</tr>"
            for s in a.skus)
        parts.append(f"<p>Sell or remove before {a.assessment_day}, the largest first:</p>"
                     "<table><tr><th>SKU</th><th class=num>units aged into a charged tier</th>"
                     "<th class=num>surcharge (ipi)</th>"
                     + ("<th class=num>Amazon's estimate</th>" if amazon else "")
                     + f"</tr>{rows}</table>")
    over = ("" if u.over is None else " <span class='status bad'>over</span>" if u.over
            else " <span class='status ok'>under</span>")
    note = f" <span class=note>{escape(_sentence(u.note))}.</span>" if u.note else ""
    parts.append(f"<p><strong>Storage utilization ratio</strong>: {_ratio(u)}, against a "
                 f"threshold of {u.threshold_weeks:g} weeks{over}.{note}</p>")
    skus = "".join(f"<li>{escape(s.sku)}: {escape(s.reason)}</li>" for s in low.skus)
    parts.append(f"<p><strong>Low-inventory-level fee</strong>: {low.at_risk} SKU(s) at "
                 f"risk (under {low.floor_days:g} days of supply on both views), "
                 f"{low.unknown} without both views (no data); Amazon's report marks it "
                 f"applied to {low.amazon_applied_count}.</p>"
                 + (f"<ul>{skus}</ul>" if skus else ""))
    if f.rates:
        parts.append("<p class=note>Rates: " + "; ".join(
            f"{k.replace('_', ' ')}: {escape(v)}" for k, v in f.rates.items()) + ".</p>")
    return "\n".join(parts)


def _compare_html(f: FeeExposure) -> str:
    """Each fee until the next assessment: Amazon's forecast leads where it gave one."""
    cur, w = f.currency, f.window
    rows = "".join(
        f"<tr><td>{escape(FEE_NAMES[r.fee])}</td><td class=num>"
        + (f"<strong>{_money(r.amazon, cur)}</strong>" if r.headline == "amazon"
           else "no forecast")
        + f"</td><td class=num>{escape(span_text(r.ipi, cur))}</td><td class=num>"
        + escape(span_text(r.difference, cur)) + "</td></tr>" for r in f.compare)
    return (f"<table class=compare><tr><th>until {w.end} ({w.days} days)</th>"
            "<th class=num>Amazon's forecast</th><th class=num>ipi</th>"
            f"<th class=num>ipi minus Amazon</th></tr>{rows}</table>"
            f"<p class=note>{escape(f.rates['period'])}.</p>")


def _beside_html(f: FeeExposure) -> str:
    """Per SKU, Amazon's forecast beside ipi's (only where Amazon gave one)."""
    if not f.beside:
        return ""
    cur = f.currency
    rows = "".join(
        f"<tr><td>{escape(r.sku)}</td><td>{escape(FEE_NAMES[r.fee])}</td>"
        f"<td class=num><strong>{_money(r.amazon, cur)}</strong></td>"
        f"<td class=num>{escape(span_text(r.ipi, cur))}</td></tr>" for r in f.beside)
    return ("<table class=beside><tr><th>SKU</th><th>fee</th>"
            "<th class=num>Amazon's forecast</th><th class=num>ipi</th></tr>"
            f"{rows}</table>")


def _calendar_html(f: FeeExposure) -> str:
    if not f.calendar:
        return ""
    cur = f.currency
    rows = "".join(
        f"<tr><td>{escape(r.sku)}</td><td>{escape(r.tier or '-')}</td>"
        f"<td class=num>{_money(r.charge, cur)}</td>"
        f"<td class=num>{_money(r.charge_at_pace, cur)}</td>"
        f"<td class=num>{_nd(r.to_act)}</td><td class=num>{_nd(r.days_of_supply)}</td>"
        f"<td>{escape(r.zone)}</td></tr>" for r in f.calendar)
    return (f"<p><strong>What the {f.window.end} assessment costs, and what avoids "
            "it</strong> (sales take the oldest units first; the safe zone is 28 to 180 days "
            "of supply):</p><table class=calendar><tr><th>SKU</th><th>oldest tier</th>"
            "<th class=num>if none sell</th><th class=num>at its pace</th>"
            "<th class=num>sell or remove</th><th class=num>days of supply</th>"
            f"<th>zone</th></tr>{rows}</table>")


def _capacity_markdown(at: Stakes) -> list[str]:
    storage = at.storage
    out = ["## Capacity and fees", "", CONTEXT, ""]
    out += [f"- **{md(line)}**" for line in at.lines] + ([""] if at.lines else [])
    if not storage:
        out += ["No data: no planning report stored, so no capacity figures yet.", ""]
    else:
        out += [f"| storage type | used, cu ft | limit, cu ft | share | "
                f"by {storage[0].month_end} | status |", "|---|---|---|---|---|---|"]
        out += [f"| {s.storage_type} | {_nd(s.used_cuft)} | "
                + ("none recorded" if s.limit_cuft is None else
                   f"{s.limit_cuft:,.0f} ({_SOURCE.get(s.limit_source or '', '')})")
                + f" | {_nd(s.share, '.0%')} | {_nd(s.projected_cuft)} | {s.status} |"
                for s in storage]
        out.append("")
        if all(s.limit_cuft is None for s in storage):
            out += [f"No capacity limit recorded: `{SET_LIMIT}`.", ""]
    for f in at.fees:
        if isinstance(f, FeeNote):
            out += [f"{f.marketplace} fees: {f.note}.", ""]
            continue
        cur, u, low = f.currency, f.utilization, f.low_inventory
        out += [f"{f.marketplace} fees until the assessment on {f.window.end}: "
                f"storage utilization ratio {_ratio(u)} (threshold "
                f"{u.threshold_weeks:g}); {low.at_risk} SKU(s) at low-inventory-level "
                "fee risk.", "", "| fee | Amazon's forecast | ipi | ipi minus Amazon |",
                "|---|---|---|---|"]
        out += [f"| {FEE_NAMES[r.fee]} | "
                + (f"**{_money(r.amazon, cur)}**" if r.headline == "amazon"
                   else "no forecast")
                + f" | {span_text(r.ipi, cur)} | {span_text(r.difference, cur)} |"
                for r in f.compare]
        out.append("")
        if f.beside:
            out += ["| SKU | fee | Amazon's forecast | ipi |", "|---|---|---|---|"]
            out += [f"| {md(r.sku)} | {FEE_NAMES[r.fee]} | "
                    f"**{_money(r.amazon, cur)}** | {span_text(r.ipi, cur)} |"
                    for r in f.beside]
            out.append("")
        if f.calendar:
            out += [f"What the {f.window.end} assessment costs, and what avoids it:", "",
                    "| SKU | oldest tier | if none sell | at its pace | sell or remove | "
                    "days of supply | zone |", "|---|---|---|---|---|---|---|"]
            out += [f"| {md(r.sku)} | {r.tier or '-'} | {_money(r.charge, cur)} | "
                    f"{_money(r.charge_at_pace, cur)} | {_nd(r.to_act)} | "
                    f"{_nd(r.days_of_supply)} | {r.zone} |" for r in f.calendar]
            out.append("")
    return out


def _figure(svg: str, alt: str) -> str:
    return f"<figure aria-label='{escape(alt)}'>{svg}</figure>"


_PAGE = """<!doctype html>
<html lang=en><head><meta charset=utf-8><title>{title}</title>
<meta name=viewport content="width=device-width, initial-scale=1">
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; max-width: 860px; margin: 2em auto;
        padding: 0 1em; color: #222; }}
h1 {{ font-size: 1.6em; margin-bottom: .2em; }} .sub {{ color: #555; margin-top: 0; }}
h2 {{ border-bottom: 2px solid #ddd; padding-bottom: .2em; margin-top: 2em; }}
.card {{ padding: .8em 1em; border-radius: 6px; margin: 1em 0; }}
.card.bad {{ background: #fde0dd; border-left: 6px solid #cb181d; }}
.card.ok {{ background: #e5f5e0; border-left: 6px solid #31a354; }}
.big {{ font-size: 2.2em; font-weight: 700; margin-right: .3em; vertical-align: middle; }}
figure {{ margin: 1em 0; }} figure svg {{ max-width: 100%; height: auto; display: block; }}
table {{ border-collapse: collapse; width: 100%; font-size: .9em; }}
th, td {{ text-align: left; padding: .3em .5em; border-bottom: 1px solid #eee; }}
.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.note {{ color: #555; font-size: .85em; }}
.card.warn {{ background: #fef6d8; border-left: 6px solid #a16207; }}
.card ul {{ margin: .3em 0 0; padding-left: 1.2em; }}
.status {{ padding: 0 .4em; border-radius: 3px; background: #f0f0f0; white-space: nowrap; }}
.status.bad {{ background: #fde0dd; color: #a50f15; font-weight: 700; }}
.status.warn {{ background: #fef6d8; color: #8a5300; font-weight: 700; }}
.status.ok {{ background: #e5f5e0; color: #1b6e35; }}
tr.st-bad td:first-child {{ border-left: 5px solid #cb181d; }}
tr.st-warn td:first-child {{ border-left: 5px solid #a16207; }}
</style></head>
<body>
{body}
</body></html>
"""


def write(store: Store, settings: Settings, account: Account, out_dir: Path,
          day: date | None = None) -> Path:
    """Write ``<out_dir>/ipi-report-<account>.html`` as of ``day``; return its path."""
    with store.read() as con:
        model = state(con, account.name)
    html = render(account, settings, sections(store, settings, account, day), model)
    return write_html(html, out_dir, account)


def write_html(html: str, out_dir: Path, account: Account) -> Path:
    path = out_dir / f"ipi-report-{account.name}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a page
    return path
