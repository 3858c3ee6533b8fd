"""Bad report files, through the real load path: the right error, and nothing half-loaded.

Every scenario first loads a good planning report for US 2026-03-14, then drops a
bad file aimed at the same partition (a corrected download that went wrong), and
checks that the error names the input and that every table, the partition and
file registers, and the landing zone hold exactly what they held before.
"""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ipi.demo import PLANNING_HEADER
from ipi.errors import BadFile, BadInput, BadValue, MissingColumn, UnknownReport
from ipi.reports import REGISTRY, Column, normalize_header
from ipi.store import Store
from ipi.store.load import LoadResult, load_file

ACCOUNT = "acme"
DAY = date(2026, 3, 14)
PLANNING = "GET_FBA_INVENTORY_PLANNING_DATA"
GOLDEN = Path(__file__).resolve().parents[1] / "data" / "reports"
# A golden file per report type with count columns (the ledger has none: its events are
# signed), for a negative value to be put into.
COUNT_FILES = {PLANNING: "live-layout.tsv",
               "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA": "reference-header.tsv",
               "GET_STRANDED_INVENTORY_UI_DATA": "reference-header.tsv"}

GOOD_ROWS = [
    {"sku": "NB-TRAY-BAM-01", "fnsku": "X002K9LM3P", "asin": "B07XYZ1234",
     "product-name": "Bamboo Serving Tray, Large", "available": "124",
     "units-shipped-t60": "83", "units-shipped-t90": "120", "estimated-excess-quantity": "28"},
    {"sku": "CR-CANDLE-SOY-3PK", "fnsku": "X002P4QR7T", "asin": "B08QRS5678",
     "product-name": "Soy Wax Candle 3-Pack, Lavender & Cedar", "available": "310",
     "units-shipped-t60": "11", "units-shipped-t90": "15", "estimated-excess-quantity": "298"},
    {"sku": "KT-KETTLE-GOOSE-1L", "fnsku": "X002T8UV1W", "asin": "B0CDE90123",
     "product-name": "Gooseneck Kettle 1L, Matte Black", "available": "36",
     "units-shipped-t60": "2", "units-shipped-t90": "2", "estimated-excess-quantity": "0"},
]
# The same SKUs a day's download later would carry: had any of it reached the
# table, the planning rows would differ from the good load's.
NEWER_ROWS = [{**r, "available": str(int(r["available"]) - 5)} for r in GOOD_ROWS]

# Real headers of reports ipi does not read, as Seller Central downloads them.
RESERVED_HEADER = ["sku", "fnsku", "asin", "product-name", "reserved_qty",
                   "reserved_customerorders", "reserved_fc-transfers", "reserved_fc-processing"]
AFN_HEADER = ["seller-sku", "fulfillment-channel-sku", "asin", "condition-type",
              "Warehouse-Condition-code", "Quantity Available"]

# cp1252 names: the en dash (0x96) and the low-9 quote (0x84) are not in Latin-1.
CAFE = "Café Crème \u2013 2er Set"
PAN = "Crêpe-Pfanne 28 cm \u2013 Gußeisen „Größe L“"

_CONTENTS = {
    "fba_inventory_planning": "SELECT * FROM fba_inventory_planning ORDER BY ALL",
    "stranded_inventory": "SELECT * FROM stranded_inventory ORDER BY ALL",
    "fba_myi_inventory": "SELECT * FROM fba_myi_inventory ORDER BY ALL",
    "report_partition": "SELECT * FROM report_partition ORDER BY ALL",
    "ingested_file": "SELECT * FROM ingested_file ORDER BY ALL",
    "raw_file": "SELECT * FROM raw_file ORDER BY ALL",
}


def planning_tsv(rows: list[dict[str, str]], header: list[str] = PLANNING_HEADER,
                 *, day: str = "2026-03-14", marketplace: str = "US") -> str:
    """A live-layout planning report: the given values, the rest of the columns empty."""
    lines = ["\t".join(header)]
    for row in rows:
        vals = {"snapshot-date": day, "marketplace": marketplace, "condition": "New",
                "currency": "USD", **row}
        lines.append("\t".join(vals.get(h, "") for h in header))
    return "\n".join(lines) + "\n"


