"""Amazon's fee forecast (Data Kiosk economicsPreview): the JSONL parser by hand, the store
on a real DuckDB file, and the reader the fee pages use."""

from __future__ import annotations

import gzip
import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipi.errors import BadFile
from ipi.fees.amazon import (
    FEE_TYPES,
    AmazonForecast,
    amazon_forecast,
    fee_type,
    fetched_today,
    last_attempts,
    parse_preview,
    record_attempt,
    store_preview,
)
from ipi.sources.archive import Limits, inflate
from ipi.store import Store

US = "ATVPDKIKX0DER"
ASOF = date(2026, 12, 7)
START, END = date(2026, 12, 7), date(2026, 12, 15)


def money(amount: Any, currency: str = "USD") -> dict[str, Any]:
    return {"amount": amount, "currencyCode": currency}


def charge(total: Any = None, amount: Any = None, currency: str = "USD") -> dict[str, Any]:
    detail: dict[str, Any] = {"quantity": 1}
    if total is not None:
        detail["totalAmount"] = money(total, currency)
    if amount is not None:
        detail["amount"] = money(amount, currency)
    return {"aggregatedDetail": detail}


def record(sku: str, fees: dict[str, list[dict[str, Any]]], mp: str = US) -> dict[str, Any]:
    return {"startDate": "2026-12-07", "endDate": "2026-12-15", "marketplaceId": mp,
            "msku": sku, "fnsku": f"X00{sku[-1]}",
            "fees": [{"feeTypeName": name, "charges": charges} for name, charges in fees.items()]}


def same(got: dict[str, dict[str, float]], want: dict[str, dict[str, float]]) -> bool:
    """The same SKUs and fee types, the amounts equal to the cent's rounding."""
    return got.keys() == want.keys() and all(got[k] == pytest.approx(want[k]) for k in want)


def jsonl(*records: Any) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n"
                    for r in records)


# SKU-1: aged 12.50 + 3.25 (two charges) = 15.75; utilization 4.00 (amount, no total)
# SKU-2: low inventory 0.89 x 2 records = 1.78; aged 100.00
# SKU-3: only a fee type ipi does not forecast: no SKU at all
PREVIEW = jsonl(
    record("SKU-1", {"AGED_INVENTORY_SURCHARGE": [charge(12.5), charge(3.25)],
                     "Storage Utilization Surcharge": [charge(amount=4.0)]}),
    record("SKU-2", {"Low Inventory Level Fee": [charge(0.89)],
                     "aged-inventory-surcharge": [charge(total=100, amount=1)]}),
    record("SKU-2", {"LOW_INVENTORY_LEVEL_FEE": [charge(0.89)]}),
    record("SKU-3", {"FBA_FULFILLMENT_FEE": [charge(3.22)]}),
)
BY_SKU = {"SKU-1": {"aged": 15.75, "utilization": 4.0},
          "SKU-2": {"aged": 100.0, "low_inventory": 1.78}}
TOTALS = {"aged": 115.75, "utilization": 4.0, "low_inventory": 1.78}


@pytest.mark.parametrize("name, kind", [
    ("AGED_INVENTORY_SURCHARGE", "aged"),
    ("Aged Inventory Surcharge", "aged"),
    ("aged-inventory surcharge ", "aged"),
    ("LOW_INVENTORY_LEVEL_FEE", "low_inventory"),
    ("Low-Inventory-Level Fee", "low_inventory"),
    ("STORAGE_UTILIZATION_SURCHARGE", "utilization"),
    ("storage utilization surcharge", "utilization"),
    ("FBA_FULFILLMENT_FEE", None),
    ("", None),
    (None, None),
    (12, None),
])
def test_fee_names_come_as_the_enum_or_in_words(name: object, kind: str | None) -> None:
    """Amazon's three fee names map to ipi's, however spelled; anything else is no fee."""
    assert fee_type(name) == kind


