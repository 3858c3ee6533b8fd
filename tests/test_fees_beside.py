"""Amazon's own fee forecast beside ipi's, leading where it exists; the per-SKU fee
calendar in `ipi fees calendar` and its JSON; a backfilled 2025 day charged at 2025 rates.
Every expected figure is worked out by hand from the rows written here."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from flows.cli import main
from ipi.api import Rows
from ipi.fees.amazon import store_preview
from ipi.fees.compute import Span
from ipi.fees.exposure import Beside, FeeExposure, Window
from ipi.settings import Settings
from ipi.store import Store
from ipi.store.accounts import account_store
from ipi.store.load import load_file

GOLDEN = (Path(__file__).resolve().parent / "data" / "reports"
          / "GET_FBA_INVENTORY_PLANNING_DATA" / "layout-2026.tsv")
DAY = date(2026, 11, 15)  # an assessment day: the window is that day alone


def _planning(folder: Path, day: date) -> Path:
    """The 2026 golden planning report (a hoodie of product group Apparel with 30 units of
    91-180 and 90 of 181-270 days; a lamp finial of 0.02 cu ft with 20 units of 366-455 and
    40 of 456+ days), dated ``day``."""
    path = folder / f"planning-{day}.tsv"
    path.write_text(GOLDEN.read_text().replace("2026-11-20", day.isoformat()))
    return path


def _record(sku: str, **fees: float) -> str:
    names = {"aged": "AGED_INVENTORY_SURCHARGE", "low": "LOW_INVENTORY_LEVEL_FEE"}
    return json.dumps({"startDate": str(DAY), "endDate": str(DAY),
                       "marketplaceId": "ATVPDKIKX0DER", "msku": sku,
                       "fees": [{"feeTypeName": names[k], "charges": [{"aggregatedDetail": {
                           "totalAmount": {"amount": v, "currencyCode": "USD"}}}]}
                           for k, v in fees.items()]})


def _amazon_forecasts(store: Store) -> None:
    """Amazon's preview for DAY: 19.00 of aged surcharge for the lamp, 0.50 for the hoodie."""
    store_preview(store, "acme", "US", DAY, DAY, DAY,
                  "\n".join([_record("US-LAMP-OLD", aged=19.0),
                             _record("US-HOODIE-M", aged=0.5)]).encode())


def _us(settings: Settings, day: date | None = None) -> FeeExposure:
    """The one marketplace's fee exposure, as ``Rows.capacity`` gives it."""
    [us] = Rows(settings).capacity("acme", day=day).fees
    assert isinstance(us, FeeExposure)
    return us


@pytest.fixture
def seller(make_settings: Callable[..., tuple[Settings, Path]],
           tmp_path: Path) -> tuple[Settings, Path, Store]:
    settings, config = make_settings()
    store = account_store(settings, "acme")
    store.migrate()
    load_file(store, "acme", _planning(tmp_path, DAY), ingest_day=DAY,
              default_marketplace="US")
    return settings, config, store