def drop(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / "drop" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def load(store: Store, path: Path) -> LoadResult:
    return load_file(store, ACCOUNT, path, ingest_day=DAY, default_marketplace="US")


def contents(store: Store) -> dict[str, Any]:
    """Everything a load writes: report tables, partition and file registers, landed bytes."""
    with store.read() as con:
        state: dict[str, Any] = {
            table: [tuple(r) for r in con.execute(sql).fetchall()]
            for table, sql in _CONTENTS.items()
        }
    raw = store.data_dir / "raw"
    landed = raw.rglob("*") if raw.exists() else []
    state["landed"] = sorted(str(p.relative_to(raw)) for p in landed)
    return state


def assert_rejected(store: Store, path: Path, error: type[BadInput]) -> str:
    """Load ``path``, expect ``error``, check the store is untouched; return the message."""
    before = contents(store)
    with pytest.raises(error) as info:
        load(store, path)
    assert type(info.value) is error
    assert contents(store) == before
    message = str(info.value)
    assert info.value.path == str(path)
    assert str(path) in message
    return message


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "ipi.duckdb", data_dir=tmp_path)


@pytest.fixture
def loaded_store(store: Store, tmp_path: Path) -> Store:
    """A store holding one good planning report: three SKUs for US on 2026-03-14."""
    good = drop(tmp_path, "planning-good.tsv", planning_tsv(GOOD_ROWS).encode())
    load(store, good)
    rows = store.query("SELECT sku, available FROM fba_inventory_planning ORDER BY sku")
    assert rows == [{"sku": "CR-CANDLE-SOY-3PK", "available": 310},
                    {"sku": "KT-KETTLE-GOOSE-1L", "available": 36},
                    {"sku": "NB-TRAY-BAM-01", "available": 124}]
    parts = store.query(
        "SELECT marketplace, report_type, snapshot_date, rows FROM report_partition")
    assert parts == [{"marketplace": "US", "report_type": PLANNING, "snapshot_date": DAY,
                      "rows": 3}]
    return store


def test_given_loaded_day_when_column_missing_then_missing_column_and_store_unchanged(
    loaded_store: Store, tmp_path: Path
) -> None:
    """Without `available`, MissingColumn names the file, the report type and the column."""
    header = [h for h in PLANNING_HEADER if h != "available"]
    path = drop(tmp_path, "planning-no-available.tsv", planning_tsv(NEWER_ROWS, header).encode())
    message = assert_rejected(loaded_store, path, MissingColumn)
    assert PLANNING in message
    assert "'available'" in message


def test_given_loaded_day_when_quantity_not_a_number_then_bad_value_and_store_unchanged(
    loaded_store: Store, tmp_path: Path
) -> None:
    """`available` = "twelve" on line 3 raises BadValue naming the column and line, not the
    value: a file's text never goes into a message."""
    rows = [NEWER_ROWS[0], {**NEWER_ROWS[1], "available": "twelve"}, NEWER_ROWS[2]]
    path = drop(tmp_path, "planning-twelve.tsv", planning_tsv(rows).encode())
    message = assert_rejected(loaded_store, path, BadValue)
    assert "'available'" in message
    assert "line 3" in message
    assert "twelve" not in message.removeprefix(str(path))


def test_given_loaded_day_when_a_count_is_negative_then_bad_value_names_column_and_line(
    loaded_store: Store, tmp_path: Path
) -> None:
    """`available` = -5 for the second SKU raises BadValue naming the column and line 3
    (the header is line 1), quoting nothing of the file (not the SKU, not the value);
    none of the file's rows load."""
    rows = [NEWER_ROWS[0], {**NEWER_ROWS[1], "available": "-5"}, NEWER_ROWS[2]]
    path = drop(tmp_path, "planning-negative.tsv", planning_tsv(rows).encode())
    message = assert_rejected(loaded_store, path, BadValue)
    assert message == (
        f"{path}: column 'available' of {PLANNING} counts units and cannot be negative, but "
        "line 3 has a negative value (1 in all); fix the file or download it again")


def _count_columns() -> list[Any]:
    return [pytest.param(rt, c, id=f"{rt}:{c.headers[0]}")
            for rt in COUNT_FILES for c in REGISTRY[rt].columns if c.count]