def test_amounts_are_summed_per_sku_and_fee_type() -> None:
    """totalAmount (else amount) summed over charges and a SKU's records; a fee type ipi
    does not forecast is ignored, and a SKU with only such fees is absent."""
    parsed = parse_preview(PREVIEW, US)
    assert same(parsed.by_sku, BY_SKU)
    assert set(parsed.by_sku) == {"SKU-1", "SKU-2"}
    assert parsed.currency == "USD"
    assert (parsed.records, parsed.bad_lines, parsed.other_marketplace) == (4, 0, 0)
    assert set(FEE_TYPES) == {"aged", "low_inventory", "utilization"}


def test_gzip_bom_crlf_and_blank_lines_are_read() -> None:
    """Gzip is known by its magic bytes; a BOM, CRLF and blank lines are no records."""
    text = b"\xef\xbb\xbf" + PREVIEW.replace(b"\n", b"\r\n\r\n")
    assert same(parse_preview(gzip.compress(text), US).by_sku, BY_SKU)
    two_members = gzip.compress(PREVIEW[:10]) + gzip.compress(PREVIEW[10:])
    assert same(parse_preview(two_members, US).by_sku, BY_SKU)


def test_bad_lines_are_counted_and_skipped_whole_and_never_quoted() -> None:
    """A line that is not a record is skipped whole (a good fee before a bad charge on
    it counts for nothing); the rest are read."""
    secret = "SELLER-PRIVATE-LINE"
    bad = [
        f"{{not json {secret}".encode(),
        json.dumps([secret]).encode(),                              # not an object
        json.dumps({"fnsku": secret, "fees": []}).encode(),         # no msku
        json.dumps(record("SKU-9", {"AGED_INVENTORY_SURCHARGE": [charge(1.0)],
                                    "LOW_INVENTORY_LEVEL_FEE": [charge("lots")]})).encode(),
        json.dumps(record("SKU-9", {"AGED_INVENTORY_SURCHARGE": [charge(True)]})).encode(),
        json.dumps(record("SKU-9", {"AGED_INVENTORY_SURCHARGE": [{"x": 1}]})).encode(),
        json.dumps(record("SKU-9", {"AGED_INVENTORY_SURCHARGE": [charge(1.0, currency="EUR")]}
                          )).encode(),                              # another currency
        json.dumps({"msku": "SKU-9", "fees": {"a": 1}}).encode(),
        b'{"msku": "SKU-9", "fees": [{"feeTypeName": "AGED_INVENTORY_SURCHARGE", '
        b'"charges": [{"aggregatedDetail": {"totalAmount": {"amount": NaN}}}]}]}',
        b"\xff\xfe not utf-8",
    ]
    parsed = parse_preview(jsonl(*bad[:5], *jsonl().splitlines(), PREVIEW, *bad[5:]), US)
    assert same(parsed.by_sku, BY_SKU)
    assert parsed.bad_lines == len(bad)
    unreadable = [b for b in bad if b"EUR" not in b]  # alone, EUR is the document's currency
    with pytest.raises(BadFile) as info:
        parse_preview(jsonl(*unreadable), US)
    assert secret not in str(info.value) and "\n" not in str(info.value)
    assert "9 line(s)" in str(info.value)


def test_numeric_strings_count_and_records_of_another_marketplace_are_left_out() -> None:
    parsed = parse_preview(jsonl(
        record("SKU-1", {"AGED_INVENTORY_SURCHARGE": [charge("2.50")]}),
        record("SKU-1", {"AGED_INVENTORY_SURCHARGE": [charge(99.0)]}, mp="A2EUQ1WTGCTBG2"),
        {**record("SKU-2", {"AGED_INVENTORY_SURCHARGE": [charge(1.0)]}), "marketplaceId": None},
    ), US)
    assert parsed.by_sku == {"SKU-1": {"aged": 2.5}, "SKU-2": {"aged": 1.0}}
    assert (parsed.records, parsed.other_marketplace, parsed.bad_lines) == (2, 1, 0)


