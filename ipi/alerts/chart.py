"""Charts: the score history that alert emails and reports carry (estimate, band,
threshold, checks, official scores), and the four factor trends of a report.

Pure: rows in, PNG bytes out (matplotlib's Agg backend, no display needed).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no screen on servers: render to memory only

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from PIL import Image


def _num(day: date) -> float:
    return float(mdates.date2num(day))  # type: ignore[no-untyped-call]


def score_chart(history: Sequence[tuple[date, float, float, float]], threshold: float,
                checkpoints: Sequence[date] = (), title: str = "",
                official: Sequence[tuple[date, float]] = ()) -> bytes:
    """A PNG of (day, score, low, high) rows with the threshold, check dates and the
    official scores the seller recorded marked."""
    fig, ax = plt.subplots(figsize=(7.5, 3.2), dpi=110)
    try:
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
    finally:
        plt.close(fig)


def _png(fig: Any) -> bytes:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    # A chart has few colours: a 256-colour palette looks the same at under half the
    # bytes, which every email, page and daily Prefect artifact carries.
    out = io.BytesIO()
    Image.open(buf).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(
        out, format="png", optimize=True)
    return out.getvalue()


# (column, title, scale, Amazon's direction): what each factor panel shows.
FACTOR_PANELS = (
    ("excess_pct", "Excess inventory (% of units)", 1.0, "lower is better"),
    ("sell_through", "Sell-through (90 days)", 1.0, "higher is better"),
    ("stranded_pct", "Stranded inventory (% of units)", 1.0, "lower is better"),
    ("in_stock_rate", "In-stock rate (%)", 100.0, "higher is better"),
)


def factor_chart(rows: Sequence[Mapping[str, Any]], title: str = "") -> bytes:
    """A PNG of the four factors over time, one small panel each (None: a gap)."""
    fig, axes = plt.subplots(2, 2, figsize=(7.5, 4.2), dpi=110, sharex=True)
    try:
        days = [_num(r["date"]) for r in rows]
        for ax, (col, name, scale, better) in zip(axes.flat, FACTOR_PANELS, strict=True):
            values = [float("nan") if r[col] is None else scale * float(r[col]) for r in rows]
            ax.plot(days, values, color="#08519c", linewidth=1.5)
            ax.set_title(f"{name}: {better}", fontsize=8)
            ax.grid(True, alpha=0.3)
            ax.tick_params(labelsize=7)
            if len(rows) > 1:  # one day has no interval to place ticks on
                ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=5))  # type: ignore[no-untyped-call]
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))  # type: ignore[no-untyped-call]
        if title:
            fig.suptitle(title, fontsize=10)
        return _png(fig)
    finally:
        plt.close(fig)
