"""The chart an alert email carries: the score history (estimate, band, threshold,
checks, official scores) as a PNG, since mail clients do not show SVG (the report page
draws its charts as SVG, ``ipi.svg``).

Pure: rows in, PNG bytes out. A ``Figure`` of its own, not pyplot: no screen, and no
process-wide figure registry for the threads of a daily run to share.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

import matplotlib.dates as mdates
from matplotlib.figure import Figure
from PIL import Image


def _num(day: date) -> float:
    return float(mdates.date2num(day))  # type: ignore[no-untyped-call]


def score_chart(history: Sequence[tuple[date, float, float, float]], threshold: float,
                checkpoints: Sequence[date] = (), title: str = "",
                official: Sequence[tuple[date, float]] = ()) -> bytes:
    """A PNG of (day, score, low, high) rows with the threshold, check dates and the
    official scores the seller recorded marked."""
    fig = Figure(figsize=(7.5, 3.2), dpi=110)
    ax = fig.subplots()
    if history:
        days = [_num(h[0]) for h in history]
        ax.fill_between(days, [h[2] for h in history], [h[3] for h in history],
                        color="#9ecae1", alpha=0.5, label="band", linewidth=0)
        ax.plot(days, [h[1] for h in history], color="#08519c", linewidth=1.8,
                label="IPI estimate")
    if official:
        ax.scatter([_num(d) for d, _ in official], [s for _, s in official], s=22,
                   color="#e6550d", zorder=3, label="official (Seller Central)")
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
    return _png(fig)


def _png(fig: Figure) -> bytes:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    # A chart has few colours: a 256-colour palette looks the same at under half the
    # bytes, which every email and the outbox carry.
    out = io.BytesIO()
    Image.open(buf).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(
        out, format="png", optimize=True)
    return out.getvalue()
