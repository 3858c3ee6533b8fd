"""What the score costs: Amazon's capacity fees, as data (``rates.toml``) and pure sums
(``ipi.fees.compute``).

Rates live in the TOML file with their effective date and source, never in code: Amazon
changes them about once a year. ``load_rates`` reads one marketplace's and applies a
seller's overrides (a dict shaped like the file's marketplace table, as a ``[fees]``
configuration section would give), checking every key and value.
"""

from __future__ import annotations

import contextlib
import difflib
import itertools
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

from ipi.errors import ConfigError

__all__ = ["AgedTier", "Rates", "load_rates", "marketplaces", "periods"]


@dataclass(frozen=True)
class AgedTier:
    """An age tier of the aged inventory surcharge: days ``first``..``last`` (inclusive;
    ``last`` None: no end), charged ``per_cuft`` or, where set, ``per_unit`` if greater."""

    label: str
    first: int
    last: int | None
    per_cuft: float
    per_unit: float | None = None


@dataclass(frozen=True)
class Rates:
    """One marketplace's fee rules in force from ``effective``: the section of
    ``rates.toml`` named ``period``, each group with its source.

    ``utilization_surcharge`` and ``low_inventory_per_unit`` map a size (``standard``,
    ``large_bulky``; ``small_standard``, ``large_standard_3lb``, ...) to their steps:
    (ratio over, per cubic foot) and (days of supply under, per unit)."""

    marketplace: str
    currency: str
    period: str
    effective: date
    source: str
    utilization_source: str
    utilization_threshold_weeks: float
    utilization_excluded_newest_days: int
    utilization_min_average_cuft: float
    utilization_base_per_cuft: tuple[float, float]  # standard size: Jan-Sep, Oct-Dec
    utilization_surcharge: dict[str, tuple[tuple[float, float], ...]]
    aged_source: str
    aged_assessment_day: int
    aged_tiers: tuple[AgedTier, ...]
    aged_exempt_groups: frozenset[str]
    aged_exempt_tiers: frozenset[str]
    low_inventory_source: str
    low_inventory_floor_days: float
    low_inventory_short_term_days: int
    low_inventory_long_term_days: int
    low_inventory_min_units_7_days: int
    low_inventory_per_unit: dict[str, tuple[tuple[float, float], ...]]
    overridden: tuple[str, ...] = ()  # the dotted keys a seller's overrides changed
    newer: date | None = None  # when the next section takes over (None: the newest)

    def exempt_in(self, tier: str, group: str | None) -> bool:
        """Whether ``group`` (a product group or storage type) is not charged in ``tier``."""
        return (tier in self.aged_exempt_tiers and group is not None
                and group.strip().lower() in self.aged_exempt_groups)

    def base_per_cuft(self, day: date) -> float:
        """Standard-size base storage per cubic foot for ``day``'s month."""
        jan_sep, oct_dec = self.utilization_base_per_cuft
        return oct_dec if day.month >= 10 else jan_sep


