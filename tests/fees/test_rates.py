"""Amazon's fee rates are data (ipi/fees/rates.toml), with dates and sources; a seller's
overrides are laid on top and checked key by key."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ipi.errors import ConfigError
from ipi.fees import load_rates, marketplaces

ROOT = Path(__file__).resolve().parents[2]


def test_us_rates_as_published() -> None:
    r = load_rates("us")
    assert (r.marketplace, r.currency) == ("US", "USD")
    assert (r.utilization_threshold_weeks, r.utilization_excluded_newest_days) == (22, 30)
    assert r.utilization_effective == date(2024, 4, 1)
    assert [(t.label, t.first, t.last, t.per_cuft, t.per_unit) for t in r.aged_tiers] == [
        ("181-210", 181, 210, 0.50, None), ("211-240", 211, 240, 1.00, None),
        ("241-270", 241, 270, 1.50, None), ("271-300", 271, 300, 5.45, None),
        ("301-330", 301, 330, 5.70, None), ("331-365", 331, 365, 5.90, None),
        ("365+", 366, None, 6.90, 0.15)]
    assert r.aged_assessment_day == 15
    assert (r.low_inventory_floor_days, r.low_inventory_short_term_days,
            r.low_inventory_long_term_days) == (28, 30, 90)
    for source in (r.utilization_source, r.aged_source, r.low_inventory_source):
        assert source.startswith("Seller Central help: ")
    assert r.overridden == ()


def test_every_marketplace_section_has_its_date_and_source() -> None:
    data = tomllib.loads((ROOT / "ipi" / "fees" / "rates.toml").read_text())
    for mp in marketplaces():
        assert data[mp]["currency"]
        for group in ("utilization", "aged", "low_inventory"):
            assert isinstance(data[mp][group]["effective"], date)
            assert data[mp][group]["source"]
        load_rates(mp)  # and it loads


def test_the_rates_file_ships_with_the_package() -> None:
    assert '"fees/*.toml"' in (ROOT / "pyproject.toml").read_text()


def test_an_unknown_marketplace_is_refused_with_those_known() -> None:
    with pytest.raises(ConfigError, match=r"no rates for marketplace 'XX'; ipi has them for US"):
        load_rates("XX")


def test_overrides_are_applied_and_named() -> None:
    r = load_rates("US", {"utilization": {"threshold_weeks": 24},
                          "aged": {"tiers": {"181-210": {"per_cuft": 0.6}}},
                          "low_inventory": {"floor_days": 30}})
    assert r.utilization_threshold_weeks == 24
    assert r.aged_tiers[0].per_cuft == 0.6 and r.aged_tiers[1].per_cuft == 1.00
    assert r.low_inventory_floor_days == 30
    assert r.overridden == ("fees.utilization.threshold_weeks",
                            "fees.aged.tiers.181-210.per_cuft", "fees.low_inventory.floor_days")
    assert load_rates("US").utilization_threshold_weeks == 22  # the file is untouched


@pytest.mark.parametrize("overrides, message", [
    ({"utilisation": {"threshold_weeks": 24}},
     "fees.utilisation: unknown key (did you mean 'utilization'?)"),
    ({"aged": {"tiers": {"181-211": {"per_cuft": 1}}}},
     "fees.aged.tiers.181-211: unknown key (did you mean '181-210'?)"),
    ({"aged": {"tiers": {"365+": {"per_unti": 1}}}},
     "fees.aged.tiers.365+.per_unti: unknown key (did you mean 'per_unit'?)"),
    ({"aged": "cheap"}, "fees.aged: expected a table of keys, got 'cheap'"),
    ({"low_inventory": {"floor_days": -1}}, "fees.low_inventory.floor_days: -1 must be above 0"),
    ({"aged": {"tiers": {"365+": {"per_cuft": "x"}}}},
     "fees.aged.tiers.365+.per_cuft: 'x' is not a number"),
    ({"aged": {"assessment_day": 31}},
     "fees.aged.assessment_day: 31 must be a whole number of days from 1 to 28"),
    ({"aged": {"effective": "2026-02-30"}}, "fees.aged.effective: '2026-02-30' is not a date"),
])
def test_a_bad_override_is_refused_naming_its_key(overrides: dict[str, Any],
                                                  message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_rates("US", overrides)
    assert str(exc.value).startswith(message)
