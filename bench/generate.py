"""Write a large, realistic GET_FBA_INVENTORY_PLANNING_DATA report for benchmarks.

The file has the live layout (``ipi.demo.PLANNING_HEADER``), is tab-separated
UTF-8 with LF line ends, holds one snapshot date and N rows with distinct SKUs,
numbers in plausible ranges, product names of typical Amazon length (about
60-150 characters, some accented), and the empty cells Amazon leaves (alert,
sales-price, sales-rank, estimated AIS, ...). It is built by one DuckDB
``COPY (SELECT ... FROM range(N)) TO ...`` statement, not a Python loop, so a
million rows take seconds. The output depends only on ``--rows``, ``--seed``
and ``--date`` (pseudo-random values come from ``hash``, not ``random()``).

    python -m bench.generate --rows 1000000 --out bench/out/planning-1m.tsv
    python -m bench.generate --rows 1000 --out /tmp/planning-1k.tsv   # the smallest

Without ``--out`` the file is ``bench/out/planning-<rows>.tsv`` (``planning-1m.tsv``
at the default size), wherever the command is run from.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

from ipi.demo import PLANNING_HEADER

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"  # git-ignored

_BRANDS = ["Amazon Basics", "Nordic Home", "Kitchenaire", "Bamboo & Co", "Lumière", "Zenwares",
           "Hearth+Hollow", "Brightlane", "Café Maison", "Terra Verde", "PureNest",
           "Outdoor Élan", "Ironclad Tools", "Little Otter", "Glow Studio", "Müller Haus"]
_ADJ = ["Premium", "Classic", "Rustic", "Crème", "Slim", "Deluxe", "Mini", "Extra Large",
        "Stainless Steel", "Ceramic", "Heavy Duty", "Portable", "Non-Stick", "Organic Cotton",
        "Waterproof", "Adjustable", "Foldable", "Rechargeable", "BPA-Free", "Handmade"]
_NOUNS = ["Coffee Mug", "Desk Lamp", "Electric Kettle", "Storage Jar", "Bath Towel Set",
          "Scented Candle", "Woven Basket", "Flower Vase", "Mixing Bowl", "Serving Tray",
          "Throw Pillow Cover", "Fleece Blanket", "Crêpe Pan", "French Press", "Knife Set",
          "Cutting Board", "Water Bottle", "Yoga Mat", "Phone Stand", "Laundry Hamper",
          "Shower Curtain", "Spice Rack", "Garden Hose Nozzle", "Dog Leash", "Cat Scratcher"]
_FEATURES = ["for Kitchen and Dining", "with Lid", "Dishwasher Safe", "Easy to Clean",
             "Gift for Women and Men", "for Home Office", "with Non-Slip Base",
             "Microwave Safe", "Eco-Friendly", "Space Saving", "for Travel and Camping",
             "with Carrying Handle", "Lead-Free", "Machine Washable", "Scratch Resistant",
             "with Wall Mount", "Leak Proof", "Long Lasting", "Ergonomic Grip",
             "Perfect for Holidays"]
_COLORS = ["Black", "White", "Matte Grey", "Sage Green", "Navy Blue", "Terracotta", "Natural",
           "Rose Gold", "Charcoal", "Ivory", "Mustard Yellow", "Clear"]
_SIZES = ["12 oz", "16 oz", "1.7 L", "8 Inch", "10 Inch", "12 x 18 Inch", "Queen", "King",
          "Set of 2", "Set of 4", "Pack of 6", "3-Piece", "Small", "Medium", "Large", "50 ft"]
_GROUPS = ["Home", "Kitchen", "Lawn and Patio", "Pet Products", "Sports", "Beauty", "Toys",
           "Office Product", "Home Improvement", "Baby Product"]
_ALERTS = ["Low traffic", "Low conversion"]


def _list(items: list[str]) -> str:
    return "[" + ", ".join("'" + s.replace("'", "''") + "'" for s in items) + "]"


def _pick(items: list[str], salt: int) -> str:
    """A pseudo-random element of ``items`` for row ``i``."""
    return f"{_list(items)}[1 + (hash(i, {salt}) % {len(items)})::INTEGER]"


def _u(salt: int) -> str:
    """A pseudo-random DOUBLE in [0, 1) for row ``i``."""
    return f"((hash(i, {salt}) % 1000003)::DOUBLE / 1000003)"


def _maybe(expr: str, salt: int, empty_share: float) -> str:
    """``expr``, or NULL (an empty cell) for about ``empty_share`` of the rows."""
    return f"CASE WHEN {_u(salt)} < {empty_share} THEN NULL ELSE {expr} END"


def select_sql(rows: int, snapshot: date, seed: int) -> str:
    s = seed * 1000
    # Base quantities per row, computed once in a subquery.
    base = f"""
        SELECT i,
          -- demand: heavy tail, most SKUs sell little
          floor(pow({_u(s + 1)}, 3) * 60)::BIGINT AS t30,
          -- stock: 0 .. a few thousand, many small
          floor(pow({_u(s + 2)}, 2.5) * 4000)::BIGINT AS avail,
          round(4.99 + pow({_u(s + 3)}, 2) * 195, 2) AS price,
          {_u(s + 4)} AS young_share,
          {_u(s + 5)} AS r5
        FROM range({rows}) t(i)
    """
    name = (
        f"{_pick(_BRANDS, s + 10)} || ' ' || {_pick(_ADJ, s + 11)} || ' ' || "
        f"{_pick(_NOUNS, s + 12)} || ', ' || {_pick(_FEATURES, s + 13)} || ', ' || "
        f"{_pick(_FEATURES, s + 14)} || ' - ' || {_pick(_COLORS, s + 15)} || ', ' || "
        f"{_pick(_SIZES, s + 16)} || CASE WHEN {_u(s + 17)} < 0.5 THEN ' (' || "
        f"{_pick(_ADJ, s + 18)} || ' Edition, Model ' || (1000 + i % 9000)::VARCHAR || ')' "
        "ELSE '' END"
    )
    daily = "greatest(t30 / 30.0, 0.02)"
    excess = f"greatest(0, round(avail * 1.05 - 90 * {daily}))::BIGINT"
    young = "floor(avail * young_share)::BIGINT"
    old = f"(avail - {young})"
    dos = f"least(round(avail / {daily}), 999)::BIGINT"
    exprs = {
        "snapshot-date": f"'{snapshot.isoformat()}'",
        "sku": "'SKU-' || lpad(i::VARCHAR, 8, '0') || '-' || "
               f"upper(substr(md5((i + {seed})::VARCHAR), 1, 4))",
        "fnsku": f"'X00' || upper(substr(md5((i + {seed})::VARCHAR), 5, 7))",
        "asin": f"'B0' || upper(substr(md5((i + {seed})::VARCHAR), 12, 8))",
        "product-name": name,
        "condition": f"CASE WHEN {_u(s + 20)} < 0.97 THEN 'New' ELSE 'Used - Like New' END",
        "available": "avail",
        "pending-removal-quantity": "CASE WHEN r5 < 0.03 THEN floor(avail * 0.5)::BIGINT "
                                    "ELSE 0 END",
        "inv-age-0-to-90-days": young,
        "inv-age-91-to-180-days": f"floor({old} * 0.6)::BIGINT",
        "inv-age-181-to-270-days": f"floor({old} * 0.25)::BIGINT",
        "inv-age-271-to-365-days": f"floor({old} * 0.1)::BIGINT",
        "inv-age-366-to-455-days": f"floor({old} * 0.03)::BIGINT",
        "inv-age-456-plus-days": f"({old} - floor({old} * 0.6)::BIGINT - floor({old} * 0.25)"
                                 f"::BIGINT - floor({old} * 0.1)::BIGINT - floor({old} * 0.03)"
                                 "::BIGINT)",
        "currency": "'USD'",
        "units-shipped-t7": "floor(t30 * 7 / 30.0)::BIGINT",
        "units-shipped-t30": "t30",
        "units-shipped-t60": "t30 * 2 + (i % 3)",
        "units-shipped-t90": "t30 * 3 + (i % 5)",
        "alert": _maybe(_pick(_ALERTS, s + 21), s + 22, 0.9),
        "your-price": "printf('%.2f', price)",
        "sales-price": _maybe("printf('%.2f', price * 0.9)", s + 23, 0.85),
        "recommended-action": f"CASE WHEN {excess} > 0 AND {old} > {young} "
                              "THEN 'Create removal order' "
                              f"WHEN {excess} > 0 THEN 'Create sales' "
                              f"WHEN {dos} < 14 THEN 'Restock' ELSE 'No action' END",
        "healthy-inventory-level": f"round(60 * {daily})::BIGINT",
        "sell-through": "printf('%.2f', (t30 * 3) / greatest(avail, 1))",
        "item-volume": f"printf('%.4f', 0.01 + {_u(s + 24)} * 2)",
        "volume-unit-measurement": "'cubic feet'",
        "storage-type": f"CASE WHEN {_u(s + 25)} < 0.9 THEN 'Standard' ELSE 'Oversize' END",
        "storage-volume": f"printf('%.2f', avail * (0.01 + {_u(s + 24)} * 2))",
        "marketplace": "'US'",
        "product-group": _pick(_GROUPS, s + 26),
        "sales-rank": _maybe(f"(1 + floor(pow({_u(s + 27)}, 2) * 2000000))::BIGINT", s + 28,
                             0.1),
        "days-of-supply": dos,
        "estimated-excess-quantity": excess,
        "weeks-of-cover-t30": "printf('%.1f', least(avail / greatest(t30 / 4.3, 0.1), 999))",
        "weeks-of-cover-t90": "printf('%.1f', least(avail / greatest(t30 * 3 / 12.9, 0.1), "
                              "999))",
        "estimated-ais-181-210-days": _maybe(f"printf('%.2f', {old} * 0.25 * 0.5)", s + 29, 0.7),
        "historical-days-of-supply": _maybe(f"printf('%.1f', {dos} * 0.9)", s + 30, 0.2),
        "fba-minimum-inventory-level": _maybe(f"round(14 * {daily})::BIGINT", s + 31, 0.4),
        "fba-inventory-level-health-status": f"CASE WHEN {excess} > 0 THEN 'Excess' "
                                             f"WHEN {dos} < 14 THEN 'Low stock' "
                                             "ELSE 'Healthy' END",
        "inbound-quantity": f"CASE WHEN {_u(s + 32)} < 0.2 THEN "
                            f"floor({_u(s + 33)} * 500)::BIGINT ELSE 0 END",
        "Total Reserved Quantity": "floor(avail * 0.04)::BIGINT",
        "unfulfillable-quantity": f"CASE WHEN {_u(s + 34)} < 0.1 THEN (1 + i % 4) ELSE 0 END",
    }
    missing = [h for h in PLANNING_HEADER if h not in exprs]
    if missing:  # ipi.demo added a column: give it a value here
        raise SystemExit(f"no generator for planning columns {missing}")
    cols = ",\n        ".join(f'{exprs[h]} AS "{h}"' for h in PLANNING_HEADER)
    # range() order is kept (preserve_insertion_order is on by default): no ORDER BY.
    return f"SELECT\n        {cols}\n    FROM ({base})"


def default_path(rows: int, folder: Path = OUT) -> Path:
    """``folder/planning-<rows>.tsv``, the rows as 1m, 100k or the plain number."""
    label = (f"{rows // 1_000_000}m" if rows % 1_000_000 == 0 else
             f"{rows // 1000}k" if rows % 1000 == 0 else str(rows))
    return folder / f"planning-{label}.tsv"


def generate(rows: int, out: Path, *, snapshot: date = date(2026, 3, 2), seed: int = 1,
             threads: int | None = None) -> Path:
    """Write the report to ``out`` (atomically) and return it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    con = duckdb.connect()
    try:
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        target = str(tmp).replace("'", "''")
        con.execute(
            f"COPY ({select_sql(rows, snapshot, seed)}) TO '{target}' "
            "(FORMAT csv, DELIMITER '\t', HEADER, QUOTE '', ESCAPE '', NULLSTR '')"
        )
    finally:
        con.close()
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path,
                    help="the file to write (default bench/out/planning-<rows>.tsv)")
    ap.add_argument("--date", type=date.fromisoformat, default=date(2026, 3, 2),
                    help="the snapshot date (default 2026-03-02)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    path = generate(args.rows, args.out or default_path(args.rows), snapshot=args.date,
                    seed=args.seed)
    size = path.stat().st_size
    print(f"wrote {path}: {args.rows:,} rows, {size / 1e6:.1f} MB "
          f"in {time.perf_counter() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
