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

__all__ = ["AgedTier", "Rates", "load_rates", "marketplaces"]


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
    """One marketplace's fee rules, each group with its date and source."""

    marketplace: str
    currency: str
    utilization_effective: date
    utilization_source: str
    utilization_threshold_weeks: float
    utilization_excluded_newest_days: int
    aged_effective: date
    aged_source: str
    aged_assessment_day: int
    aged_tiers: tuple[AgedTier, ...]
    low_inventory_effective: date
    low_inventory_source: str
    low_inventory_floor_days: float
    low_inventory_short_term_days: int
    low_inventory_long_term_days: int
    overridden: tuple[str, ...] = ()  # the dotted keys a seller's overrides changed


def _file() -> dict[str, Any]:
    text = resources.files("ipi").joinpath("fees", "rates.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def marketplaces() -> list[str]:
    """The marketplaces whose rates ipi holds."""
    return sorted(_file())


def _hint(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (valid: {', '.join(choices)})"


def _merge(base: dict[str, Any], over: Mapping[str, Any], where: str) -> list[str]:
    """Lay ``over`` onto ``base`` in place; refuse a key the file does not have (a typo
    would otherwise be ignored and the default silently charged). The changed keys."""
    changed = []
    for key, value in over.items():
        path = f"{where}.{key}"
        if key not in base:
            raise ConfigError(f"{path}: unknown key{_hint(key, list(base))}")
        if isinstance(base[key], dict):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{path}: expected a table of keys, got {value!r}")
            changed += _merge(base[key], value, path)
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
            raise ConfigError(f"{where}.{label}: a tier is named like \"181-210\" or \"365+\"")
        # "365+" is Amazon's name for more than 365 days: the tier after "331-365".
        first, last = ((int(m[1]), int(m[2])) if m[1] else (int(m[3]) + 1, None))
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


def load_rates(marketplace: str, overrides: Mapping[str, Any] | None = None) -> Rates:
    """The marketplace's fee rules from ``rates.toml``, with ``overrides`` laid on top
    (e.g. ``{"utilization": {"threshold_weeks": 24}}``); any unknown key or bad value is
    a ConfigError naming it."""
    data = _file()
    mp = marketplace.upper()
    if mp not in data:
        raise ConfigError(f"fees: no rates for marketplace {marketplace!r}; ipi has them for "
                          f"{', '.join(sorted(data))}")
    m = data[mp]
    changed = _merge(m, overrides or {}, "fees") if overrides else []
    u, a, low = m["utilization"], m["aged"], m["low_inventory"]
    short = _days(low["short_term_days"], "fees.low_inventory.short_term_days")
    long = _days(low["long_term_days"], "fees.low_inventory.long_term_days")
    if long < short:
        raise ConfigError("fees.low_inventory: long_term_days must not be under "
                          "short_term_days")
    return Rates(
        marketplace=mp, currency=_text(m["currency"], "fees.currency"),
        utilization_effective=_day(u["effective"], "fees.utilization.effective"),
        utilization_source=_text(u["source"], "fees.utilization.source"),
        utilization_threshold_weeks=_number(u["threshold_weeks"],
                                            "fees.utilization.threshold_weeks", positive=True),
        utilization_excluded_newest_days=_days(u["excluded_newest_days"],
                                               "fees.utilization.excluded_newest_days"),
        aged_effective=_day(a["effective"], "fees.aged.effective"),
        aged_source=_text(a["source"], "fees.aged.source"),
        # 28: every month has the day, so the assessment is monthly without exception
        aged_assessment_day=_days(a["assessment_day"], "fees.aged.assessment_day", 28),
        aged_tiers=_tiers(a["tiers"], "fees.aged.tiers"),
        low_inventory_effective=_day(low["effective"], "fees.low_inventory.effective"),
        low_inventory_source=_text(low["source"], "fees.low_inventory.source"),
        low_inventory_floor_days=_number(low["floor_days"], "fees.low_inventory.floor_days",
                                         positive=True),
        low_inventory_short_term_days=short, low_inventory_long_term_days=long,
        overridden=tuple(changed))