def test_only_report_types_with_a_golden_file_here_have_count_columns() -> None:
    """Every report type with count columns is covered by the test below."""
    assert {rt for rt, spec in REGISTRY.items()
            if any(c.count for c in spec.columns)} == set(COUNT_FILES)


@pytest.mark.parametrize(("report_type", "column"), _count_columns())
def test_given_any_count_column_when_negative_then_the_file_is_refused(
    store: Store, tmp_path: Path, report_type: str, column: Column
) -> None:
    """Each count column of each report type refuses -3 on the first row, naming the column
    and line 2 (never the row's text), and loads nothing."""
    lines = (GOLDEN / report_type / COUNT_FILES[report_type]).read_text().splitlines()
    rows = [line.split("\t") for line in lines]
    names = [normalize_header(h) for h in rows[0]]
    found = [names.index(normalize_header(h)) for h in column.headers
             if normalize_header(h) in names]
    if not found:  # a column this layout lacks: add it, empty but for the bad value
        rows = [[*rows[0], column.headers[0]], *([*r, ""] for r in rows[1:])]
        found = [len(rows[0]) - 1]
    rows[1][found[0]] = "-3"
    sku = rows[1][names.index("sku")]
    path = drop(tmp_path, "report.tsv", "".join("\t".join(r) + "\n" for r in rows).encode())
    message = assert_rejected(store, path, BadValue)
    assert f"column '{column.headers[0]}' of {report_type} counts units" in message
    assert "line 2 has a negative value (1 in all)" in message and sku not in message


def test_given_loaded_day_when_file_empty_then_bad_file_and_store_unchanged(
    loaded_store: Store, tmp_path: Path
) -> None:
    """A 0-byte file raises BadFile saying it is empty."""
    path = drop(tmp_path, "planning-2026-03-14.tsv", b"")
    assert "empty" in assert_rejected(loaded_store, path, BadFile)


