"""Helpers the alert tests share (no tests here): stored estimates and what arrived."""

from __future__ import annotations

from datetime import date, timedelta

from ipi import pipeline
from ipi.settings import Settings
from ipi.store import utcnow
from tests.helpers import Webhook

D = date(2026, 5, 10)


def put_score(settings: Settings, day: date, score: float | None, mp: str = "US",
              status: str | None = None) -> None:
    """A stored daily estimate, as the scoring step writes it."""
    store = pipeline.open_store(settings, settings.accounts[0])
    status = status or ("no data" if score is None else "ok")
    low = None if score is None else score - 60
    high = None if score is None else score + 60
    with store.write() as con:
        con.execute(
            "INSERT OR REPLACE INTO daily_score (account, marketplace, date, excess_pct, "
            "sell_through, stranded_pct, in_stock_rate, score, score_low, score_high, status, "
            "notes, model, computed_at) "
            "VALUES ('acme', $marketplace, $day, 31.5, 1.2, 4.0, 0.9, $score, $low, $high, "
            "$status, $notes, 'test', $now)",
            {"marketplace": mp, "day": day, "score": score, "low": low, "high": high,
             "status": status, "notes": "planning has 4 rows, the last good one 40"
             if status == "unreliable" else None, "now": utcnow()})


def days(settings: Settings, scores: list[float | None], start: date = D) -> list[list[str]]:
    """Run the alert step for consecutive days; the delivery statuses of each day."""
    out = []
    for k, score in enumerate(scores):
        day = start + timedelta(days=k)
        put_score(settings, day, score)
        out.append([d.status for d in pipeline.alert(settings, settings.accounts[0],
                                                     day).deliveries])
    return out


def heads(hook: Webhook) -> list[str]:
    """Each message's title tag, and the state its JSON fields give (ops: the tag)."""
    tags = [m["title"].split("]")[0] + "]" for m in hook.received]
    return [t if t == "[OPS]" else f"{t} {m['state']}"
            for t, m in zip(tags, hook.received, strict=True)]
