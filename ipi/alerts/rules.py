"""Alert rules: pure functions from a rule's stored state and a day's score to the next.

States per (account, marketplace, rule), as in Prometheus and Alertmanager:
``normal`` -> ``pending`` (the condition holds, not yet ``for_days`` days) ->
``firing`` -> back to ``normal``. A day with no estimate, an unreliable or partial one,
or one whose carried factors could put it on either side of the threshold changes
nothing: no data is never OK, and pages speak only of what is known.

Apart from the state, each rule remembers what the on-call person last heard
(``paged``), and pages only to change that, or to repeat a firing alert:

- **firing**: the state is firing and the last page said otherwise;
- **resolved**: the state is no longer firing and the last page said firing;
- **repeat**: weekly (``repeat_days``), because the score is weekly; sooner only
  when the alert got materially worse since the last page (the estimate down
  ``repeat_worse_points``, or its whole band now under the threshold), or once on
  each of the ``remind_before_check`` days before one of Amazon's checks; never more
  than ``max_repeats`` per incident, whatever the calendar (a page budget);
- **acknowledged** (``ipi alerts ack``): no repeats until the alert resolves or
  gets materially worse than when it was acknowledged;
- **flapping**: when the state flips (firing <-> not firing) ``flap_changes``
  times in ``flap_window_days``, one notice, then no pages for the rule until
  its state has been stable ``flap_stable_days``; then one page if the state is
  not what the on-call last heard. States are recorded all along.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from ipi.score import DailyScore
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
    since: date | None = None  # when the state began
    count: int = 0  # consecutive days the condition held
    last_notified: date | None = None  # the last page about this rule
    last_day: date | None = None  # the last day evaluated: a rerun of it changes nothing
    paged: str = "normal"  # what the last page told the on-call: firing | normal
    acked: date | None = None  # acknowledged, as of this day's estimate
    flapping_since: date | None = None  # pages held since then, until stable
    repeats: int = 0  # repeats paged since it fired: the page budget


@dataclass(frozen=True)
class Reading:
    """What "materially worse" compares: an estimate and the top of its band."""

    value: float
    high: float

    @classmethod
    def of(cls, row: DailyScore | None) -> Reading | None:
        if row is None or row.score is None:
            return None
        return cls(float(row.score), float(row.score_high or row.score))


@dataclass(frozen=True)
class Context:
    """What the paging decisions look at besides the state."""

    now: Reading | None = None
    before: Reading | None = None  # at the last page
    at_ack: Reading | None = None  # when it was acknowledged
    check_in: int | None = None  # days to Amazon's next check
    flips: int = 0  # firing <-> not firing changes in the flap window, before today


@dataclass(frozen=True)
class Step:
    state: State
    notify: str | None = None  # firing | repeat | resolved | flapping
    changed: bool = False  # the state itself changed (recorded in the history)
    why: str = ""  # why a repeat came (early), or why a page follows a hold


def worse(base: Reading | None, now: Reading | None, policy: Policy) -> str | None:
    """How ``now`` is materially worse than ``base``, if it is."""
    if base is None or now is None:
        return None
    drop = base.value - now.value
    if drop >= policy.repeat_worse_points:
        return f"the estimate fell {drop:.0f} points"
    if policy.repeat_band_under and now.high < policy.threshold <= base.high:
        return f"its whole band is now under {policy.threshold:.0f}"
    return None


def repeat_due(s: State, day: date, policy: Policy, ctx: Context) -> str | None:
    """Why a still-firing alert is paged again today, if it is."""
    if s.repeats >= policy.max_repeats:
        return None  # the page budget is spent: the resolve is the next page
    if s.acked is not None:
        got = worse(ctx.at_ack, ctx.now, policy)
        return f"acknowledged on {s.acked}, but {got} since" if got else None
    if s.last_notified is None:
        return "not paged yet"
    gap = (day - s.last_notified).days
    if gap >= policy.repeat_days:
        return f"{gap} days since the last page"
    if gap < 1:
        return None
    got = worse(ctx.before, ctx.now, policy)
    if got:
        return f"{got} since the last page"
    if ctx.check_in is not None and ctx.check_in in policy.remind_before_check:
        return f"{ctx.check_in} day(s) to Amazon's check"
    return None


def _next(prev: State, active: bool, clear: bool, day: date,
          policy: Policy) -> tuple[State, bool]:
    """The state machine alone: the next state, and whether it changed."""
    if prev.state == "firing":
        if clear:
            return replace(prev, state="normal", since=day, count=0, last_day=day,
                           acked=None), True
        return replace(prev, count=prev.count + 1, last_day=day), False
    if not active:
        if prev.state == "pending":
            return replace(prev, state="normal", since=day, count=0, last_day=day), True
        return replace(prev, last_day=day), False
    count = prev.count + 1 if prev.state == "pending" else 1
    since = prev.since if prev.state == "pending" else day
    if count >= policy.for_days:
        return replace(prev, state="firing", since=since, count=count, last_day=day), True
    return (replace(prev, state="pending", since=since, count=count, last_day=day),
            prev.state != "pending")


def advance(prev: State, active: bool | None, day: date, policy: Policy, *,
            clear: bool | None = None, event: bool = False, ctx: Context | None = None) -> Step:
    """One day of a rule. ``active``: the condition holds (None: no data); ``clear``: a
    firing alert may resolve (default: not active); ``event``: a one-day event (a jump),
    which neither sends a resolved notice nor flaps."""
    if active is None or prev.last_day == day:
        return Step(prev)
    ctx = ctx or Context()
    new, changed = _next(prev, active, (not active) if clear is None else clear, day, policy)
    flipped = changed and (new.state == "firing") != (prev.state == "firing")
    why = ""
    if not event and flipped and new.flapping_since is None \
            and ctx.flips + 1 >= policy.flap_changes:
        return Step(replace(new, flapping_since=day), "flapping", changed,
                    f"{ctx.flips + 1} changes in {policy.flap_window_days} days, "
                    f"{'firing' if new.state == 'firing' else 'not firing'} now")
    if new.flapping_since is not None:
        stable = (day - new.since).days if new.since else 0
        if stable < policy.flap_stable_days:
            return Step(new, None, changed)  # held: the state is recorded, nobody paged
        new = replace(new, flapping_since=None)
        why = f"stable for {stable} days after flapping"
    if new.state == "firing" and new.paged != "firing":
        return Step(replace(new, paged="firing", last_notified=day, acked=None, repeats=0),
                    "firing", changed, why)
    if new.state != "firing" and new.paged == "firing":
        tell = policy.notify_resolved and not event
        return Step(replace(new, paged="normal", last_notified=day if tell
                            else new.last_notified), "resolved" if tell else None, changed, why)
    if new.state == "firing":
        due = repeat_due(new, day, policy, ctx)
        if due:
            return Step(replace(new, last_notified=day, acked=None, repeats=new.repeats + 1),
                        "repeat", changed, due)
    return Step(new, None, changed)


def _score(row: DailyScore, policy: Policy) -> float | None:
    """The estimate the threshold rules may act on, or None: pages speak only of what is
    known. Not an unreliable day, not a partial one (a factor unknown), and not one whose
    carried factors (reports missing today) could put it on either side of the
    threshold."""
    if row.score is None or row.status in ("unreliable", "partial"):
        return None
    score = float(row.score)
    if abs(score - policy.threshold) < (row.carry_margin or 0.0):
        return None
    return score


def below_threshold(prev: State, row: DailyScore, policy: Policy, day: date,
                    ctx: Context | None = None) -> Step:
    """Critical: the estimate is under the threshold; it resolves only at or over the
    recovery threshold, so a score wobbling around the threshold does not flap."""
    score = _score(row, policy)
    if score is None:
        return Step(prev)
    return advance(prev, score < policy.threshold, day, policy,
                   clear=score >= policy.recovery, ctx=ctx)


def check_window(prev: State, row: DailyScore, policy: Policy, day: date,
                 window: tuple[date, int] | None, ctx: Context | None = None) -> Step:
    """Warning: inside a check's warning window, the estimate is under the threshold or
    within ``warning_margin`` above it."""
    score = _score(row, policy)
    if score is None:
        return Step(prev)
    active = window is not None and score < policy.threshold + policy.warning_margin
    return advance(prev, active, day, policy, ctx=ctx)


def projected_crossing(prev: State, row: DailyScore, policy: Policy, day: date,
                       projected: float | None, ctx: Context | None = None) -> Step:
    """Warning: the estimate is still over the threshold (under it, the critical alert
    speaks), but the trend since the last level shift takes it under by the next check,
    or it is held over only by the long-term factors (the 2020 rule: the recent ones
    alone read under, and the long-term ones follow as the days roll). No projection
    (too few days since a shift) and no long-term hold is no warning."""
    score = _score(row, policy)
    if score is None:
        return Step(prev)
    active = score >= policy.threshold and (
        (projected is not None and projected < policy.threshold)
        or recent_under(row, policy))
    return advance(prev, active, day, policy, ctx=ctx)


def recent_under(row: DailyScore, policy: Policy) -> bool:
    """The day's factors alone read under the threshold (its estimate may be held over
    by the long-term ones)."""
    recent = row.score_recent
    return recent is not None and float(recent) < policy.threshold


def factor_jump(prev: State, active: bool | None, policy: Policy, day: date,
                ctx: Context | None = None) -> Step:
    """Warning: a jump in stranded or excess units today; an event, so no resolved notice."""
    return advance(prev, active, day, policy, event=True, ctx=ctx)