def test_a_gzip_bomb_is_refused_before_it_fills_memory() -> None:
    """32 MiB of zeros gzip to ~32 KB (1000:1): refused past 100:1 once over 8 MiB."""
    bomb = gzip.compress(b"\0" * (32 << 20), compresslevel=9)
    with pytest.raises(BadFile, match="gzip bomb") as info:
        parse_preview(bomb, US)
    assert "\n" not in str(info.value)
    small = Limits(member_bytes=1 << 20, total_bytes=1 << 20, ratio=10**6)
    with pytest.raises(BadFile, match="1 MB"):
        inflate(gzip.compress(b"x" * (2 << 20)), small)  # the absolute cap, whatever the ratio
    with pytest.raises(BadFile, match="over 1 MB"):
        inflate(b"x" * (2 << 20), small)  # uncompressed, too big to read at all


def test_damaged_gzip_is_bad_input() -> None:
    packed = gzip.compress(PREVIEW)
    with pytest.raises(BadFile, match="truncated"):
        parse_preview(packed[:-20], US)
    with pytest.raises(BadFile, match="damaged"):
        parse_preview(packed[:12] + b"\0" * 30 + packed[42:], US)
    with pytest.raises(BadFile, match="after its end"):
        parse_preview(packed + b"trailing", US)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=400),
                 st.lists(st.text(max_size=80), max_size=8).map(
                     lambda xs: "\n".join(xs).encode()),
                 st.binary(max_size=200).map(lambda b: gzip.compress(b)[:len(b) % 40 + 10])))
def test_any_bytes_parse_or_are_bad_input(content: bytes) -> None:
    """Whatever Amazon's URL serves, the parser returns or raises BadFile; nothing else."""
    try:
        parsed = parse_preview(content, US)
    except BadFile:
        return
    assert all(isinstance(v, float) for fees in parsed.by_sku.values() for v in fees.values())


# -- the store ------------------------------------------------------------------------------


def read(store: Store, on: date, account: str = "acme") -> AmazonForecast | None:
    with store.read() as con:
        return amazon_forecast(con, account, "US", on)


def snapshot(store: Store) -> list[list[dict[str, Any]]]:
    return [store.query(f"SELECT * FROM {t} ORDER BY ALL")
            for t in ("amazon_forecast", "amazon_forecast_fee", "raw_file")]


def test_a_stored_preview_reads_back_with_its_totals(fresh_db: Store) -> None:
    """By SKU as parsed; totals 15.75 + 100 = 115.75 aged, 4 utilization, 1.78 low."""
    packed = gzip.compress(PREVIEW, mtime=0)
    stored = store_preview(fresh_db, "acme", "US", ASOF, START, END, packed,
                           marketplace_id=US, query_id="q-1")
    assert (stored.skus, stored.rows, stored.bad_lines, stored.skipped) == (2, 4, 0, False)
    got = read(fresh_db, ASOF)
    assert got is not None
    assert (got.marketplace, got.asof, got.start, got.end, got.currency) == (
        "US", ASOF, START, END, "USD")
    assert same(got.by_sku, BY_SKU)
    assert got.totals == pytest.approx(TOTALS)
    assert read(fresh_db, date(2026, 12, 6)) is None  # fetched later than that day
    assert read(fresh_db, date(2027, 1, 1)) == got  # the newest on or before
    assert read(fresh_db, ASOF, account="other") is None
    # The bytes as served are in the landing zone, named by their sha256.
    raw = fresh_db.query("SELECT * FROM raw_file")
    assert len(raw) == 1 and raw[0]["sha256"] == stored.sha256
    assert (fresh_db.data_dir / raw[0]["landing_path"]).read_bytes() == packed