def test_amazons_forecast_leads_and_ipis_explains_it(
        seller: tuple[Settings, Path, Store], capsys: pytest.CaptureFixture[str]) -> None:
    """ipi on 2026-11-15, at 2026 rates: the lamp pays max(20 x 0.02 x 6.90, 20 x 0.30) =
    6.00 and max(40 x 0.02 x 7.90, 40 x 0.35) = 14.00; the hoodie's units are all in
    181-270 days, where apparel is not charged: 20.00 in all. Amazon forecasts 19.00 for
    the lamp and 0.50 for the hoodie: 19.50 leads, ipi's 20.00 is 0.50 over it. Amazon
    gave no utilization or low-inventory figure for the window: 0 by Amazon."""
    settings, config, store = seller
    _amazon_forecasts(store)
    us = _us(settings)
    assert us.window == Window(DAY, DAY, 1)
    rows = {r.fee: r for r in us.compare}
    aged = rows["aged"]
    assert aged.headline == "amazon" and aged.amazon == pytest.approx(19.5)
    assert aged.ipi is not None and aged.difference is not None
    assert (aged.ipi.low, aged.ipi.high) == (pytest.approx(20.0), pytest.approx(20.0))
    assert (aged.difference.low, aged.difference.high) == (pytest.approx(0.5),
                                                           pytest.approx(0.5))
    assert rows["low_inventory"].amazon == 0.0
    assert {s.sku: s.amazon_forecast for s in us.aged.skus} == {
        "US-LAMP-OLD": 19.0}  # the hoodie has no units charged by ipi: not listed
    assert main(["capacity", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert ("aged inventory surcharge: 19.50 USD by Amazon's forecast (ipi: 20.00 USD) (if "
            "nothing sells before)" in out)
    assert "aged US-LAMP-OLD: 60 units aged into a charged tier, 20.00 USD; Amazon's " \
           "forecast 19.00 USD" in out
    assert "US aged inventory surcharge on 2026-11-15: 19.50 USD by Amazon's forecast " \
           "(ipi: 20.00 USD) if nothing sells before" in out


def test_without_amazons_forecast_ipis_figure_leads(
        seller: tuple[Settings, Path, Store]) -> None:
    settings, _, _ = seller
    us = _us(settings)
    assert us.amazon is None
    assert {r.fee: (r.headline, r.amazon) for r in us.compare} == {
        "aged": ("ipi", None), "utilization": ("ipi", None), "low_inventory": ("ipi", None)}


def test_an_earlier_cycles_forecast_is_not_compared(
        seller: tuple[Settings, Path, Store]) -> None:
    """A preview fetched on 2026-10-10 was for the window to 2026-10-15: not this one's,
    so ipi's figure leads."""
    settings, _, store = seller
    store_preview(store, "acme", "US", date(2026, 10, 10), date(2026, 10, 10),
                  date(2026, 10, 15), _record("US-LAMP-OLD", aged=3.0).encode())
    us = _us(settings)
    assert us.amazon is None and us.compare[0].headline == "ipi"


def test_the_fee_calendar_in_the_cli_and_its_json(
        seller: tuple[Settings, Path, Store], capsys: pytest.CaptureFixture[str]) -> None:
    """On the assessment day itself nothing can sell before: the lamp's 20.00 stands at
    pace; 60 units to sell or remove. It sells 1 a month against 60 on hand: Amazon's
    days-of-supply 2,700, ageing into the surcharge. The hoodie pays nothing (apparel)
    and its 280 days of supply are past the surcharge start too."""
    _, config, _ = seller
    assert main(["fees", "calendar", "--json", "--config", str(config)]) == 0
    [us] = json.loads(capsys.readouterr().out)
    assert (us["marketplace"], us["assessment"], us["currency"]) == ("US", str(DAY), "USD")
    rows = {r["sku"]: r for r in us["rows"]}
    lamp = rows["US-LAMP-OLD"]
    assert (lamp["tier"], lamp["charge"], lamp["charge_at_pace"], lamp["to_act"]) == (
        "456+", pytest.approx(20.0), pytest.approx(20.0), pytest.approx(60))
    assert (lamp["days_of_supply"], lamp["zone"]) == (2700, "ageing into the surcharge")
    hoodie = rows["US-HOODIE-M"]
    assert (hoodie["charge"], hoodie["zone"]) == (0.0, "ageing into the surcharge")
    assert [r["sku"] for r in us["rows"]] == ["US-LAMP-OLD", "US-HOODIE-M"]
    assert main(["fees", "calendar", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "US: the assessment on 2026-11-15 (planning report of 2026-11-15)" in out
    lamp_line = next(line for line in out.splitlines() if line.startswith("US-LAMP-OLD"))
    assert lamp_line.split() == ["US-LAMP-OLD", "456+", "60", "20.00", "0", "20.00", "60",
                                 "2,700", "ageing", "into", "the", "surcharge"]


def test_a_backfilled_2025_day_is_charged_at_2025_rates(
        make_settings: Callable[..., tuple[Settings, Path]], tmp_path: Path) -> None:
    """2025-05-15: the 2024 section. The 2026 layout's buckets read as "366+": 60 units of
    0.02 cu ft: max(60 x 0.02 x 6.90 = 8.28, 60 x 0.15 = 9.00) = 9.00 (at 2026 rates,
    20.00)."""
    settings, _ = make_settings()
    store = account_store(settings, "acme")
    store.migrate()
    day = date(2025, 5, 15)
    load_file(store, "acme", _planning(tmp_path, day), ingest_day=day,
              default_marketplace="US")
    us = _us(settings, day)
    assert us.rates["period"] == "US rates in force from 2024-04-01"
    assert us.aged.total == pytest.approx(9.0)


def test_the_report_sets_amazons_forecast_beside_and_shows_the_calendar(
        seller: tuple[Settings, Path, Store]) -> None:
    """The report (HTML and markdown): Amazon's 19.50 leads in bold, ipi's 20.00 beside,
    0.50 apart; the lamp's calendar row: 456+, 20.00 if none sell and at pace, 60 units."""
    from ipi import page

    settings, _, store = seller
    _amazon_forecasts(store)
    account = settings.accounts[0]
    secs = page.sections(store, settings, account)
    html = page.render(account, settings, secs, None)
    assert ("<tr><td>aged inventory surcharge</td><td class=num><strong>19.50 USD</strong>"
            "</td><td class=num>20.00 USD</td><td class=num>0.50 USD</td></tr>") in html
    assert ("<tr><td>US-LAMP-OLD</td><td>456+</td><td class=num>20.00 USD</td>"
            "<td class=num>20.00 USD</td><td class=num>60</td><td class=num>2,700</td>"
            "<td>ageing into the surcharge</td></tr>") in html
    text = page.markdown(account, settings, secs, None)
    assert ("| aged inventory surcharge | **19.50 USD** | 20.00 USD | 0.50 USD |") in text
    assert ("| US-LAMP-OLD | 456+ | 20.00 USD | 20.00 USD | 60 | 2,700 | "
            "ageing into the surcharge |") in text


def test_per_sku_amazons_forecast_stands_beside_ipis(
        seller: tuple[Settings, Path, Store]) -> None:
    """Per SKU and fee, the largest first: the lamp's aged surcharge 19.00 by Amazon, 20.00
    by ipi; the hoodie's 0.50 by Amazon, 0 by ipi (apparel, not charged in 181-270 days):
    a difference to look into, in the report, its markdown and on the dashboard."""
    import httpx

    from ipi import page
    from ipi.web import start

    settings, _, store = seller
    _amazon_forecasts(store)
    us = _us(settings)
    lamp, hoodie = us.beside
    assert lamp.ipi is not None
    assert (lamp.sku, lamp.fee, lamp.ipi.low, lamp.ipi.high, lamp.amazon) == (
        "US-LAMP-OLD", "aged", pytest.approx(20.0), pytest.approx(20.0), 19.0)
    assert hoodie == Beside("US-HOODIE-M", "aged", Span(0.0, 0.0), 0.5)
    account = settings.accounts[0]
    secs = page.sections(store, settings, account)
    html = page.render(account, settings, secs, None)
    assert ("<tr><td>US-HOODIE-M</td><td>aged inventory surcharge</td><td class=num>"
            "<strong>0.50 USD</strong></td><td class=num>0.00 USD</td></tr>") in html
    assert ("| US-LAMP-OLD | aged inventory surcharge | **19.00 USD** | 20.00 USD |"
            in page.markdown(account, settings, secs, None))
    handle = start(settings, port=0)
    try:
        body = httpx.get(f"{handle.url}/accounts/acme", timeout=30).text
    finally:
        handle.stop()
    table = body.split('id="beside-US"')[1].split("</table>")[0]
    assert ('<td class="sku">US-LAMP-OLD</td><td>aged inventory surcharge</td>'
            '<td class="num"><strong>19.00 USD</strong></td><td class="num">20.00 USD</td>'
            in table)
