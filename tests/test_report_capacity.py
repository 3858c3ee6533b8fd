"""The seller's page's "Capacity and fees": every figure as ``Rows.capacity`` tells it, a
missing one as "no data", never 0."""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Callable
from html import escape
from pathlib import Path

import pytest

from flows.cli import main
from ipi import page, pipeline
from ipi.api import Rows
from ipi.capacity.limits import set_limit
from ipi.demo import Simulation
from ipi.settings import Settings

TWO_MARKETPLACES = '[[accounts]]\nname = "acme"\nmarketplaces = ["US", "DE"]\n'


@pytest.fixture
def demo(make_settings: Callable[..., tuple[Settings, Path]],
         scored_demo_data: Path) -> Callable[..., tuple[Settings, Path]]:
    """The scored demo seller under a configuration of the test's own (``make_settings``'
    arguments)."""

    def make(**kwargs: str) -> tuple[Settings, Path]:
        settings, config = make_settings(**kwargs)
        shutil.copytree(scored_demo_data, settings.data_dir)
        return settings, config

    return make


def _capacity_html(html: str) -> str:
    return html.split("<h2 id=capacity>Capacity and fees</h2>")[1]


def _storage_row(html: str, kind: str) -> str:
    found = re.search(rf"<tr class=st-\w+><td>{kind}</td>.*?</tr>", _capacity_html(html))
    assert found, f"no {kind} row"
    return found[0]


@pytest.mark.parametrize(("share", "status", "tone"), [(0.95, "warning", "warn"),
                                                       (1.25, "over", "bad")])
