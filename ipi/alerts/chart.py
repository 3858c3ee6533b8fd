"""The score-history chart that alert emails carry: estimate, band, threshold, checks.

Pure: rows in, PNG bytes out (matplotlib's Agg backend, no display needed).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

import matplotlib

matplotlib.use("Agg")  # no screen on servers: render to memory only

import matplotlib.dates as mdates
import matplotlib.pyplot as plt


def _num(day: date) -> float:
    return float(mdates.date2num(day))  # type: ignore[no-untyped-call]


def score_chart(history: Sequence[tuple[date, float, float, float]], threshold: float,
                checkpoints: Sequence[date] = (), title: str = "") -> bytes:
    """A PNG of (day, score, low, high) rows with the threshold and check dates marked."""
    fig, ax = plt.subplots(figsize=(7.5, 3.2), dpi=110)
    try:
        if history:
            days = [_num(h[0]) for h in history]
            ax.fill_between(days, [h[2] for h in history], [h[3] for h in history],
                            color="#9ecae1", alpha=0.5, label="band", linewidth=0)
            ax.plot(days, [h[1] for h in history], color="#08519c", linewidth=1.8,
                    label="IPI estimate")
        ax.axhline(threshold, color="#cb181d", linestyle="--", linewidth=1.2,
                   label=f"threshold {threshold:.0f}")
        for i, check in enumerate(checkpoints):
            ax.axvline(_num(check), color="#636363", linestyle=":", linewidth=1.2,
                       label="Amazon's check" if i == 0 else None)
        ax.set_ylim(0, 1000)
        ax.set_ylabel("IPI (estimate)")
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))  # type: ignore[no-untyped-call]
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower left", fontsize=8, frameon=False, ncol=4)
        if title:
            ax.set_title(title, fontsize=10)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)
