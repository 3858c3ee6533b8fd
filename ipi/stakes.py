"""What the score costs on a day, in cubic feet and money: each storage type's capacity
outlook (``ipi.capacity.usage``) and each marketplace's fee exposure (``ipi.fees``), as
typed results for ``ipi capacity``, the pages, the daily artifacts and the alerts
(``ipi.plain`` turns them into JSON's values at those edges).

Amazon's published IPI threshold moved over the years (350, 400, 500, 450, 400); since
March 2023 the IPI feeds monthly capacity limits per storage type rather than one storage
cliff, and the fees follow the same habits the IPI grades. So the figures here, not the
points alone, say what is at stake.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import partial

import duckdb

from ipi.capacity.usage import Outlook, outlook
from ipi.errors import ConfigError
from ipi.fees import Rates, load_rates, marketplaces
from ipi.fees.compute import CalendarRow, Span
from ipi.fees.exposure import Comparison, FeeExposure, calendar, exposure, newest_day
from ipi.settings import Account, Settings


@dataclass(frozen=True, slots=True)
class FeeNote:
    """A marketplace whose fees ipi cannot show, and why (no rates, no planning report).
    ``date`` None, as a ``FeeExposure``'s is not: the one test a page needs."""

    marketplace: str
    note: str
    date: None = None

    def record(self) -> dict[str, object]:
        return {"marketplace": self.marketplace, "date": None, "note": self.note}


@dataclass(frozen=True, slots=True)
class Stakes:
    """An account's capacity outlook per storage type, its fees per marketplace, and
    ``lines``: a sentence per figure at risk (none when nothing is)."""

    account: str
    storage: list[Outlook]
    fees: list[FeeExposure | FeeNote]
    lines: list[str]


@dataclass(frozen=True, slots=True)
class FeeCalendar:
    """A marketplace's fee calendar: each SKU's next assessment (``assessment``, None
    without SKUs) from the planning day ``date``, most to pay first; ``note`` instead
    (``date`` None) when there is none."""

    marketplace: str
    assessment: date | None
    currency: str | None
    rows: list[CalendarRow]
    note: str | None
    date: date | None

    @classmethod
    def missing(cls, marketplace: str, note: str) -> FeeCalendar:
        return cls(marketplace, None, None, [], note, None)

    def record(self) -> dict[str, object]:
        """As ``ipi fees calendar --json`` writes it."""
        if self.note is not None:
            return {"marketplace": self.marketplace, "date": None, "rows": [],
                    "note": self.note}
        return {"marketplace": self.marketplace, "date": self.date,
                "currency": self.currency, "assessment": self.assessment, "rows": self.rows}


NO_REPORT = "no data: no planning report stored"


def _no_rates(mp: str) -> str:
    return f"no fee rates for {mp} in ipi yet (ipi/fees/rates.toml)"


def _rates_on(settings: Settings, account: Account, mp: str) -> Callable[[date], Rates]:
    # A day's fees at the rates in force that day (a backfilled 2025 day at 2025's).
    return partial(load_rates, mp, settings.fee_overrides(account, mp))


def stakes(con: duckdb.DuckDBPyConnection, settings: Settings, account: Account,
           day: date | None = None, *, fees: bool = True) -> Stakes:
    """The account's capacity outlook and fee exposure on its newest planning day on or
    before ``day``; ``lines``: the sentences worth an alert (capacity past its warning,
    a surcharge due, the utilization ratio over its threshold, SKUs at low-inventory
    risk). ``fees=False``: what can page alone, cheaply: the storage types with a
    capacity limit, no fees (their SKU by SKU forecast is for a message)."""
    storage = outlook(con, account.name, day, account.capacity, settings.policy_for(account),
                      settings.capacity.warn_share, limited=not fees)
    exposures: list[FeeExposure | FeeNote] = []
    for mp in account.marketplaces if fees else ():
        if mp not in marketplaces():
            exposures.append(FeeNote(mp, _no_rates(mp)))
            continue
        try:
            got = exposure(con, account.name, mp, day, _rates_on(settings, account, mp))
        except ConfigError as exc:  # overrides are checked when the configuration is read;
            # a day older than ipi's rates is refused here
            exposures.append(FeeNote(mp, str(exc)))
            continue
        exposures.append(got or FeeNote(mp, NO_REPORT))
    return Stakes(account.name, storage, exposures, at_risk_lines(storage, exposures))


