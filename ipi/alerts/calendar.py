"""Amazon's check dates: when the score must be over the threshold.

The check dates a seller watches: Amazon checked the score each quarter (historically
a first check about six weeks before the quarter's end); since March 2023 the score
feeds monthly capacity limits per storage type instead, and no official threshold has
been published since. The dates stay useful as the seller's own review points.
The calendar is the quarter ends (``checkpoint_rule = "quarter-end"``)
plus any explicit ``checkpoints``; a warning window opens ``warning_window_days``
before each. Pure: no clock.
"""

from __future__ import annotations

from datetime import date, timedelta

from ipi.settings import Policy


def quarter_end(day: date) -> date:
    q_last_month = ((day.month - 1) // 3 + 1) * 3
    first_next = date(day.year + (q_last_month == 12), q_last_month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def next_checkpoint(policy: Policy, day: date) -> date | None:
    """The first check date on or after ``day``."""
    dates = [d for d in policy.checkpoints if d >= day]
    if policy.checkpoint_rule == "quarter-end":
        dates.append(quarter_end(day))
    return min(dates, default=None)


def days_to_check(policy: Policy, day: date) -> tuple[date, int] | None:
    """(the next check date, days until it) when ``day`` is inside its warning window."""
    check = next_checkpoint(policy, day)
    if check is None:
        return None
    left = (check - day).days
    return (check, left) if left <= policy.warning_window_days else None
