"""Amazon's fee rates are data (ipi/fees/rates.toml), with dates and sources; a seller's
overrides are laid on top and checked key by key."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ipi.errors import ConfigError
from ipi.fees import load_rates, marketplaces, periods

ROOT = Path(__file__).resolve().parents[2]


def test_us_rates_of_2026_as_published() -> None:
    r = load_rates("us")
    assert (r.marketplace, r.currency, r.period, r.effective) == (
        "US", "USD", "2026", date(2026, 1, 15))
    assert (r.utilization_threshold_weeks, r.utilization_excluded_newest_days) == (22, 30)
    assert [(t.label, t.first, t.last, t.per_cuft, t.per_unit) for t in r.aged_tiers] == [
        ("181-210", 181, 210, 0.50, None), ("211-240", 211, 240, 1.00, None),
        ("241-270", 241, 270, 1.50, None), ("271-300", 271, 300, 5.45, None),
        ("301-330", 301, 330, 5.70, None), ("331-365", 331, 365, 5.90, None),
        ("366-455", 366, 455, 6.90, 0.30), ("456+", 456, None, 7.90, 0.35)]
    assert r.aged_assessment_day == 15
    assert r.aged_exempt_tiers == {"181-210", "211-240", "241-270"}
    assert {"apparel", "shoes", "jewelry", "watches"} <= r.aged_exempt_groups
    assert r.utilization_surcharge == {
        "standard": ((22, 0.44), (28, 0.76), (36, 1.16), (44, 1.58), (52, 1.88)),
        "large_bulky": ((22, 0.23), (28, 0.46), (36, 0.63), (44, 0.76), (52, 1.26))}
    assert r.utilization_base_per_cuft == (0.78, 2.40)
    assert r.base_per_cuft(date(2026, 9, 30)) == 0.78 and r.base_per_cuft(
        date(2026, 10, 1)) == 2.40
    assert (r.low_inventory_floor_days, r.low_inventory_short_term_days,
            r.low_inventory_long_term_days, r.low_inventory_min_units_7_days) == (28, 30, 90, 20)
    assert r.low_inventory_per_unit == {
        "small_standard": ((14, 0.89), (21, 0.63), (28, 0.32)),
        "large_standard_3lb": ((14, 0.97), (21, 0.70), (28, 0.36)),
        "large_standard_20lb": ((14, 1.11), (21, 0.87), (28, 0.47))}
    for source in (r.source, r.utilization_source, r.aged_source, r.low_inventory_source):
        assert source.startswith("Seller Central help: ")
    assert r.overridden == () and r.newer is None


def test_a_day_is_charged_at_the_rates_in_force_that_day() -> None:
    """A backfilled 2025 day uses the 2024 section (365-plus at 0.15 a unit); the January
    2026 assessment the new one; a day before the oldest section is refused."""
    old = load_rates("US", on=date(2025, 6, 15))
    assert (old.period, old.effective, old.newer) == ("2024", date(2024, 4, 1),
                                                      date(2026, 1, 15))
    assert [(t.label, t.per_cuft, t.per_unit) for t in old.aged_tiers[-1:]] == [
        ("366+", 6.90, 0.15)]
    assert load_rates("US", on=date(2026, 1, 14)).period == "2024"
    assert load_rates("US", on=date(2026, 1, 15)).period == "2026"
    assert [p for p, _ in periods("US")] == ["2024", "2026"]
    with pytest.raises(ConfigError, match=r"no US rates for 2024-03-31 \(the oldest it holds "
                                          r"took effect on 2024-04-01\)"):
        load_rates("US", on=date(2024, 3, 31))


def test_an_override_of_a_tier_only_2026_has_leaves_older_days_alone() -> None:
    over = {"aged": {"tiers": {"456+": {"per_unit": 0.40}}}}
    assert load_rates("US", over).aged_tiers[-1].per_unit == 0.40
    assert load_rates("US", over, on=date(2025, 5, 15)).aged_tiers[-1].per_unit == 0.15


def test_every_marketplace_section_has_its_date_and_source() -> None:
    data = tomllib.loads((ROOT / "ipi" / "fees" / "rates.toml").read_text())
    for mp in marketplaces():
        assert data[mp]["currency"]
        for period, effective in periods(mp):
            section = data[mp][period]
            assert section["effective"] == effective and section["source"]
            for group in ("utilization", "aged", "low_inventory"):
                assert section[group]["source"]
            load_rates(mp, on=effective)  # and it loads


def test_no_section_charges_a_capacity_overage_fee() -> None:
    """Amazon stopped it on 2024-07-01: over a limit, new shipments are refused."""
    text = (ROOT / "ipi" / "fees" / "rates.toml").read_text().lower()
    assert "overage" not in text


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
    ({"aged": {"tiers": {"456+": {"per_unti": 1}}}},
     "fees.aged.tiers.456+.per_unti: unknown key (did you mean 'per_unit'?)"),
    ({"aged": "cheap"}, "fees.aged: expected a table of keys, got 'cheap'"),
    ({"low_inventory": {"floor_days": -1}}, "fees.low_inventory.floor_days: -1 must be above 0"),
    ({"aged": {"tiers": {"456+": {"per_cuft": "x"}}}},
     "fees.aged.tiers.456+.per_cuft: 'x' is not a number"),
    ({"utilization": {"surcharge": {"standard": [[28, 0.76], [22, 0.44]]}}},
     "fees.utilization.surcharge.standard: the bounds must rise from row to row"),
    ({"aged": {"exempt_tiers": ["181-211"]}},
     "fees.aged.exempt_tiers: '181-211' is not a tier (did you mean '181-210'?)"),
    ({"aged": {"assessment_day": 31}},
     "fees.aged.assessment_day: 31 must be a whole number of days from 1 to 28"),
])
def test_a_bad_override_is_refused_naming_its_key(overrides: dict[str, Any],
                                                  message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_rates("US", overrides)
    assert str(exc.value).startswith(message)
