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
CHECK_WINDOW = "check_window"
PROJECTED_CROSSING = "projected_crossing"
STRANDED_JUMP = "stranded_jump"
EXCESS_JUMP = "excess_jump"
SEVERITY = {BELOW_THRESHOLD: "critical", CHECK_WINDOW: "warning",
            PROJECTED_CROSSING: "warning", STRANDED_JUMP: "warning", EXCESS_JUMP: "warning"}


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


def advance(prev: State, active: bool | None, day: date, policy: Policy, *,
            clear: bool | None = None, notify_resolved: bool | None = None) -> Step:
    """One day of a rule's state machine. ``active``: the condition holds (None: no data);
    ``clear``: a firing alert may resolve (default: not active)."""
    if active is None or prev.last_day == day:
        return Step(prev)
    clear = (not active) if clear is None else clear
    resolved_notice = policy.notify_resolved if notify_resolved is None else notify_resolved
    if prev.state == "firing":
        if clear:
            return Step(State("normal", day, last_day=day),
                        "resolved" if resolved_notice else None, changed=True)
        due = prev.last_notified is None or \
            (day - prev.last_notified).days >= policy.repeat_days
        return Step(replace(prev, count=prev.count + 1, last_day=day,
                            last_notified=day if due else prev.last_notified),
                    "repeat" if due else None)
    if not active:
        if prev.state == "pending":
            return Step(State("normal", day, last_day=day), changed=True)
        return Step(replace(prev, last_day=day))
    count = prev.count + 1 if prev.state == "pending" else 1
    since = prev.since if prev.state == "pending" else day
    if count >= policy.for_days:
        return Step(State("firing", since, count, day, day), "firing", changed=True)
    return Step(State("pending", since, count, last_day=day), changed=prev.state != "pending")


def _score(row: dict[str, Any]) -> float | None:
    if row.get("score") is None or row.get("status") == "unreliable":
        return None
    return float(row["score"])


def below_threshold(prev: State, row: dict[str, Any], policy: Policy, day: date) -> Step:
    """Critical: the estimate is under the threshold; it resolves only at or over the
    recovery threshold, so a score wobbling around the threshold does not flap."""
    score = _score(row)
    if score is None:
        return Step(prev)
    return advance(prev, score < policy.threshold, day, policy, clear=score >= policy.recovery)


def check_window(prev: State, row: dict[str, Any], policy: Policy, day: date,
                 window: tuple[date, int] | None) -> Step:
    """Warning: inside a check's warning window, the estimate is under the threshold or
    within ``warning_margin`` above it."""
    score = _score(row)
    if score is None:
        return Step(prev)
    active = window is not None and score < policy.threshold + policy.warning_margin
    return advance(prev, active, day, policy)


def projected_crossing(prev: State, row: dict[str, Any], policy: Policy, day: date,
                       projected: float | None) -> Step:
    """Warning: the recent trend takes the estimate under the threshold by the next check
    (while it is still over: under it, the critical alert speaks)."""
    score = _score(row)
    if score is None or projected is None:
        return Step(prev) if score is None else advance(prev, False, day, policy)
    return advance(prev, score >= policy.threshold and projected < policy.threshold, day,
                   policy)


def factor_jump(prev: State, active: bool | None, policy: Policy, day: date) -> Step:
    """Warning: a jump in stranded or excess units today; an event, so no resolved notice."""
    return advance(prev, active, day, policy, notify_resolved=False)
