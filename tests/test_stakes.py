"""What the score costs: capacity use per storage type, its projection and warning, and
the fees at risk, read from stored planning reports. The expected figures are worked out
by hand in each test from the rows it writes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from flows.cli import main
from ipi.alerts.message import render
from ipi.api import Rows
from ipi.capacity.limits import set_limit
from ipi.capacity.usage import usage
from ipi.fees.exposure import FeeExposure, LowRisk
from ipi.settings import Settings
from ipi.store import Store
from ipi.store.load import load_file
from ipi.testing import planning_report

DAY = date(2026, 11, 10)  # in the past: ipi refuses report days after tomorrow

# A: 110 units on hand, Amazon's storage-volume 22.0 cu ft; inbound 5 + 10 + 5 units of
#    0.2 cu ft (inbound-quantity 99 is the older total, not used when the split is there).
# B: 50 units of 0.01 cubic meters (0.353147 cu ft), no storage-volume; 10 inbound.
# C: 30 units without any volume: left out, counted.
# D: oversize, no volume at all: the type has no use to show.
ROWS = [
    {"sku": "A", "available": 100, "Total Reserved Quantity": 10, "inbound-quantity": 99,
     "inbound-working": 5, "inbound-shipped": 10, "inbound-received": 5,
     "storage-type": "Standard", "storage-volume": "22.0", "item-volume": "0.2",
     "volume-unit-measurement": "cubic feet", "inv-age-91-to-180-days": 30,
     "inv-age-181-to-270-days": 0, "inv-age-271-to-365-days": 0,
     "inv-age-366-to-455-days": 0, "inv-age-456-plus-days": 0,
     "estimated-ais-181-210-days": "0.25", "short-term-historical-days-of-supply": 10,
     "long-term-historical-days-of-supply": 20},
    {"sku": "B", "available": 50, "inbound-quantity": 10, "storage-type": "standard",
     "item-volume": "0.01", "volume-unit-measurement": "cubic meters",
     "inv-age-91-to-180-days": 0, "inv-age-181-to-270-days": 0,
     "inv-age-271-to-365-days": 0, "inv-age-366-to-455-days": 0,
     "inv-age-456-plus-days": 0, "historical-days-of-supply": 40},
    {"sku": "C", "available": 30, "storage-type": "Standard", "inv-age-91-to-180-days": 0,
     "inv-age-181-to-270-days": 10, "inv-age-271-to-365-days": 0,
     "inv-age-366-to-455-days": 0, "inv-age-456-plus-days": 0},
    {"sku": "D", "available": 4, "storage-type": "Oversize"},
]
B_CUFT = 0.01 * 35.3147


@pytest.fixture
def golden(make_settings: Callable[..., tuple[Settings, Path]],
           tmp_path: Path) -> tuple[Settings, Path, Store]:
    settings, config = make_settings(accounts=(
        '[[accounts]]\nname = "acme"\nmarketplaces = ["US"]\n'
        "capacity = { oversize = 10 }\n"))
    store = Rows(settings).store("acme")
    load_file(store, "acme", planning_report(tmp_path, DAY, ROWS), ingest_day=DAY,
              default_marketplace="US")
    return settings, config, store


def test_usage_per_storage_type_by_hand(golden: tuple[Settings, Path, Store]) -> None:
    """On hand from storage-volume, else item-volume x units (cubic meters converted);
    inbound from the working/shipped/received split, else inbound-quantity."""
    _, _, store = golden
    with store.read() as con:
        got = {r.storage_type: r for r in usage(con, "acme", DAY, DAY)}
    std = got["standard"]
    assert std.on_hand_cuft == pytest.approx(22.0 + 50 * B_CUFT)
    assert std.inbound_cuft == pytest.approx(20 * 0.2 + 10 * B_CUFT)
    assert std.used_cuft == pytest.approx(22.0 + 4.0 + 60 * B_CUFT)
    assert (std.skus, std.skus_unknown) == (3, 1)  # C counted as unknown, not as 0
    assert got["oversize"].used_cuft is None and got["oversize"].skus_unknown == 1


def test_a_recorded_limit_warns_at_ninety_percent_and_missing_use_is_no_data(
        golden: tuple[Settings, Path, Store]) -> None:
    settings, _, store = golden
    used = 26.0 + 60 * B_CUFT  # 47.19 cu ft
    with store.write() as con:
        set_limit(con, "acme", "standard", "2026-11", 50)  # 94 %: past 90 %
        set_limit(con, "acme", "standard", "2026-12", 500)  # another month: not this one's
    storage = {s.storage_type: s for s in Rows(settings).capacity("acme").storage}
    std = storage["standard"]
    assert (std.limit_cuft, std.limit_source, std.status) == (50.0, "recorded", "warning")
    assert std.share == pytest.approx(used / 50)
    assert std.projection_note and "1 day(s) of use" in std.projection_note
    over = storage["oversize"]  # a standing limit from the configuration, no volume known
    assert (over.used_cuft, over.share, over.limit_source, over.status) == (
        None, None, "config", "no data")
    with store.write() as con:
        set_limit(con, "acme", "standard", "2026-11", 47)
    assert Rows(settings).capacity("acme").storage[0].status == "over"
    with store.write() as con:
        set_limit(con, "acme", "standard", "2026-11", 60)  # 79 %, and no trend yet
    assert Rows(settings).capacity("acme").storage[0].status == "ok"


def test_a_rising_use_warns_from_its_projection_to_the_month_end(
        make_settings: Callable[..., tuple[Settings, Path]], tmp_path: Path) -> None:
    """10 cu ft on Nov 1, one more each day: 19 on Nov 10 (48 % of 40), and at that pace
    39 on Nov 30, past 90 % of the limit: a warning before the use itself gets there."""
    settings, _ = make_settings()
    store = Rows(settings).store("acme")
    for i in range(10):
        d = date(2026, 11, 1) + timedelta(days=i)
        load_file(store, "acme", planning_report(tmp_path, d, [
            {"sku": "A", "available": 10, "inbound-quantity": 0, "storage-type": "Standard",
             "storage-volume": 10 + i}]), ingest_day=d, default_marketplace="US")
    with store.write() as con:
        set_limit(con, "acme", "standard", "2026-11", 40)
    [std] = Rows(settings).capacity("acme").storage
    assert std.used_cuft == pytest.approx(19.0)
    assert std.month_end == date(2026, 11, 30)
    assert std.projected_cuft == pytest.approx(39.0)
    assert std.status == "warning" and "past the 90% warning" in std.describe()


def test_fees_by_hand_with_missing_inputs_as_no_data(
        golden: tuple[Settings, Path, Store]) -> None:
    """Aged surcharge on Nov 15: A's 30 units of 91-180 days are 96-185 then; 5 of those 90
    days lie in 181-210 ($0.50/cu ft): 30 x 5/90 x 0.2 cu ft x 0.50 = $0.1667. C's 10 aged
    units have no volume, D's ages are not given: the total is unknown (None), the known
    part $0.1667."""
    settings, _, _ = golden
    [us] = Rows(settings).capacity("acme").fees
    assert isinstance(us, FeeExposure)
    aged = us.aged
    assert aged.assessment_day == date(2026, 11, 15)
    assert aged.total is None and aged.skus_unknown == ["C", "D"]
    assert aged.total_known == pytest.approx(30 * 5 / 90 * 0.2 * 0.50)
    assert aged.amazon_total == pytest.approx(0.25)  # Amazon's own, beside
    # C's 181-270 days are 186-275 on the 15th: 25, 30, 30 and 5 of its 90 days per tier.
    assert [(t.tier, t.units, t.charge) for t in aged.tiers] == [
        ("181-210", pytest.approx(30 * 5 / 90 + 10 * 25 / 90), None),
        ("211-240", pytest.approx(10 * 30 / 90), None),
        ("241-270", pytest.approx(10 * 30 / 90), None),
        ("271-300", pytest.approx(10 * 5 / 90), None)]
    # One day stored, not 91: the utilization ratio is no data, not 0 weeks.
    util = us.utilization
    assert (util.ratio, util.over) == (None, None)
    assert util.note == "no data: 1 of the 91 days of on-hand volume stored"
    # A: both views under 28 days -> at risk; B: 40 days clears it; C, D: no data.
    low = us.low_inventory
    assert (low.at_risk, low.unknown) == (1, 2)
    assert low.skus == [LowRisk("A", "both views under 28 days")]


def test_ipi_capacity_prints_the_figures_and_json(
        golden: tuple[Settings, Path, Store], capsys: pytest.CaptureFixture[str]) -> None:
    _, config, store = golden
    with store.write() as con:
        set_limit(con, "acme", "standard", "2026-11", 50)
    assert main(["capacity", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "standard      47            50" in out and "warning" in out
    assert "oversize      no data" in out  # never 0
    assert "the planning report's estimated-ais columns: 0.25 USD" in out
    assert ("US fees from 2026-11-10 to the next assessment on 2026-11-15 (6 days, at the US "
            "rates in force from 2026-01-15):") in out
    assert "(Amazon's own forecast: none stored; SP-API accounts fetch it daily)" in out
    assert "1 SKU(s) at risk" in out
    assert main(["capacity", "show", "--json", "--config", str(config)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["storage"][0]["status"] == "warning"
    assert data["fees"][0]["utilization"]["ratio"] is None
    assert any(line.startswith("standard storage: 47 cu ft") for line in data["lines"])


def test_ipi_capacity_on_a_bad_date_is_one_line_exit_2(
        golden: tuple[Settings, Path, Store], capsys: pytest.CaptureFixture[str]) -> None:
    _, config, _ = golden
    assert main(["capacity", "--date", "tomorrow", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "tomorrow" in err


def test_a_bad_capacity_or_fee_setting_is_refused_when_the_config_is_read(
        make_settings: Callable[..., tuple[Settings, Path]]) -> None:
    from ipi.errors import ConfigError

    with pytest.raises(ConfigError, match="storage type 'standart' is not one Amazon limits"):
        make_settings(accounts='[[accounts]]\nname = "acme"\ncapacity = { standart = 5 }\n')
    with pytest.raises(ConfigError, match=r"fees.aged.assesment_day: unknown key"):
        make_settings(extra="[fees.US.aged]\nassesment_day = 10\n")
    with pytest.raises(ConfigError, match="warn_share"):
        make_settings(extra="[capacity]\nwarn_share = 1.5\n")


def test_an_alert_message_carries_what_is_at_stake() -> None:
    from ipi.alerts.message import Notice
    from ipi.alerts.rules import BELOW_THRESHOLD
    from ipi.score import DailyScore

    row = DailyScore(account="acme", marketplace="US", date=DAY, score=420.0, score_low=380.0,
                     score_high=460.0, status="ok", model="prior")
    notice = Notice("US", "firing", row, 450.0, since=DAY, rule=BELOW_THRESHOLD)
    line = "standard storage: 47 cu ft used on 2026-11-10 of 50 (94%): past the 90% warning"
    msg = render("acme", DAY, [notice], {}, stakes=[line])
    assert f"At stake beyond the score:\n  - {line}" in msg.text
    assert line in msg.short and line in msg.html
    assert msg.event["at_stake"] == [line]
    assert "moved its published IPI threshold" in msg.text
    assert "At stake" not in render("acme", DAY, [notice], {}).text


def test_the_utilization_ratio_from_91_stored_days_by_hand(
        make_settings: Callable[..., tuple[Settings, Path]], tmp_path: Path) -> None:
    """91 days of 14 cu ft on hand (none aged 0-30 days, the bucket given) over 90 units
    of 0.1 cu ft shipped in 90 days (0.1 cu ft a day): 14 / 0.1 / 7 = 20 weeks, under the
    22-week threshold; with the threshold overridden to 18 it is over."""
    settings, _ = make_settings(extra="[fees.US.utilization]\nthreshold_weeks = 18\n")
    store = Rows(settings).store("acme")
    last = date(2026, 11, 20)
    for i in range(91):
        d = last - timedelta(days=90 - i)
        load_file(store, "acme", planning_report(tmp_path, d, [
            {"sku": "A", "available": 140, "units-shipped-t90": 90, "inbound-quantity": 0,
             "storage-type": "Standard", "storage-volume": 14, "item-volume": 0.1,
             "inv-age-0-to-30-days": 0}]), ingest_day=d, default_marketplace="US")
    [us] = Rows(settings).capacity("acme").fees
    assert isinstance(us, FeeExposure)
    util = us.utilization
    assert util.ratio == pytest.approx(20.0)
    assert (util.threshold_weeks, util.over, util.days) == (18.0, True, 91)
    assert util.note == ""  # the 0-30 bucket was there to leave out


def test_without_fees_only_the_storage_types_with_a_limit_and_no_fees(
        golden: tuple[Settings, Path, Store]) -> None:
    """What the alert step reads every run: the types that can warn (oversize has the
    configuration's limit, standard none yet), nothing of the fees; with no limit at all,
    nothing."""
    from ipi.stakes import stakes

    settings, _, store = golden
    acme = settings.accounts[0]
    bare = acme.model_copy(update={"capacity": {}})
    with store.read() as con:
        assert stakes(con, settings, bare, DAY, fees=False).storage == []
        lean = stakes(con, settings, acme, DAY, fees=False)
        full = stakes(con, settings, acme, DAY)
    assert [s.storage_type for s in lean.storage] == ["oversize"]
    assert [s.storage_type for s in full.storage] == ["standard", "oversize"]
    assert lean.fees == [] and full.fees[0].marketplace == "US"
    with store.write() as con:
        set_limit(con, "acme", "standard", "2026-11", 50)
    with store.read() as con:
        lean = stakes(con, settings, bare, DAY, fees=False)
    assert [s.storage_type for s in lean.storage] == ["standard"]
    assert lean.storage[0].status == "warning" and lean.lines


def test_stakes_are_typed_results_and_their_json_keeps_its_shape(
        golden: tuple[Settings, Path, Store], capsys: pytest.CaptureFixture[str]) -> None:
    """The library hands dataclasses across its layers (outlooks, fee exposures, notes);
    `ipi capacity --json` writes the keys scripts already read, amounts as low and high."""
    from ipi.capacity.usage import Outlook
    from ipi.fees.compute import CalendarRow, Span
    from ipi.stakes import FeeNote, Stakes, stakes

    settings, config, store = golden
    acme = settings.accounts[0]
    two = acme.model_copy(update={"marketplaces": ["US", "JP"]})
    with store.read() as con:
        at = stakes(con, settings, two, DAY)
    assert isinstance(at, Stakes) and all(isinstance(s, Outlook) for s in at.storage)
    us, jp = at.fees
    assert isinstance(us, FeeExposure) and isinstance(jp, FeeNote) and jp.date is None
    assert all(isinstance(r, CalendarRow) for r in us.calendar)
    assert all(r.ipi is None or isinstance(r.ipi, Span) for r in us.compare)
    assert main(["capacity", "show", "--json", "--config", str(config)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"account", "storage", "fees", "lines"}
    assert set(data["storage"][0]) == {
        "storage_type", "date", "used_cuft", "on_hand_cuft", "inbound_cuft", "skus_unknown",
        "limit_cuft", "limit_source", "share", "month_end", "projected_cuft", "projected_low",
        "projected_high", "projected_share", "projection_note", "warn_share", "status",
        "line"}
    [fees] = data["fees"]
    assert set(fees) == {"marketplace", "date", "currency", "window", "aged", "utilization",
                         "low_inventory", "amazon", "compare", "calendar", "beside", "rates"}
    assert fees["window"] == {"start": "2026-11-10", "end": "2026-11-15", "days": 6}
    assert set(fees["aged"]) == {"assessment_day", "total", "total_known", "skus_unknown",
                                 "amazon_total", "tiers", "skus"}
    assert set(fees["aged"]["tiers"][0]) == {"tier", "units", "cuft", "charge"}
    assert set(fees["aged"]["skus"][0]) == {"sku", "units", "charge", "amazon",
                                            "amazon_forecast"}
    assert set(fees["utilization"]) == {"ratio", "threshold_weeks", "over", "days", "note",
                                        "surcharge", "surcharge_note", "skus"}
    assert set(fees["low_inventory"]) == {
        "floor_days", "at_risk", "unknown", "skus", "amazon_applied", "amazon_applied_count",
        "fee", "fee_skus"}
    assert fees["low_inventory"]["skus"] == [{"sku": "A", "reason": "both views under 28 days"}]
    aged = fees["compare"][0]
    assert set(aged) == {"fee", "ipi", "amazon", "difference", "headline", "note"}
    assert set(aged["ipi"]) == {"low", "high"}
    assert set(fees["calendar"][0]) == {"sku", "assessment", "tier", "units", "charge",
                                        "expected_sales", "charge_at_pace", "to_act",
                                        "days_of_supply", "zone"}
    assert set(fees["rates"]) == {"period", "source", "aged", "utilization", "low_inventory"}