def fee_calendar(con: duckdb.DuckDBPyConnection, settings: Settings, account: Account,
                 day: date | None = None) -> list[FeeCalendar]:
    """Per marketplace, each SKU's next assessment: what it costs and what avoids it
    (``ipi.fees.compute.fee_calendar``); a marketplace without rates or planning reports
    carries a ``note`` instead."""
    out: list[FeeCalendar] = []
    for mp in account.marketplaces:
        if mp not in marketplaces():
            out.append(FeeCalendar.missing(mp, _no_rates(mp)))
            continue
        rates_on = _rates_on(settings, account, mp)
        try:
            rows = calendar(con, account.name, mp, day, rates_on)
        except ConfigError as exc:
            out.append(FeeCalendar.missing(mp, str(exc)))
            continue
        on = newest_day(con, account.name, mp, day)
        if rows is None or on is None:
            out.append(FeeCalendar.missing(mp, NO_REPORT))
            continue
        out.append(FeeCalendar(mp, rows[0].assessment if rows else None,
                               rates_on(on).currency, rows, None, on))
    return out


def _money(value: float, currency: str) -> str:
    return f"{value:,.2f} {currency}"


FEE_NAMES = {"aged": "aged inventory surcharge", "utilization": "storage utilization surcharge",
             "low_inventory": "low-inventory-level fee"}


def span_text(v: Span | None, currency: str) -> str:
    """An amount as text: one figure, or a range ("-": none)."""
    return "-" if v is None else v.text(currency)


def fee_text(row: Comparison, currency: str) -> str:
    """A fee's figure as it leads: Amazon's own forecast where it gave one, with ipi's as
    the explanation beside; else ipi's (a range where a size is unknown)."""
    mine = "no data" if row.ipi is None else span_text(row.ipi, currency)
    if row.headline == "amazon" and row.amazon is not None:
        return f"{_money(row.amazon, currency)} by Amazon's forecast (ipi: {mine})"
    return mine if row.ipi is None or mine.startswith("up to") else f"about {mine}"


def at_risk_lines(storage: list[Outlook], fees: list[FeeExposure | FeeNote]) -> list[str]:
    """One line per figure at risk, for alerts and summaries; none when nothing is."""
    lines = [s.describe() for s in storage if s.status in ("over", "warning")]
    for f in fees:
        if isinstance(f, FeeNote):
            continue
        mp, cur, a = f.marketplace, f.currency, f.aged
        due = f.window.end
        for row in f.compare:
            # Only what is due for certain: a range from nothing (a view missing) is shown
            # in `ipi capacity` and the pages, never put in a page.
            if not ((row.ipi and row.ipi.low > 0) or row.amazon):
                continue
            what = FEE_NAMES[row.fee]
            if row.fee == "aged":
                unknown = (f" (at least: {len(a.skus_unknown)} SKU(s) without a volume)"
                           if a.total is None else "")
                lines.append(f"{mp} {what} on {due}: {fee_text(row, cur)}{unknown} if nothing "
                             "sells before")
            else:
                lines.append(f"{mp} {what} until {due}: {fee_text(row, cur)}")
        u = f.utilization
        if u.over and u.ratio is not None:
            lines.append(f"{mp} storage utilization ratio {u.ratio:.1f} weeks, over "
                         f"{u.threshold_weeks:g}: the storage surcharge applies"
                         + (f" ({u.note})" if u.note else ""))
        low = f.low_inventory
        if low.at_risk:
            lines.append(f"{mp} low-inventory-level fee: {low.at_risk} SKU(s) under "
                         f"{low.floor_days:g} days of supply on both views")
    return lines
