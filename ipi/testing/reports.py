"""Report bodies for tests: Amazon's names for what it serves, a planning report built
from a few hand-written rows, and a day of the demo seller served by the fake SP-API.

The report types and marketplace ids are spelled out here rather than taken from
``ipi.reports``: a test double says what Amazon sends, so that a typo in the code under
test fails a test instead of agreeing with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from ipi.demo import Simulation, write_day

if TYPE_CHECKING:
    from ipi.testing.sp_api import FakeSpApi

PLANNING = "GET_FBA_INVENTORY_PLANNING_DATA"
STRANDED = "GET_STRANDED_INVENTORY_UI_DATA"
MYI = "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA"
REPORT_TYPES = (PLANNING, STRANDED, MYI)

MARKETPLACE_IDS = {"US": "ATVPDKIKX0DER", "CA": "A2EUQ1WTGCTBG2", "MX": "A1AM78C64UM0Y8",
                   "UK": "A1F83G8C2ARO7P", "DE": "A1PA6795UKMFR9", "FR": "A13V1IB3VIYZZH",
                   "IT": "APJ6JRA9NG5V4", "ES": "A1RKKUPIHCS9HS"}

#: The planning report's columns that capacity and the fees at risk read, in a layout
#: Amazon has served: the inbound split (working, shipped, received) beside the older
#: total, and the 2026 columns (the two historical days of supply, stock aged 0-30 days).
PLANNING_COLUMNS = (
    "snapshot-date", "sku", "asin", "marketplace", "available", "Total Reserved Quantity",
    "unfulfillable-quantity", "inbound-quantity", "inbound-working", "inbound-shipped",
    "inbound-received", "units-shipped-t30", "units-shipped-t60", "units-shipped-t90",
    "estimated-excess-quantity", "days-of-supply", "recommended-action", "sell-through",
    "healthy-inventory-level", "weeks-of-cover-t90", "inv-age-0-to-90-days",
    "inv-age-91-to-180-days", "inv-age-181-to-270-days", "inv-age-271-to-365-days",
    "inv-age-366-to-455-days", "inv-age-456-plus-days", "storage-type", "storage-volume",
    "item-volume", "volume-unit-measurement", "estimated-ais-181-210-days",
    "historical-days-of-supply", "short-term-historical-days-of-supply",
    "long-term-historical-days-of-supply", "inv-age-0-to-30-days",
)


def planning_report(folder: Path, day: date, rows: Iterable[Mapping[str, object]]) -> Path:
    """``folder/planning-<day>.tsv``: a planning report of ``day`` (``PLANNING_COLUMNS``),
    one line per row given as {column: value}. A row needs its ``sku``; the snapshot date,
    marketplace US, ASIN ``B0<sku>`` and no sales or excess are filled in, every other cell
    is left empty, as Amazon leaves cells it has no figure for."""
    lines = ["\t".join(PLANNING_COLUMNS)]
    for row in rows:
        cells = {"snapshot-date": day.isoformat(), "marketplace": "US",
                 "units-shipped-t60": 0, "units-shipped-t90": 0,
                 "estimated-excess-quantity": 0, "asin": f"B0{row['sku']}", **row}
        lines.append("\t".join(str(cells.get(c, "")) for c in PLANNING_COLUMNS))
    path = folder / f"planning-{day}.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def serve_day(fake: FakeSpApi, sim: Simulation, i: int, folder: Path,
              marketplaces: Iterable[str], *, myi_charset: str | None = None) -> None:
    """Have ``fake`` serve what Amazon generates for day ``i`` of the demo seller, in each
    marketplace (codes: US, CA, ...): its three reports, written to ``folder/<i>`` first.
    The MYI report declares ``myi_charset`` (none, as Amazon's cp1252 one does not)."""
    planning, myi, stranded = write_day(sim, i, folder / str(i))
    for mp in marketplaces:
        mp_id = MARKETPLACE_IDS[mp]
        fake.set_document(PLANNING, mp_id,
                          planning.read_bytes().replace(b"\tUS\t", f"\t{mp}\t".encode()))
        fake.set_document(MYI, mp_id, myi.read_bytes(), charset=myi_charset)
        fake.set_document(STRANDED, mp_id, stranded.read_bytes())