def test_given_loaded_day_when_gzip_truncated_then_bad_file_and_store_unchanged(
    loaded_store: Store, tmp_path: Path
) -> None:
    """A gzip download cut short raises BadFile saying it is truncated."""
    whole = gzip.compress(planning_tsv(NEWER_ROWS).encode(), mtime=0)
    path = drop(tmp_path, "planning.tsv.gz", whole[: len(whole) * 2 // 3])
    assert "truncated" in assert_rejected(loaded_store, path, BadFile)


def test_given_loaded_day_when_last_line_cut_short_then_bad_file_and_store_unchanged(
    loaded_store: Store, tmp_path: Path
) -> None:
    """A last line that stops mid-row raises BadFile naming it; the rows above are not loaded."""
    text = planning_tsv(NEWER_ROWS)
    last = text.rstrip("\n").rsplit("\n", 1)[1]
    cut = text[: len(text) - 1 - len(last) // 2]  # half of the last row, no newline
    assert cut.count("\n") == 3 and cut.rsplit("\n", 1)[1].count("\t") < len(PLANNING_HEADER) - 1
    path = drop(tmp_path, "planning-cut.tsv", cut.encode())
    message = assert_rejected(loaded_store, path, BadFile)
    assert "line 4" in message
    assert "truncated" in message


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("\t".join(RESERVED_HEADER) + "\n" + "\t".join(
            ["NB-TRAY-BAM-01", "X002K9LM3P", "B07XYZ1234", "Bamboo Serving Tray, Large",
             "6", "4", "2", "0"]) + "\n", id="reserved-inventory"),
        pytest.param("\t".join(AFN_HEADER) + "\n" + "\t".join(
            ["NB-TRAY-BAM-01", "X002K9LM3P", "B07XYZ1234", "NewItem", "SELLABLE", "124"])
            + "\n", id="afn-inventory"),
    ],
)
def test_given_loaded_day_when_header_unknown_then_unknown_report_and_store_unchanged(
    loaded_store: Store, tmp_path: Path, text: str
) -> None:
    """A header that matches no report type ipi reads raises UnknownReport."""
    path = drop(tmp_path, "report.txt", text.encode())
    assert "matches no report type" in assert_rejected(loaded_store, path, UnknownReport)


def test_given_loaded_day_when_report_saved_as_csv_then_unknown_report_says_so(
    loaded_store: Store, tmp_path: Path
) -> None:
    """Opened in a spreadsheet and saved as CSV: the error says it is comma-separated."""
    text = planning_tsv(NEWER_ROWS).replace("\t", ",")
    path = drop(tmp_path, "report.csv", text.encode())
    assert "comma-separated" in assert_rejected(loaded_store, path, UnknownReport)


def test_given_loaded_day_when_spreadsheet_dropped_then_bad_file_says_so(
    loaded_store: Store, tmp_path: Path
) -> None:
    """An xlsx (a zip) is not read as text: the error says to download the text report."""
    path = drop(tmp_path, "Inventory.xlsx", b"PK\x03\x04" + b"\x00" * 200)
    assert "spreadsheet" in assert_rejected(loaded_store, path, BadFile)


def test_given_loaded_day_when_sku_listed_twice_then_bad_file_and_store_unchanged(
    loaded_store: Store, tmp_path: Path
) -> None:
    """One SKU twice for the same day and marketplace raises BadFile saying so, without the
    SKU: a file's text never goes into a message."""
    rows = [*NEWER_ROWS, {**NEWER_ROWS[0], "available": "99"}]
    path = drop(tmp_path, "planning-dup.tsv", planning_tsv(rows).encode())
    message = assert_rejected(loaded_store, path, BadFile)
    assert "NB-TRAY-BAM-01" not in message
    assert "one sku appears 2 times on one day" in message


def test_given_cp1252_rows_under_ascii_header_when_loaded_then_accented_names_stored(
    store: Store, tmp_path: Path
) -> None:
    """A cp1252 file with a plain ASCII header is decoded as cp1252, not judged by its header."""
    rows = [
        {"sku": "DE-CAFE-CREME-2", "asin": "B07XYZ1234", "product-name": CAFE,
         "available": "40", "units-shipped-t60": "49", "units-shipped-t90": "73",
         "estimated-excess-quantity": "0", "currency": "EUR"},
        {"sku": "DE-CREPE-PAN-28", "asin": "B08GHJ2345",
         "product-name": PAN, "available": "150",
         "units-shipped-t60": "9", "units-shipped-t90": "14",
         "estimated-excess-quantity": "137", "currency": "EUR"},
    ]
    data = planning_tsv(rows, marketplace="DE").encode("cp1252")
    header, body = data.split(b"\n", 1)
    assert header.isascii() and not body.isascii()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    path = drop(tmp_path, "planning-de.tsv", data)

    result = load(store, path)

    assert (result.report_type, result.rows, result.partitions) == (PLANNING, 2, [("DE", DAY)])
    assert store.query(
        "SELECT marketplace, sku, product_name, available FROM fba_inventory_planning ORDER BY sku"
    ) == [
        {"marketplace": "DE", "sku": "DE-CAFE-CREME-2", "product_name": CAFE,
         "available": 40},
        {"marketplace": "DE", "sku": "DE-CREPE-PAN-28",
         "product_name": PAN, "available": 150},
    ]
    assert store.query("SELECT original_name, charset, rows FROM ingested_file") == [
        {"original_name": "planning-de.tsv", "charset": "cp1252", "rows": 2}
    ]


@pytest.mark.parametrize(
    ("name", "neighbour"),
    [("planning [DE].tsv", "planning D.tsv"), ("planning?.tsv", "planning2.tsv"),
     ("planning*.tsv", "planning-old.tsv")],
)
def test_given_glob_like_file_name_when_loaded_then_only_that_file_is_read(
    store: Store, tmp_path: Path, name: str, neighbour: str
) -> None:
    """A name with glob characters loads its own rows, never those of the files it would match."""
    other = [{"sku": "ZZ-NEIGHBOUR-1", "asin": "B0ZZZ00001", "available": "1",
              "units-shipped-t60": "0", "units-shipped-t90": "0",
              "estimated-excess-quantity": "0"}]
    drop(tmp_path, neighbour, planning_tsv(other).encode())
    path = drop(tmp_path, name, planning_tsv(GOOD_ROWS).encode())

    result = load(store, path)

    assert result.rows == 3
    assert store.query("SELECT sku FROM fba_inventory_planning ORDER BY sku") == [
        {"sku": "CR-CANDLE-SOY-3PK"}, {"sku": "KT-KETTLE-GOOSE-1L"}, {"sku": "NB-TRAY-BAM-01"}]
