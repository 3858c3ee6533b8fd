"""Alert rules: pure functions from a rule's stored state and a day's score to the next.

States per (account, marketplace, rule), as in Prometheus and Alertmanager:
``normal`` -> ``pending`` (the condition holds, not yet ``for_days`` days) ->
``firing`` -> back to ``normal`` (resolved). Each step says whether to notify:
``firing`` when it starts, ``repeat`` when it is unchanged for ``repeat_days``,
``resolved`` when it ends. A day with no estimate, or an unreliable one,
changes nothing: no data is never OK.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from ipi.settings import Policy

BELOW_THRESHOLD = "below_threshold"


@dataclass(frozen=True)
class State:
    state: str = "normal"  # normal | pending | firing
    since: date | None = None
    count: int = 0  # consecutive days the condition held
    last_notified: date | None = None
    last_day: date | None = None  # the last day evaluated: a rerun of it changes nothing


@dataclass(frozen=True)
class Step:
    state: State
    notify: str | None = None  # firing | repeat | resolved
    changed: bool = False  # the state itself changed (recorded in the history)


def below_threshold(prev: State, row: dict[str, Any], policy: Policy, day: date) -> Step:
    """Critical: the estimate is under the threshold; it resolves only at or over the
    recovery threshold, so a score wobbling around the threshold does not flap."""
    score = row.get("score")
    if score is None or row.get("status") == "unreliable" or prev.last_day == day:
        return Step(prev)
    if prev.state == "firing":
        if score >= policy.recovery:
            return Step(State("normal", day, last_day=day),
                        "resolved" if policy.notify_resolved else None, changed=True)
        due = prev.last_notified is None or \
            (day - prev.last_notified).days >= policy.repeat_days
        return Step(replace(prev, count=prev.count + 1, last_day=day,
                            last_notified=day if due else prev.last_notified),
                    "repeat" if due else None)
    if score >= policy.threshold:
        if prev.state == "pending":
            return Step(State("normal", day, last_day=day), changed=True)
        return Step(replace(prev, last_day=day))
    count = prev.count + 1 if prev.state == "pending" else 1
    since = prev.since if prev.state == "pending" else day
    if count >= policy.for_days:
        return Step(State("firing", since, count, day, day), "firing", changed=True)
    return Step(State("pending", since, count, last_day=day), changed=prev.state != "pending")