def _file() -> dict[str, Any]:
    text = resources.files("ipi").joinpath("fees", "rates.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def marketplaces() -> list[str]:
    """The marketplaces whose rates ipi holds."""
    return sorted(_file())


def _hint(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (valid: {', '.join(choices)})"


def _merge(base: dict[str, Any], over: Mapping[str, Any], where: str, *,
           strict: bool = True) -> list[str]:
    """Lay ``over`` onto ``base`` in place; refuse a key the file does not have (a typo
    would otherwise be ignored and the default silently charged). The changed keys.
    ``strict=False``, for an older section: a key only newer sections have (a tier Amazon
    added since) is left out rather than refused."""
    changed = []
    for key, value in over.items():
        path = f"{where}.{key}"
        if key not in base:
            if not strict:
                continue
            raise ConfigError(f"{path}: unknown key{_hint(key, list(base))}")
        if isinstance(base[key], dict):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{path}: expected a table of keys, got {value!r}")
            changed += _merge(base[key], value, path, strict=strict)
        else:
            base[key] = value
            changed.append(path)
    return changed


def _number(v: Any, where: str, *, positive: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ConfigError(f"{where}: {v!r} is not a number")
    if v < 0 or (positive and v == 0):
        raise ConfigError(f"{where}: {v!r} must be {'above' if positive else 'at least'} 0")
    return float(v)


def _days(v: Any, where: str, high: int = 10_000) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= high:
        raise ConfigError(f"{where}: {v!r} must be a whole number of days from 1 to {high}")
    return v


def _day(v: Any, where: str) -> date:
    if isinstance(v, str):
        with contextlib.suppress(ValueError):  # not a date: refused just below
            v = date.fromisoformat(v)
    if not isinstance(v, date):
        raise ConfigError(f"{where}: {v!r} is not a date: use YYYY-MM-DD")
    return v


def _text(v: Any, where: str) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ConfigError(f"{where}: expected text, got {v!r}")
    return v


_TIER = re.compile(r"^(\d+)-(\d+)$|^(\d+)\+$")


def _tiers(table: Mapping[str, Any], where: str) -> tuple[AgedTier, ...]:
    """The tiers in age order, checked to follow each other without gap or overlap (a
    unit of any age over the first tier's start falls in exactly one)."""
    out = []
    for label, spec in table.items():
        m = _TIER.match(label)
        if m is None:
            raise ConfigError(f"{where}.{label}: a tier is named like \"181-210\" or \"456+\"")
        first, last = ((int(m[1]), int(m[2])) if m[1] else (int(m[3]), None))
        known = {"per_cuft", "per_unit"}
        for key in spec:
            if key not in known:
                raise ConfigError(f"{where}.{label}.{key}: unknown key{_hint(key, sorted(known))}")
        unit = spec.get("per_unit")
        per_unit = None if unit is None else _number(unit, f"{where}.{label}.per_unit")
        out.append(AgedTier(label, first, last,
                            _number(spec.get("per_cuft"), f"{where}.{label}.per_cuft"), per_unit))
    out.sort(key=lambda t: t.first)
    for a, b in itertools.pairwise(out):
        if a.last is None or b.first != a.last + 1:
            raise ConfigError(f"{where}: tier {b.label} does not follow {a.label}")
    return tuple(out)


def _steps(v: Any, where: str, *, rising: bool = True) -> tuple[tuple[float, float], ...]:
    """[[bound, amount], ...] with bounds in rising order."""
    if not isinstance(v, list) or not v or not all(isinstance(x, list) and len(x) == 2
                                                   for x in v):
        raise ConfigError(f"{where}: expected rows of [bound, amount], got {v!r}")
    out = tuple((_number(b, f"{where}[{i}][0]"), _number(a, f"{where}[{i}][1]"))
                for i, (b, a) in enumerate(v))
    if rising and any(a[0] >= b[0] for a, b in itertools.pairwise(out)):
        raise ConfigError(f"{where}: the bounds must rise from row to row")
    return out


def _sizes(table: Any, where: str) -> dict[str, tuple[tuple[float, float], ...]]:
    if not isinstance(table, Mapping) or not table:
        raise ConfigError(f"{where}: expected a table of sizes, got {table!r}")
    return {size: _steps(v, f"{where}.{size}") for size, v in table.items()}


def _words(v: Any, where: str) -> frozenset[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ConfigError(f"{where}: expected a list of names, got {v!r}")
    return frozenset(x.strip().lower() for x in v)


def _sections(m: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The marketplace's dated sections, oldest first."""
    out = [(k, v) for k, v in m.items() if isinstance(v, dict) and "effective" in v]
    return sorted(out, key=lambda kv: _day(kv[1]["effective"], f"fees.{kv[0]}.effective"))


def periods(marketplace: str) -> list[tuple[str, date]]:
    """The marketplace's rate sections and when each took effect, oldest first."""
    m = _file()[marketplace.upper()]
    return [(k, _day(v["effective"], f"fees.{k}.effective")) for k, v in _sections(m)]


def load_rates(marketplace: str, overrides: Mapping[str, Any] | None = None,
               on: date | None = None) -> Rates:
    """The marketplace's fee rules in force on ``on`` (None: the newest section) from
    ``rates.toml``, with ``overrides`` laid on top (e.g. ``{"utilization":
    {"threshold_weeks": 24}}``); any unknown key or bad value is a ConfigError naming it.
    A day before the oldest section has no rates ipi can vouch for: a ConfigError too."""
    data = _file()
    mp = marketplace.upper()
    if mp not in data:
        raise ConfigError(f"fees: no rates for marketplace {marketplace!r}; ipi has them for "
                          f"{', '.join(sorted(data))}")
    sections = _sections(data[mp])
    dates = [_day(v["effective"], f"fees.{k}.effective") for k, v in sections]
    live = [i for i, d in enumerate(dates) if on is None or d <= on]
    if not live:
        raise ConfigError(f"fees: ipi has no {mp} rates for {on} (the oldest it holds took "
                          f"effect on {dates[0]})")
    i = live[-1]
    name, m = sections[i]
    # Overrides are checked against the newest section (what ``ipi check`` loads).
    changed = (_merge(m, overrides, "fees", strict=i == len(sections) - 1)
               if overrides else [])
    u, a, low = m["utilization"], m["aged"], m["low_inventory"]
    short = _days(low["short_term_days"], "fees.low_inventory.short_term_days")
    long = _days(low["long_term_days"], "fees.low_inventory.long_term_days")
    if long < short:
        raise ConfigError("fees.low_inventory: long_term_days must not be under "
                          "short_term_days")
    base = u["base_per_cuft"]
    if not isinstance(base, Mapping):
        raise ConfigError(f"fees.utilization.base_per_cuft: expected a table, got {base!r}")
    tiers = _tiers(a["tiers"], "fees.aged.tiers")
    exempt_tiers = _words(a["exempt_tiers"], "fees.aged.exempt_tiers")
    unknown = sorted(exempt_tiers - {t.label.lower() for t in tiers})
    if unknown:
        raise ConfigError(f"fees.aged.exempt_tiers: {unknown[0]!r} is not a tier"
                          f"{_hint(unknown[0], [t.label for t in tiers])}")
    return Rates(
        marketplace=mp, currency=_text(data[mp]["currency"], "fees.currency"),
        period=name, effective=dates[i], source=_text(m["source"], "fees.source"),
        utilization_source=_text(u["source"], "fees.utilization.source"),
        utilization_threshold_weeks=_number(u["threshold_weeks"],
                                            "fees.utilization.threshold_weeks", positive=True),
        utilization_excluded_newest_days=_days(u["excluded_newest_days"],
                                               "fees.utilization.excluded_newest_days"),
        utilization_min_average_cuft=_number(u["min_average_cuft"],
                                             "fees.utilization.min_average_cuft"),
        utilization_base_per_cuft=(
            _number(base.get("jan_sep"), "fees.utilization.base_per_cuft.jan_sep"),
            _number(base.get("oct_dec"), "fees.utilization.base_per_cuft.oct_dec")),
        utilization_surcharge=_sizes(u["surcharge"], "fees.utilization.surcharge"),
        aged_source=_text(a["source"], "fees.aged.source"),
        # 28: every month has the day, so the assessment is monthly without exception
        aged_assessment_day=_days(a["assessment_day"], "fees.aged.assessment_day", 28),
        aged_tiers=tiers,
        aged_exempt_groups=_words(a["exempt_groups"], "fees.aged.exempt_groups"),
        aged_exempt_tiers=frozenset(t.label for t in tiers if t.label.lower() in exempt_tiers),
        low_inventory_source=_text(low["source"], "fees.low_inventory.source"),
        low_inventory_floor_days=_number(low["floor_days"], "fees.low_inventory.floor_days",
                                         positive=True),
        low_inventory_short_term_days=short, low_inventory_long_term_days=long,
        low_inventory_min_units_7_days=_days(low["min_units_7_days"],
                                             "fees.low_inventory.min_units_7_days"),
        low_inventory_per_unit=_sizes(low["per_unit"], "fees.low_inventory.per_unit"),
        overridden=tuple(changed),
        newer=dates[i + 1] if i + 1 < len(dates) else None)