def test_a_low_limit_recorded_shows_use_limit_and_status_on_the_page(
        demo: Callable[..., tuple[Settings, Path]], tmp_path: Path,
        capsys: pytest.CaptureFixture[str], share: float, status: str, tone: str) -> None:
    """`ipi report` after `ipi capacity set`: the used cubic feet, the limit with its
    source, the share and a status that stands out, as the library computes them."""
    settings, config = demo()
    rows = Rows(settings)
    [before] = rows.capacity("acme").storage
    assert before.storage_type == "standard" and before.used_cuft > 0
    # A limit the day's use fills to ``share``: recorded for the newest report's month.
    limit = math.ceil(before.used_cuft / share)
    with pipeline.open_store(settings, settings.accounts[0]).write() as con:
        set_limit(con, "acme", "standard", f"{before.day:%Y-%m}", limit)
    at = rows.capacity("acme")
    [s] = at.storage
    assert (s.status, s.limit_cuft, s.limit_source) == (status, limit, "recorded")

    assert main(["report", "--config", str(config), "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    html = (tmp_path / "ipi-report-acme.html").read_text(encoding="utf-8")
    row = _storage_row(html, "standard")
    assert f"<tr class=st-{tone}>" in row
    assert f"<td class=num>{s.used_cuft:,.0f}<br>" in row
    assert (f"{s.on_hand_cuft:,.0f} on hand + {s.inbound_cuft:,.0f} inbound") in row
    assert f"<td class=num>{limit:,} <span class=note>(recorded)</span></td>" in row
    assert f"<td class=num>{s.share:.0%}</td>" in row
    assert f"<span class='status {tone}'>{status}</span>" in row
    assert f"{s.projected_cuft:,.0f} ({s.projected_share:.0%})" in row
    assert f"<th class=num>by {s.month_end}</th>" in _capacity_html(html)
    # The storage line leads the "at risk" card, in the card's tone.
    card = re.search(r"<div class='card (\w+)'><strong>At risk</strong>(.*?)</div>",
                     _capacity_html(html))
    assert card and card[1] == tone and escape(s.describe()) in card[2]
    assert "ipi capacity set --storage-type" not in html  # a limit is recorded
    assert page.CONTEXT in html
    # The Prefect artifact says the same.
    md = page.markdown(settings.accounts[0], settings,
                       page.sections(pipeline.open_store(settings, settings.accounts[0]), settings,
                                     settings.accounts[0]), None)
    assert (f"| standard | {s.used_cuft:,.0f} | {limit:,} (recorded) | "
            f"{s.share:.0%} | {s.projected_cuft:,.0f} | {status} |") in md


def test_the_page_shows_the_fees_with_their_sums_and_the_skus_to_act_on(
        demo: Callable[..., tuple[Settings, Path]], tmp_path: Path) -> None:
    """The aged surcharge at the next assessment, its SKUs in the library's order with
    money to two decimals and the currency, the utilization ratio against its threshold
    with its note, and the low-inventory counts."""
    settings, _ = demo()
    account = settings.accounts[0]
    [us] = Rows(settings).capacity("acme").fees
    a, u, low = us.aged, us.utilization, us.low_inventory
    assert a.total and a.skus and u.ratio is not None  # the demo has all three
    html = _capacity_html(page.render(account, settings, page.sections(
        pipeline.open_store(settings, account), settings, account), None))
    fees = html.split(f"<h3>US fees on {us.date}</h3>")[1]
    assert (f"at the assessment on {a.assessment_day}: about {a.total:,.2f} USD if "
            "nothing sells before.") in fees
    assert "Amazon's own estimate" not in fees  # the demo's reports carry none
    aged = fees.split(f"Sell or remove before {a.assessment_day}")[1]
    assert re.findall(r"<tr><td>(DEMO-\d+)</td>", aged) == [s.sku for s in a.skus]
    for s in a.skus:
        assert (f"<tr><td>{s.sku}</td><td class=num>{s.units:,.0f}</td>"
                f"<td class=num>{s.charge:,.2f} USD</td></tr>") in fees
    assert (f"Storage utilization ratio</strong>: {u.ratio:.1f} weeks, against a "
            f"threshold of {u.threshold_weeks:g} weeks") in fees
    assert u.note and escape(u.note[1:]) in fees
    assert (f"{low.at_risk} SKU(s) at risk (under {low.floor_days:g} days of supply on "
            f"both views), {low.unknown} without both views (no data)") in fees


def test_without_a_limit_or_rates_or_enough_days_the_page_says_no_data_never_0(
        demo: Callable[..., tuple[Settings, Path]], demo_sim: Simulation) -> None:
    """Five days in: no limit recorded (the status says so and the page says how to
    record one), too few days for a projection or a utilization ratio (no data, with
    why), and DE, which ipi has no fee rates for, shows its note."""
    settings, _ = demo(accounts=TWO_MARKETPLACES)
    account = settings.accounts[0]
    day = demo_sim.day(4)
    at = Rows(settings).capacity("acme", day=day)
    [s] = at.storage
    us, de = at.fees
    assert (s.status, s.limit_cuft, s.share, s.projected_cuft) == (
        "no limit", None, None, None)
    assert us.utilization.ratio is None and de.date is None

    secs = page.sections(pipeline.open_store(settings, account), settings, account, day)
    html = page.render(account, settings, secs, None)
    row = _storage_row(html, "standard")
    assert f"<td class=num>{s.used_cuft:,.0f}<br>" in row
    assert "<td class=num>none recorded</td><td class=num>no data</td>" in row
    assert f"<td class=num>no data<br><span class=note>{s.projection_note}</span>" in row
    assert "<span class='status none'>no limit</span>" in row
    assert "0%" not in row
    assert (f"<code>{page.SET_LIMIT}</code>" in html
            and "--storage-type standard --month YYYY-MM --limit CUFT" in page.SET_LIMIT)
    assert "Storage utilization ratio</strong>: no data, against a threshold" in html
    assert escape(us.utilization.note[1:]) in html  # why: too few days stored
    assert f"<h3>DE fees</h3><p>{escape(de.note[:1].upper() + de.note[1:])}.</p>" in html
    md = page.markdown(account, settings, secs, None)
    assert f"DE fees: {de.note}." in md and f"`{page.SET_LIMIT}`" in md
    assert "| none recorded | no data | no data | no limit |" in md


def test_an_account_without_reports_says_there_are_no_capacity_figures_yet(
        make_settings: Callable[..., tuple[Settings, Path]], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _, config = make_settings()
    assert main(["report", "--config", str(config), "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    html = _capacity_html((tmp_path / "ipi-report-acme.html").read_text())
    assert "No data: no planning report stored, so no capacity figures yet" in html
    assert "<h3>US fees</h3><p>No data: no planning report stored.</p>" in html
    assert "<table>" not in html
