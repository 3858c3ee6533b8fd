"""Alert rules: pure functions from the stored state and a day's score to a new state.

Only the threshold rule exists so far. Its shape (rule name, state per account,
marketplace and rule, transitions) is what fuller Alertmanager-style semantics
build on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

BELOW_THRESHOLD = "below_threshold"


@dataclass(frozen=True)
class Transition:
    marketplace: str
    rule: str
    state: str  # the new state: firing | normal
    day: date
    score: float
    low: float
    high: float
    threshold: float

    @property
    def kind(self) -> str:
        return "firing" if self.state == "firing" else "resolved"


def below_threshold(previous: str, row: dict[str, Any], threshold: float) -> Transition | None:
    """Fire when the estimate is under the threshold; resolve when it is back at or over it.

    A day with no estimate, or an unreliable one, changes nothing: a missing score is
    no data, never OK.
    """
    if row.get("score") is None or row.get("status") == "unreliable":
        # No data is never OK; an unreliable day (a collapsed report) pages ops instead.
        return None
    state = "firing" if row["score"] < threshold else "normal"
    if state == previous:
        return None
    return Transition(row["marketplace"], BELOW_THRESHOLD, state, row["date"], row["score"],
                      row["score_low"], row["score_high"], threshold)