def test_the_same_preview_twice_changes_nothing(fresh_db: Store) -> None:
    store_preview(fresh_db, "acme", "US", ASOF, START, END, PREVIEW, marketplace_id=US)
    before = snapshot(fresh_db)
    again = store_preview(fresh_db, "acme", "US", ASOF, START, END, PREVIEW, marketplace_id=US)
    assert again.skipped and snapshot(fresh_db) == before
    store_preview(fresh_db, "acme", "US", date(2026, 12, 8), START, END, None)
    empty = snapshot(fresh_db)
    assert store_preview(fresh_db, "acme", "US", date(2026, 12, 8), START, END, None).skipped
    assert snapshot(fresh_db) == empty


def test_a_new_preview_replaces_the_days_and_leaves_the_others(fresh_db: Store) -> None:
    store_preview(fresh_db, "acme", "US", ASOF, START, END, PREVIEW, marketplace_id=US)
    newer = jsonl(record("SKU-7", {"AGED_INVENTORY_SURCHARGE": [charge(7.0)]}))
    store_preview(fresh_db, "acme", "US", ASOF, START, END, newer, marketplace_id=US)
    got = read(fresh_db, ASOF)
    assert got is not None and got.by_sku == {"SKU-7": {"aged": 7.0}}
    assert got.totals == {"aged": 7.0}
    store_preview(fresh_db, "acme", "US", date(2026, 12, 8), date(2026, 12, 8), END, PREVIEW,
                  marketplace_id=US)
    assert read(fresh_db, ASOF) == got  # the day before keeps its own
    assert fresh_db.query("SELECT count(*) AS n FROM amazon_forecast_fee") == [{"n": 5}]


def test_no_data_is_an_empty_forecast_not_an_older_one(fresh_db: Store) -> None:
    """Amazon's DONE without a document: nothing to forecast, shown as such for the day."""
    store_preview(fresh_db, "acme", "US", ASOF, START, END, PREVIEW, marketplace_id=US)
    store_preview(fresh_db, "acme", "US", date(2026, 12, 8), date(2026, 12, 8), END, None)
    got = read(fresh_db, date(2026, 12, 9))
    assert got == AmazonForecast("US", date(2026, 12, 8), date(2026, 12, 8), END, None, {}, {})


def test_an_unreadable_document_stores_nothing(fresh_db: Store) -> None:
    store_preview(fresh_db, "acme", "US", ASOF, START, END, PREVIEW, marketplace_id=US)
    before = snapshot(fresh_db)
    with pytest.raises(BadFile):
        store_preview(fresh_db, "acme", "US", ASOF, START, END, b"<html>oops</html>\n")
    assert snapshot(fresh_db) == before


def test_once_a_day_holds_after_an_answer_not_after_a_failure(fresh_db: Store) -> None:
    """ok and no_data settle the day; any other outcome is asked again."""
    def settled(day: date) -> bool:
        with fresh_db.read() as con:
            return fetched_today(con, "acme", "US", day)

    for outcome in ("error", "fatal", "cancelled", "missing"):
        record_attempt(fresh_db, "acme", "US", ASOF, outcome, reason=f"it was {outcome}")
        assert not settled(ASOF)
    record_attempt(fresh_db, "acme", "US", ASOF, "no_data", query_id="q-9")
    assert settled(ASOF) and not settled(date(2026, 12, 8))
    sha = record_attempt(fresh_db, "acme", "US", date(2026, 12, 8), "fatal",
                         reason="Amazon could not run query q-10 (FATAL)",
                         document=b'{"errors": []}')
    with fresh_db.read() as con:
        last = last_attempts(con, "acme")
    assert [(a.marketplace, a.asof, a.outcome) for a in last] == [
        ("US", date(2026, 12, 8), "fatal")]
    kept = fresh_db.query("SELECT landing_path FROM raw_file WHERE sha256 = $sha", {"sha": sha})
    assert (fresh_db.data_dir / kept[0]["landing_path"]).read_bytes() == b'{"errors": []}'
    with pytest.raises(ValueError, match="outcome"):
        record_attempt(fresh_db, "acme", "US", ASOF, "splendid")  # type: ignore[arg-type]
