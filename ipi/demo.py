"""A synthetic seller for ``ipi demo``, the tests and the benchmarks.

150 SKUs with lognormal demand, replenishment with lead times, and a story:
a dozen listings get stranded and stay so for six weeks, a bad purchase of
slow movers lands (excess jumps), then a removal order and listing fixes bring
the score back. Six weeks, because Amazon takes the better of recent and
long-term performance (ipi.score.window): a shorter incident would hold the
score over the threshold, and the demo would show only the warning. The
reports are written as Seller Central gives them: the live planning layout
(renamed and extra columns), an MYI report in cp1252, stranded reports that
are header-only when nothing is stranded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

# The planning report as Amazon emits it in 2026: renamed reserved column, the
# 365-plus bucket split, surcharge and health columns added.
PLANNING_HEADER = [
    "snapshot-date", "sku", "fnsku", "asin", "product-name", "condition", "available",
    "pending-removal-quantity", "inv-age-0-to-90-days", "inv-age-91-to-180-days",
    "inv-age-181-to-270-days", "inv-age-271-to-365-days", "inv-age-366-to-455-days",
    "inv-age-456-plus-days", "currency", "units-shipped-t7", "units-shipped-t30",
    "units-shipped-t60", "units-shipped-t90", "alert", "your-price", "sales-price",
    "recommended-action", "healthy-inventory-level", "sell-through", "item-volume",
    "volume-unit-measurement", "storage-type", "storage-volume", "marketplace",
    "product-group", "sales-rank", "days-of-supply", "estimated-excess-quantity",
    "weeks-of-cover-t30", "weeks-of-cover-t90", "estimated-ais-181-210-days",
    "historical-days-of-supply", "fba-minimum-inventory-level",
    "fba-inventory-level-health-status", "inbound-quantity", "Total Reserved Quantity",
    "unfulfillable-quantity",
]
MYI_HEADER = [
    "sku", "fnsku", "asin", "product-name", "condition", "your-price", "mfn-listing-exists",
    "mfn-fulfillable-quantity", "afn-listing-exists", "afn-warehouse-quantity",
    "afn-fulfillable-quantity", "afn-unsellable-quantity", "afn-reserved-quantity",
    "afn-total-quantity", "per-unit-volume", "afn-inbound-working-quantity",
    "afn-inbound-shipped-quantity", "afn-inbound-receiving-quantity",
    "afn-researching-quantity", "afn-reserved-future-supply", "afn-future-supply-buyable",
]
STRANDED_HEADER = [
    "primary-action", "date-stranded", "Date-to-take-auto-removal", "status-primary",
    "status-secondary", "error-message", "stranded-reason", "asin", "sku", "fnsku",
    "product-name", "condition", "fulfilled-by", "fulfillable-qty", "your-price",
    "unfulfillable-qty", "reserved-quantity", "inbound-shipped-qty",
]
_NOUNS = ["Mug", "Lamp", "Kettle", "Jar", "Towel", "Candle", "Basket", "Vase", "Bowl", "Tray",
          "Pillow", "Blanket", "Crêpe Pan", "Café Press", "Knife Set"]
_ADJ = ["Nordic", "Classic", "Rustic", "Crème", "Slim", "Deluxe", "Mini", "Large", "Bamboo",
        "Ceramic"]
# The story's events, in days before the last report day (tests and benchmarks read the
# same days).
STORY = {"buy": 30, "strand": 50, "remove": 12, "fix": 9}
STRANDED_SKUS = 14
_REASONS = [("Listing closed", "Relist"), ("Missing price", "Add price"),
            ("Listing error", "Fix listing")]


@dataclass
class Simulation:
    start: date  # the first report day
    days: int
    skus: list[str]
    asins: list[str]
    names: list[str]
    price: np.ndarray
    fulfillable: np.ndarray  # [warmup + days, n]: units in stock at the end of each day
    reserved: np.ndarray
    unsellable: np.ndarray
    inbound: np.ndarray
    pending_removal: np.ndarray
    sales: np.ndarray
    stranded: np.ndarray  # bool
    stranded_since: np.ndarray  # day index
    received_90: np.ndarray  # units received in the trailing 90 days
    received_180: np.ndarray  # ...180 days
    received_270: np.ndarray  # ...270 days: older units came before them all
    warmup: int

    def day(self, i: int) -> date:
        return self.start + timedelta(days=i)


def simulate(start: date, days: int = 120, *, n_skus: int = 150, seed: int = 7,
             story: bool = True) -> Simulation:
    """Simulate ``days`` report days, after a warm-up that gives them sales history."""
    rng = np.random.default_rng(seed)
    warm = 240  # long enough for the initial stock levels to settle
    total = warm + days
    n = n_skus
    lam = np.clip(rng.lognormal(np.log(1.6), 0.8, n), 0.05, 25.0)
    cover = rng.uniform(40, 100, n)
    slow = rng.random(n) < 0.2
    cover[slow] = rng.uniform(150, 300, slow.sum())
    late = rng.random(n) < 0.15  # a supplier that ships late: these SKUs stock out
    lead = np.where(late, 40, 12)
    price = np.round(rng.uniform(7, 60, n), 2)
    fulf = np.zeros((total, n), dtype=np.int64)
    res = np.zeros((total, n), dtype=np.int64)
    uns = np.zeros((total, n), dtype=np.int64)
    inb = np.zeros((total, n), dtype=np.int64)
    pend = np.zeros((total, n), dtype=np.int64)
    sales = np.zeros((total, n), dtype=np.int64)
    strd = np.zeros((total, n), dtype=bool)
    recv = np.zeros((total, n), dtype=np.int64)
    since = np.full(n, -1)
    stock = np.round(lam * cover).astype(np.int64)
    arrivals: dict[int, np.ndarray] = {}
    unsell = rng.integers(0, 3, n)
    # The story, in report-day indices.
    bad_buy = rng.choice(np.where(~slow)[0], 6, replace=False)
    strand_set = rng.choice(np.setdiff1d(np.arange(n), bad_buy), STRANDED_SKUS, replace=False)
    ev_buy, ev_strand, ev_remove, ev_fix = (days - STORY[k] for k in
                                            ("buy", "strand", "remove", "fix"))
    stranded_now = np.zeros(n, dtype=bool)
    removal = np.zeros(n, dtype=np.int64)
    for t in range(total):
        r = t - warm
        got = arrivals.pop(t, np.zeros(n, dtype=np.int64))
        if story and r == ev_buy:
            got = got + np.where(np.isin(np.arange(n), bad_buy),
                                 np.round(lam * 260).astype(np.int64) + 500, 0)
        if story and r == ev_strand:
            stranded_now[strand_set] = True
            since[strand_set] = t
        if story and r == ev_fix:
            stranded_now[:] = False
        if story and r == ev_remove:
            removal = np.where(np.isin(np.arange(n), bad_buy),
                               np.maximum(stock - np.round(lam * 40).astype(np.int64), 0), 0)
            stock -= removal
        if story and r == ev_remove + 3:
            removal[:] = 0
        stock += got
        demand = rng.poisson(lam * (1 + 0.15 * np.sin(2 * np.pi * t / 7)))
        sold = np.where(stranded_now, 0, np.minimum(stock, demand))
        stock -= sold
        on_order = sum(arrivals.values()) if arrivals else np.zeros(n, dtype=np.int64)
        reorder = (stock + on_order) < lam * np.where(late, 25, lead + 10)
        qty = np.where(reorder & ~slow, np.round(lam * cover).astype(np.int64), 0)
        qty = np.where(reorder & slow & ((stock + on_order) < lam * 50),
                       np.round(lam * cover).astype(np.int64), qty)
        for lt in np.unique(lead):
            mask = (lead == lt) & (qty > 0)
            if mask.any():
                arrivals.setdefault(t + int(lt), np.zeros(n, dtype=np.int64))
                arrivals[t + int(lt)] += np.where(mask, qty, 0)
        fulf[t], sales[t], strd[t], pend[t] = stock, sold, stranded_now, removal
        res[t] = np.round(stock * 0.04).astype(np.int64)
        uns[t] = unsell
        inb[t] = sum(arrivals.values()) if arrivals else 0
        recv[t] = got
    rec = np.cumsum(recv, axis=0)

    def trailing(w: int) -> np.ndarray:
        out = rec.copy()
        out[w:] = rec[w:] - rec[:-w]
        return out

    skus = [f"DEMO-{i:04d}" for i in range(n)]
    asins = [f"B0DEMO{i:04d}" for i in range(n)]
    names = [f"{_ADJ[i % len(_ADJ)]} {_NOUNS[(i * 7) % len(_NOUNS)]} {i}" for i in range(n)]
    return Simulation(start, days, skus, asins, names, price, fulf, res, uns, inb, pend, sales,
                      strd, since, trailing(90), trailing(180), trailing(270), warm)


def _window(a: np.ndarray, t: int, w: int) -> np.ndarray:
    return np.asarray(a[max(0, t - w + 1): t + 1].sum(axis=0))


@dataclass(frozen=True)
class _Day:
    """What every report of one report day reads from the simulation."""

    sim: Simulation
    i: int  # the report day
    t: int  # its row in the simulation's arrays
    on_hand: np.ndarray
    t7: np.ndarray
    t30: np.ndarray
    t60: np.ndarray
    t90: np.ndarray
    avg: np.ndarray  # the mean on hand of today and 30, 60, 90 days ago

    @property
    def day(self) -> date:
        return self.sim.day(self.i)


def _planning(d: _Day, folder: Path, report_id: int | None) -> Path:
    """Manage Inventory Health, named by report id as Seller Central names downloads."""
    sim, t = d.sim, d.t
    daily = np.maximum(d.t30 / 30.0, 0.02)
    rows = ["\t".join(PLANNING_HEADER)]
    for j in range(len(sim.skus)):
        avail = int(sim.fulfillable[t, j])
        if avail == 0:
            continue  # Amazon leaves most out-of-stock SKUs out of this report
        dos = min(avail / daily[j], 999.0)
        excess = max(0, round(int(d.on_hand[t, j]) - 90 * daily[j]))
        # First in, first out: the units in stock are the latest received.
        young = min(avail, int(sim.received_90[t, j]))
        old = avail - young
        b91 = min(old, int(sim.received_180[t, j] - sim.received_90[t, j]))
        b181 = min(old - b91, int(sim.received_270[t, j] - sim.received_180[t, j]))
        b271 = old - b91 - b181  # stock older than every receipt: from before the warm-up
        action = ("Create removal order" if excess and old > young else
                  "Create sales" if excess else "Restock" if dos < 14 else "No action")
        st = d.t90[j] / d.avg[j] if d.avg[j] > 0 else 0.0
        vals = {
            "snapshot-date": d.day.isoformat(), "sku": sim.skus[j], "fnsku": f"X00{j:07d}",
            "asin": sim.asins[j], "product-name": sim.names[j], "condition": "New",
            "available": avail, "pending-removal-quantity": int(sim.pending_removal[t, j]),
            "inv-age-0-to-90-days": young, "inv-age-91-to-180-days": b91,
            "inv-age-181-to-270-days": b181, "inv-age-271-to-365-days": b271,
            "inv-age-366-to-455-days": 0, "inv-age-456-plus-days": 0, "currency": "USD",
            "units-shipped-t7": int(d.t7[j]), "units-shipped-t30": int(d.t30[j]),
            "units-shipped-t60": int(d.t60[j]), "units-shipped-t90": int(d.t90[j]),
            "your-price": f"{sim.price[j]:.2f}", "recommended-action": action,
            "healthy-inventory-level": round(60 * daily[j]), "sell-through": f"{st:.2f}",
            "storage-type": "Standard", "storage-volume": f"{0.05 * avail:.2f}",
            "item-volume": "0.05", "volume-unit-measurement": "cubic feet",
            "historical-days-of-supply": f"{min(avail / max(d.t90[j] / 90, 0.01), 999):.1f}",
            "marketplace": "US", "days-of-supply": round(dos),
            "estimated-excess-quantity": excess, "inbound-quantity": int(sim.inbound[t, j]),
            "Total Reserved Quantity": int(sim.reserved[t, j]),
            "unfulfillable-quantity": int(sim.unsellable[t, j]),
            "fba-inventory-level-health-status": "Excess" if excess else "Healthy",
        }
        rows.append("\t".join(str(vals.get(h, "")) for h in PLANNING_HEADER))
    rid = report_id if report_id is not None else 50000000000 + d.i
    p = folder / f"{rid}.txt"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return p


def _myi(d: _Day, folder: Path, report_id: int | None) -> Path:
    """Manage FBA Inventory (active listings), every SKU, zero stock included."""
    sim, t = d.sim, d.t
    rows = ["\t".join(MYI_HEADER)]
    for j in range(len(sim.skus)):
        wh = int(d.on_hand[t, j])
        vals = {
            "sku": sim.skus[j], "fnsku": f"X00{j:07d}", "asin": sim.asins[j],
            "product-name": sim.names[j], "condition": "New",
            "your-price": f"{sim.price[j]:.2f}", "mfn-listing-exists": "No",
            "afn-listing-exists": "Yes", "afn-warehouse-quantity": wh,
            "afn-fulfillable-quantity": int(sim.fulfillable[t, j]),
            "afn-unsellable-quantity": int(sim.unsellable[t, j]),
            "afn-reserved-quantity": int(sim.reserved[t, j]),
            "afn-total-quantity": wh + int(sim.inbound[t, j]),
            "afn-inbound-shipped-quantity": int(sim.inbound[t, j]),
        }
        rows.append("\t".join(str(vals.get(h, "")) for h in MYI_HEADER))
    p = folder / f"Inventory_{d.day.isoformat()}.txt"
    # Seller Central writes this one in cp1252, with CRLF line ends.
    p.write_bytes(("\r\n".join(rows) + "\r\n").encode("cp1252"))
    return p


def _stranded(d: _Day, folder: Path, report_id: int | None) -> Path:
    """Stranded inventory: the SKUs stranded that day, with reason and since when."""
    sim, t = d.sim, d.t
    rows = ["\t".join(STRANDED_HEADER)]
    for j in np.where(sim.stranded[t])[0]:
        reason, action = _REASONS[j % len(_REASONS)]
        since = sim.day(int(sim.stranded_since[j]) - sim.warmup)
        vals = {
            "primary-action": action, "date-stranded": since.isoformat(),
            "status-primary": "Stranded", "error-message": reason, "stranded-reason": reason,
            "asin": sim.asins[j], "sku": sim.skus[j], "fnsku": f"X00{j:07d}",
            "product-name": sim.names[j], "condition": "New", "fulfilled-by": "Amazon",
            "fulfillable-qty": int(sim.fulfillable[t, j]), "your-price": f"{sim.price[j]:.2f}",
            "unfulfillable-qty": 0, "reserved-quantity": int(sim.reserved[t, j]),
            "inbound-shipped-qty": 0,
        }
        rows.append("\t".join(str(vals.get(h, "")) for h in STRANDED_HEADER))
    p = folder / f"stranded-{d.day:%Y%m%d}.tsv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return p


# One writer per report type, as ipi/reports/ holds one parser per report type.
WRITERS: tuple[Callable[[_Day, Path, int | None], Path], ...] = (_planning, _myi, _stranded)


def write_day(sim: Simulation, i: int, folder: Path, *, report_id: int | None = None) -> list[Path]:
    """Write the three reports of report day ``i`` into ``folder``, as a seller downloads them
    (``report_id``: the planning report's file name)."""
    folder.mkdir(parents=True, exist_ok=True)
    t = sim.warmup + i
    on_hand = sim.fulfillable + sim.reserved + sim.unsellable
    day = _Day(sim, i, t, on_hand, _window(sim.sales, t, 7), _window(sim.sales, t, 30),
               _window(sim.sales, t, 60), _window(sim.sales, t, 90),
               np.mean([on_hand[t - k] for k in (0, 30, 60, 90)], axis=0))
    return [write(day, folder, report_id) for write in WRITERS]


LEDGER_HEADER = [
    "Date", "FNSKU", "ASIN", "MSKU", "Title", "Disposition", "StartingWarehouseBalance",
    "InTransitBetweenWarehouses", "Receipts", "CustomerShipments", "CustomerReturns",
    "VendorReturns", "WarehouseTransferIn/Out", "Found", "Lost", "Damaged", "Disposed",
    "OtherEvents", "EndingWarehouseBalance", "UnknownEvents", "Location",
]


def ledger_text(sim: Simulation, first: date, last: date) -> str:
    """The daily inventory ledger (GET_LEDGER_SUMMARY_VIEW_DATA, by country) of [first, last],
    as far as the simulation (warm-up included) goes: a SELLABLE row per SKU and day, and a
    DEFECTIVE one where units are unsellable."""
    on_shelf = sim.fulfillable + sim.reserved
    lines = ["\t".join(LEDGER_HEADER)]
    for t in range(max(0, (first - sim.start).days + sim.warmup),
                   min(len(sim.sales), (last - sim.start).days + sim.warmup + 1)):
        d = f"{sim.day(t - sim.warmup):%m/%d/%Y}"
        for j, sku in enumerate(sim.skus):
            ending, sold = int(on_shelf[t, j]), int(sim.sales[t, j])
            before = int(on_shelf[t - 1, j]) if t else ending
            ident = f"{d}\tX00{j:07d}\t{sim.asins[j]}\t{sku}\t{sim.names[j]}"
            lines.append(f"{ident}\tSELLABLE\t{before}\t0\t{max(0, ending - before + sold)}\t"
                         f"{-sold}\t0\t0\t0\t0\t0\t0\t0\t0\t{ending}\t0\tUS")
            if sim.unsellable[t, j]:
                u = int(sim.unsellable[t, j])
                lines.append(f"{ident}\tDEFECTIVE\t{u}\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t{u}\t0\tUS")
    return "\n".join(lines) + "\n"
